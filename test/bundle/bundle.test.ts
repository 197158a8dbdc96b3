/**
 * A broken bundle is refused with an error that names the file and what is wrong. Each case is a
 * copy of the committed tiny bundle with one thing broken.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, unlinkSync, writeFileSync, readFileSync, copyFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { ClipqlError } from '../../src/errors';
import { REPO_ROOT, TINY_MODEL_DIR } from '../../src/paths';
import { ClipPipeline } from '../../src/pipeline';
import { BPE_VOCAB } from '../helpers/shared';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function copyBundle(): string {
  const dir = path.join(mkdtempSync(path.join(os.tmpdir(), 'clipql-bundle-')), 'tiny');
  dirs.push(path.dirname(dir));
  cpSync(TINY_MODEL_DIR, dir, { recursive: true, filter: (src) => !src.includes(`${path.sep}torch`) && !/vocab\.json|merges\.txt/.test(src) });
  return dir;
}

/** Opens the bundle and starts the onnx backend, as the server and CLI do. */
async function open(dir: string, env: Record<string, string> = { CLIP_VOCAB: BPE_VOCAB() }): Promise<void> {
  const p = await ClipPipeline.open({ modelDir: dir, env });
  try {
    await p.embedder();
  } finally {
    await p.close();
  }
}

async function expectBadModel(dir: string, message: RegExp, env?: Record<string, string>): Promise<void> {
  await assert.rejects(open(dir, env), (e: unknown) => {
    assert.ok(e instanceof ClipqlError, `not a ClipqlError: ${String(e)}`);
    assert.equal(e.code, 'BAD_MODEL', e.message);
    assert.match(e.message, message);
    return true;
  });
}

test('a good copy opens (the cases below differ from it in one thing)', async () => {
  await open(copyBundle());
});

test('missing tower file', async () => {
  const dir = copyBundle();
  unlinkSync(path.join(dir, 'onnx', 'text_model.onnx'));
  await expectBadModel(dir, /onnx\/text_model\.onnx: missing from the model bundle/);
});

test('preprocessor_config.json that is not JSON', async () => {
  const dir = copyBundle();
  writeFileSync(path.join(dir, 'preprocessor_config.json'), '{ "size": ');
  await expectBadModel(dir, /preprocessor_config\.json: is not valid JSON/);
});

test('tokenizer files missing and no vocabulary to build them from', async () => {
  await expectBadModel(copyBundle(), /vocab\.json: tokenizer files missing/, { CLIPQL_SHARED: '/nonexistent' });
});

test('wrong input and output names (the towers swapped)', async () => {
  const dir = copyBundle();
  copyFileSync(path.join(TINY_MODEL_DIR, 'onnx', 'text_model.onnx'), path.join(dir, 'onnx', 'vision_model.onnx'));
  await expectBadModel(dir, /vision_model\.onnx: expected an input named "pixel_values", found "input_ids"/);
});

test('S differs from the config', async () => {
  const dir = copyBundle();
  const pre = JSON.parse(readFileSync(path.join(dir, 'preprocessor_config.json'), 'utf8'));
  pre.size = { shortest_edge: 224 };
  pre.crop_size = { height: 224, width: 224 };
  writeFileSync(path.join(dir, 'preprocessor_config.json'), JSON.stringify(pre));
  const cfg = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8'));
  delete cfg.vision_config.image_size;
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(cfg));
  await expectBadModel(dir, /vision_model\.onnx: pixel_values is \[.*336, 336\] but preprocessor_config\.json crops to 224x224/);
});

test('crop size differs from config.json', async () => {
  const dir = copyBundle();
  const pre = JSON.parse(readFileSync(path.join(dir, 'preprocessor_config.json'), 'utf8'));
  pre.crop_size = { height: 224, width: 224 };
  writeFileSync(path.join(dir, 'preprocessor_config.json'), JSON.stringify(pre));
  await expectBadModel(dir, /crop size 224 differs from config\.json vision_config\.image_size 336/);
});

