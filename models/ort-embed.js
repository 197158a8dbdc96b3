#!/usr/bin/env node
/**
 * Runs ONNX towers in onnxruntime-node (what the service uses) for models/export.py's check:
 *
 *   node models/ort-embed.js DIR
 *
 * DIR/job.json: { "runs": [{ "name", "model", "input", "output", "dtype": "float32"|"int64",
 * "shape": [...], "file" }] }, each file holding the input tensor as raw little-endian bytes.
 * Writes DIR/out.json: { name: { "dims": [...], "data": [...] } } (float32 → JSON number is exact).
 * Exit 1 with the error on stderr when a model fails to load or run.
 */
'use strict';
const fs = require('node:fs');
const path = require('node:path');

let ort;
try {
  ort = require('onnxruntime-node');
} catch (e) {
  console.error(`onnxruntime-node is not installed (run \`npm ci\` in the repository): ${e.message}`);
  process.exit(3);
}

(async () => {
  const dir = process.argv[2];
  if (!dir) throw new Error('usage: node models/ort-embed.js DIR');
  const job = JSON.parse(fs.readFileSync(path.join(dir, 'job.json'), 'utf8'));
  const sessions = new Map();
  const out = {};
  for (const run of job.runs) {
    if (!sessions.has(run.model)) sessions.set(run.model, await ort.InferenceSession.create(run.model));
    const session = sessions.get(run.model);
    const bytes = fs.readFileSync(path.join(dir, run.file));
    const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length); // an aligned copy
    const data = run.dtype === 'float32' ? new Float32Array(ab) : new BigInt64Array(ab);
    const feeds = { [run.input]: new ort.Tensor(run.dtype, data, run.shape) };
    // Transformers.js text towers may also take attention_mask: 1 up to and including the first
    // end-of-text token (49407), 0 after, as Hugging Face's tokenizer makes it.
    if (session.inputNames.includes('attention_mask') && run.dtype === 'int64') {
      const [batch, len] = run.shape;
      const mask = new BigInt64Array(batch * len);
      for (let b = 0; b < batch; b++) {
        let on = true;
        for (let i = 0; i < len; i++) {
          mask[b * len + i] = on ? 1n : 0n;
          if (data[b * len + i] === 49407n) on = false;
        }
      }
      feeds.attention_mask = new ort.Tensor('int64', mask, run.shape);
    }
    const result = await session.run(feeds);
    const t = result[run.output];
    if (!t) throw new Error(`${run.model} has no output "${run.output}" (outputs: ${session.outputNames.join(', ')})`);
    out[run.name] = { dims: t.dims, data: Array.from(t.data) };
  }
  fs.writeFileSync(path.join(dir, 'out.json'), JSON.stringify(out));
})().catch((e) => {
  console.error(e && e.stack ? e.stack : String(e));
  process.exit(1);
});
