/** CPU batch sizes from the activation budget (src/backends/onnx/batch-size.ts). */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { activationBytes, batchFor, towerShapes } from '../../src/backends/onnx/batch-size';
import { TINY_MODEL_DIR } from '../../src/paths';

const MiB = 2 ** 20;
// OpenAI's shapes, as Hugging Face's CLIPConfig writes them.
const vitB32 = { vision_config: { patch_size: 32, num_attention_heads: 12, intermediate_size: 3072 }, text_config: { num_attention_heads: 8, intermediate_size: 2048 } };
const vitL336 = { vision_config: { patch_size: 14, num_attention_heads: 16, intermediate_size: 4096 }, text_config: { num_attention_heads: 12, intermediate_size: 3072 } };

test('shapes and activation sizes of the real models', () => {
  const b = towerShapes(vitB32, 224, 77);
  assert.deepEqual(b.image, { tokens: 50, heads: 12, intermediate: 3072 });
  assert.equal(activationBytes(b.image!), 4 * 50 * 3072); // the MLP: 614,400 bytes
  const l = towerShapes(vitL336, 336, 77);
  assert.deepEqual(l.image, { tokens: 577, heads: 16, intermediate: 4096 });
  assert.equal(activationBytes(l.image!), 4 * 16 * 577 * 577); // the attention scores: 21,307,456 bytes
  assert.equal(activationBytes(l.text!), 4 * 77 * 3072);
});

test('the default budget: ViT-B/32 images in 16s, ViT-L/14@336px one at a time, text up to its cap', () => {
  const b = towerShapes(vitB32, 224, 77);
  const l = towerShapes(vitL336, 336, 77);
  assert.equal(batchFor(b.image, 32 * MiB, 16), 16);
  assert.equal(batchFor(l.image, 32 * MiB, 16), 1);
  assert.equal(batchFor(l.image, 64 * MiB, 16), 3);
  assert.equal(batchFor(b.text, 32 * MiB, 64), 53); // floor(33,554,432 / 630,784)
  assert.equal(batchFor(l.text, 32 * MiB, 64), 35); // floor(33,554,432 / 946,176)
  assert.equal(batchFor(l.image, 1, 16), 1, 'never below 1');
  assert.equal(batchFor(undefined, 32 * MiB, 16), 16, 'no shapes: the cap');
});

test('a config without the shapes leaves the cap alone; the tiny bundle has them', () => {
  assert.deepEqual(towerShapes({}, 224, 77), { image: undefined, text: undefined });
  const tiny = JSON.parse(readFileSync(path.join(TINY_MODEL_DIR, 'config.json'), 'utf8')) as Record<string, unknown>;
  const s = towerShapes(tiny, 336, 77);
  assert.equal(s.image?.tokens, 577);
  assert.ok(batchFor(s.image, 32 * MiB, 16) >= 1);
});