test('D differs between the towers', async () => {
  const dir = copyBundle();
  // A text tower whose output is twice as wide: text_embeds = concat(text_embeds, text_embeds).
  const file = path.join(dir, 'onnx', 'text_model.onnx');
  execFileSync('/usr/bin/python3', ['-c', `
import onnx, sys
m = onnx.load(sys.argv[1])
out = m.graph.output[0]
for n in m.graph.node:
    for i, o in enumerate(n.output):
        if o == out.name:
            n.output[i] = 'inner_embeds'
m.graph.node.append(onnx.helper.make_node('Concat', ['inner_embeds', 'inner_embeds'], [out.name], axis=1))
out.type.tensor_type.shape.dim[1].dim_value *= 2
onnx.save(m, sys.argv[1])`, file]);
  await expectBadModel(dir, /text_embeds has D=\d+ but vision_model\.onnx gives image_embeds with D=\d+: the towers must agree/);
});

test('a tower file that is not ONNX', async () => {
  const dir = copyBundle();
  writeFileSync(path.join(dir, 'onnx', 'vision_model.onnx'), Buffer.from('this is not a protobuf'));
  await expectBadModel(dir, /vision_model\.onnx: onnxruntime could not load it/);
});

test('a model folder that cannot be written serves, and no file appears in it (derived tokenizer files go to the cache)', async () => {
  const dir = copyBundle();
  const listing = () => execFileSync('find', [dir, '-printf', '%P %s %T@\n']).toString().split('\n').sort().join('\n');
  const before = listing();
  const script = `
    const { ClipPipeline } = require(${JSON.stringify(path.join(REPO_ROOT, 'dist', 'src', 'pipeline.js'))});
    (async () => {
      const p = await ClipPipeline.open({ modelDir: process.argv[1], env: { ...process.env, CLIP_PREPROCESS_THREADS: '0' } });
      const e = await p.embedText('It is a cat');
      const fs = require('fs');
      let writable = true;
      try { fs.writeFileSync(require('path').join(process.argv[1], 'probe'), 'x'); } catch { writable = false; }
      console.log(JSON.stringify({ dim: e.length, writable, tokenizerDir: p.bundle.files.tokenizerDir }));
      await p.close();
    })().catch((e) => { console.error(e); process.exit(1); });`;
  execFileSync('chmod', ['-R', 'a-w,a+rX', dir]);
  try {
    // Root ignores file modes: as root, the check runs without the capabilities that override them
    // (setpriv drops them from the bounding set; another user could not reach a node binary in a
    // private folder, such as the one .ci/run installs Node 24 in).
    const asUser = process.getuid?.() === 0 ? ['setpriv', '--bounding-set=-dac_override,-dac_read_search,-fowner', '--'] : [];
    const env: Record<string, string | undefined> = { ...process.env, HOME: '/nonexistent', CLIP_VOCAB: BPE_VOCAB() };
    // The cache folder falls back to the temporary folder (HOME's cannot be made).
    delete env.XDG_CACHE_HOME;
    delete env.CLIP_CACHE_DIR;
    const out = JSON.parse(execFileSync(asUser[0] ?? process.execPath, [...asUser.slice(1), ...(asUser.length ? [process.execPath] : []), '-e', script, dir], { env }).toString()) as { dim: number; writable: boolean; tokenizerDir: string };
    assert.equal(out.writable, false, 'the folder really is read-only for the process');
    assert.equal(out.dim, 32, 'a caption was embedded');
    assert.ok(!out.tokenizerDir.startsWith(dir), `tokenizer files read from ${out.tokenizerDir}, outside the bundle`);
  } finally {
    execFileSync('chmod', ['-R', 'u+w', dir]);
  }
  assert.equal(listing(), before, 'no file was added to or changed in the model folder');
});
