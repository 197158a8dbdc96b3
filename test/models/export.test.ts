/**
 * models/export.py on the committed tiny model: its TorchScript file and the same weights as a
 * plain state_dict. Each export must pass export.py's own check, and its ONNX towers must give the
 * committed tiny bundle's embeddings in onnxruntime-node. Run by the project's venv (torch 2), as
 * `npm run models -- export` runs it. Hugging Face folders made by transformers, exported and
 * compared with transformers' own CLIPModel, are test/models/transformers.test.ts.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { REPO_ROOT, TINY_MODEL_DIR } from '../../src/paths';
import { cachedFixture } from '../helpers/fixture-cache';
import { venvPython } from '../helpers/python';
import { BPE_VOCAB } from '../helpers/shared';
import { tempDir } from '../helpers/temp';

const PYTHON = venvPython();
const EXPORT = path.join(REPO_ROOT, 'models', 'export.py');
const TINY_PT = path.join(TINY_MODEL_DIR, 'torch', 'model.pt');

function run(cmd: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    // One thread each: the tests run side by side, and the tiny model gains nothing from more.
    const child = spawn(cmd, args, { cwd: REPO_ROOT, env: { ...process.env, CLIP_VOCAB: BPE_VOCAB(), OMP_NUM_THREADS: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const tmp = (): string => tempDir('clipql-export-');

/** Deterministic pixels and ids, the same for both bundles. */
function inputs() {
  const s = 336;
  const pixels = new Float32Array(2 * 3 * s * s);
  let seed = 7;
  for (let i = 0; i < pixels.length; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    pixels[i] = (seed / 2 ** 32) * 4 - 2;
  }
  const rows = [
    [49406, 320, 1125, 539, 320, 2368, 49407],
    [49406, 320, 22697, 49407],
  ];
  const ids = new BigInt64Array(2 * 77);
  rows.forEach((r, b) => r.forEach((v, i) => (ids[b * 77 + i] = BigInt(v))));
  return { pixels: new ort.Tensor('float32', pixels, [2, 3, s, s]), ids: new ort.Tensor('int64', ids, [2, 77]) };
}

async function embeddings(bundle: string) {
  const { pixels, ids } = inputs();
  const vision = await ort.InferenceSession.create(path.join(bundle, 'onnx', 'vision_model.onnx'));
  const text = await ort.InferenceSession.create(path.join(bundle, 'onnx', 'text_model.onnx'));
  assert.deepEqual([vision.inputNames, vision.outputNames, text.inputNames, text.outputNames], [['pixel_values'], ['image_embeds'], ['input_ids'], ['text_embeds']]);
  const image = (await vision.run({ pixel_values: pixels })).image_embeds!.data as Float32Array;
  const txt = (await text.run({ input_ids: ids })).text_embeds!.data as Float32Array;
  return { image, text: txt };
}

async function assertSameEmbeddings(exported: string): Promise<void> {
  const a = await embeddings(exported);
  const b = await embeddings(TINY_MODEL_DIR);
  for (const k of ['image', 'text'] as const) {
    assert.equal(a[k].length, b[k].length);
    let worst = 0;
    let at = 0;
    for (let i = 0; i < a[k].length; i++) {
      const d = Math.abs(a[k][i]! - b[k][i]!);
      if (d > worst) [worst, at] = [d, i];
    }
    assert.ok(worst <= 1e-4, `${k} embeddings: index ${at}: exported ${a[k][at]}, committed ${b[k][at]} (|diff| ${worst} > 1e-4)`);
  }
}

// The tiny weights as a torch.save'd {"state_dict": ...}.
const TO_STATE_DICT = String.raw`
import sys, torch
torch.save({"state_dict": torch.jit.load(sys.argv[1], map_location="cpu").state_dict()}, sys.argv[2])
`;

