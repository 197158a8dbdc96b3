/**
 * The model identity (src/bundle/fingerprint.ts) follows the weights that are served: a copy of
 * the folder under another name is the same model; weights served instead of the folder's
 * (CLIP_TORCH_MODEL, with the torch backend as the default) are another model, and only when the
 * torch backend is the one serving. No backend is started: D comes from config.json.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { parseConfig } from '../../src/config/config';
import { TINY_MODEL_DIR } from '../../src/paths';
import { ClipPipeline } from '../../src/pipeline';
import { BPE_VOCAB } from '../helpers/shared';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'clipql-fingerprint-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

async function fingerprint(dir: string, backend: 'onnx' | 'torch', torchModel?: string): Promise<string> {
  const { config } = parseConfig({ CLIP_VOCAB: BPE_VOCAB(), CLIP_CACHE_DIR: path.join(tmp, 'cache'), ...(torchModel && { CLIP_TORCH_MODEL: torchModel }) });
  const p = await ClipPipeline.open({ modelDir: dir, config, backend, preprocessThreads: 0 });
  try {
    return (await p.identity()).fingerprint;
  } finally {
    await p.close();
  }
}

test('the same weights under another folder name are the same model; CLIP_TORCH_MODEL is the model when torch serves', async () => {
  const copy = path.join(tmp, 'photos');
  cpSync(TINY_MODEL_DIR, copy, { recursive: true });
  const own = await fingerprint(TINY_MODEL_DIR, 'onnx');
  assert.match(own, /^[0-9a-f]{64}$/);
  assert.equal(await fingerprint(copy, 'onnx'), own, 'a copy under another name');

  // other weights: the folder's TorchScript archive with its last byte changed
  const other = path.join(tmp, 'other.pt');
  const bytes = readFileSync(path.join(TINY_MODEL_DIR, 'torch', 'model.pt'));
  bytes[bytes.length - 1] ^= 0xff;
  writeFileSync(other, bytes);
  const same = path.join(tmp, 'same.pt');
  cpSync(path.join(TINY_MODEL_DIR, 'torch', 'model.pt'), same);

  const viaTorch = await fingerprint(TINY_MODEL_DIR, 'torch', other);
  assert.notEqual(viaTorch, own, 'CLIP_TORCH_MODEL with other bytes is another model');
  assert.notEqual(await fingerprint(TINY_MODEL_DIR, 'torch', same), viaTorch, 'two different files, two models');
  assert.equal(await fingerprint(TINY_MODEL_DIR, 'torch', same), await fingerprint(copy, 'torch', same), 'the file, not the folder name');
  assert.equal(await fingerprint(TINY_MODEL_DIR, 'onnx', other), own, 'ignored when onnx serves (it reads the folder\'s towers)');
});
