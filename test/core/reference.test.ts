/**
 * Done-when of the core issue, on the committed tiny 336 bundle and the eight notebook images and
 * captions ("It is " + caption, as in the walkthrough), against references that PyTorch, PIL,
 * torchvision and OpenAI's tokenizer computed (models/generate.py):
 *   - preprocessed pixels identical to PIL's (uint8 after Resize + CenterCrop + convert("RGB"));
 *   - tokens identical;
 *   - every similarity within 1e-5.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { TINY_MODEL_DIR } from '../../src/paths';
import { ClipPipeline } from '../../src/pipeline';
import { decodeImage, resizeAndCrop } from '../../src/preprocess/image';
import { assertClose, tinyReference } from '../helpers/reference';
import { BPE_VOCAB, notebook, TINY_REFERENCE_DIR } from '../helpers/shared';

let pipeline: ClipPipeline;
before(async () => {
  pipeline = await ClipPipeline.open({ modelDir: TINY_MODEL_DIR, env: { CLIP_VOCAB: BPE_VOCAB() } });
});
after(async () => {
  await pipeline?.close();
});

test('preprocessed pixels are identical to PIL on all eight notebook images', async () => {
  for (const item of notebook()) {
    const expected = gunzipSync(readFileSync(path.join(TINY_REFERENCE_DIR, 'pixels', `${item.file}.rgb.gz`)));
    const actual = resizeAndCrop(await decodeImage(readFileSync(item.path)), pipeline.bundle.image, 'exact');
    assert.equal(actual.length, expected.length, `${item.file}: ${actual.length} bytes, PIL gave ${expected.length}`);
    let differing = 0;
    let first = -1;
    for (let i = 0; i < expected.length; i++) {
      if (actual[i] !== expected[i]) {
        differing++;
        if (first < 0) first = i;
      }
    }
    if (differing) {
      const s = pipeline.bundle.imageSize;
      const [y, x, c] = [Math.floor(first / (3 * s)), Math.floor(first / 3) % s, first % 3];
      assert.fail(`${item.file}: ${differing} bytes differ from PIL; first at (y=${y}, x=${x}, c=${c}): ${actual[first]} vs PIL ${expected[first]}`);
    }
  }
});

test('tokens are identical to OpenAI\'s tokenizer for the eight captions', () => {
  const ref = tinyReference();
  ref.texts.forEach((text, i) => assert.deepEqual(Array.from(pipeline.tokenize(text)), ref.tokens[i], `tokens of ${JSON.stringify(text)}`));
});

test('similarities are within 1e-5 of the PyTorch reference, embeddings within 1e-4', async () => {
  const ref = tinyReference();
  const items = notebook();
  const result = await pipeline.similarity(items.map((it) => readFileSync(it.path)), ref.texts);
  const max = assertClose(result.scores, ref.similarity, 1e-5, 'similarity');
  assertClose(result.imageEmbeddings, ref.image_embeds, 1e-4, 'image_embeds');
  assertClose(result.textEmbeddings, ref.text_embeds, 1e-4, 'text_embeds');
  assert.ok(max < 1e-5);
});

test('the random weights separate the images: the tiny model is a meaningful test', () => {
  const ref = tinyReference();
  const norm = (v: number[]) => {
    const n = Math.hypot(...v);
    return v.map((x) => x / n);
  };
  const f = ref.image_embeds.map(norm);
  let maxOff = -1;
  for (let i = 0; i < f.length; i++) for (let j = i + 1; j < f.length; j++) maxOff = Math.max(maxOff, f[i].reduce((s, v, k) => s + v * f[j][k], 0));
  assert.ok(maxOff < 0.95, `max off-diagonal image cosine ${maxOff}`);
});