describe('models/export.py', { concurrency: 2 }, () => {
  // Made once per content of the tiny model and the script (../helpers/fixture-cache.ts); read-only here.
  const prepare = () =>
    cachedFixture('tiny-state-dict', { pythons: [PYTHON], files: [TINY_PT], args: [TO_STATE_DICT] }, async (dir) => {
      mkdirSync(dir);
      const r = await run(PYTHON, ['-c', TO_STATE_DICT, TINY_PT, path.join(dir, 'weights.pth')]);
      assert.equal(r.code, 0, r.stderr);
    }).then((dir) => path.join(dir, 'weights.pth'));

  test('converts the tiny TorchScript model; the check passes; the bundle matches the committed one', async () => {
    const out = path.join(tmp(), 'tiny-export');
    const r = await run(PYTHON, [EXPORT, TINY_PT, '--out', out]);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /rebuilt vs original: max diff image_embeds 0, text_embeds 0/);
    assert.match(r.stdout, /ONNX vs PyTorch: max diff image_embeds \S+, text_embeds \S+/);
    assert.match(r.stdout, /check passed \(tolerance 0\.0001\)/);
    for (const f of ['config.json', 'preprocessor_config.json', 'tokenizer_config.json', 'special_tokens_map.json', 'vocab.json', 'merges.txt', 'torch/model.pt']) {
      assert.ok(existsSync(path.join(out, f)), `${f} missing`);
    }
    assert.ok(!existsSync(path.join(path.dirname(out), '.tiny-export.export-partial')), 'the partial folder was renamed into place');
    const config = JSON.parse(readFileSync(path.join(out, 'config.json'), 'utf8'));
    assert.equal(config.clipql.random_weights, true, 'random weights stay flagged');
    assert.equal(config.vision_config.image_size, 336);
    assert.equal(config.text_config.num_attention_heads, 4);
    assert.deepEqual([config.vision_config.hidden_act, config.vision_config.intermediate_size, config.text_config.layer_norm_eps], ['quick_gelu', 256, 1e-5]);
    assert.deepEqual(JSON.parse(readFileSync(path.join(out, 'preprocessor_config.json'), 'utf8')), JSON.parse(readFileSync(path.join(TINY_MODEL_DIR, 'preprocessor_config.json'), 'utf8')));
    const vocab = JSON.parse(readFileSync(path.join(out, 'vocab.json'), 'utf8')) as Record<string, number>;
    assert.equal(Object.keys(vocab).length, 49408);
    assert.equal(vocab['<|startoftext|>'], 49406);
    assert.equal(vocab['<|endoftext|>'], 49407);
    const merges = readFileSync(path.join(out, 'merges.txt'), 'utf8').split('\n');
    assert.equal(merges[0], '#version: 0.2');
    assert.equal(merges.length, 1 + 48894 + 1, 'header, 48894 merges, final newline');
    await assertSameEmbeddings(out);
  });

  test('wrong head counts: the check against the original fails, names the max diff, writes nothing', async () => {
    const dir = tmp();
    const out = path.join(dir, 'bad');
    const r = await run(PYTHON, [EXPORT, TINY_PT, '--out', out, '--text-heads', '2', '--check-images', '1']);
    assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, /differs from the original TorchScript: max diff \d\S* > 0\.0001 \(wrong head counts\?.*text 2 from --text-heads/);
    assert.match(r.stderr, /check FAILED/);
    assert.ok(!existsSync(out) && !existsSync(path.join(dir, '.bad.export-partial')));
  });

  test('a state_dict (torch.save) with --config, through npm run models -- export', async () => {
    const sdFile = await prepare();
    const out = path.join(tmp(), 'from-state-dict');
    // Through `npm run models -- export`, which runs export.py under the project's Python.
    const r = await run(process.execPath, [path.join(REPO_ROOT, 'dist', 'src', 'download', 'cli.js'), 'export', sdFile, '--out', out, '--config', path.join(TINY_MODEL_DIR, 'config.json'), '--no-torch', '--check-images', '1']);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /state_dict: ViT, 336 px, patch 14, vision 64 x 2 layers, 4 heads, quick_gelu, eps 1e-05, MLP 256 \(heads: /);
    assert.ok(!existsSync(path.join(out, 'torch')), '--no-torch');
    await assertSameEmbeddings(out);
  });

  test('usage and input errors exit 2', async () => {
    const dir = tmp();
    const missing = await run(PYTHON, [EXPORT, path.join(dir, 'nope.pt'), '--out', path.join(dir, 'x')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /nope\.pt: no such file or folder/);
    const exists = await run(PYTHON, [EXPORT, TINY_PT, '--out', TINY_MODEL_DIR]);
    assert.equal(exists.code, 2);
    assert.match(exists.stderr, /exists; pass --force to replace it/);
  });
});
