/**
 * (a) The eight images of OpenAI's CLIP notebook (RGB, L, RGBA; PNG and JPEG) through
 * decodeImage + resizeAndCrop + toTensor, against PIL + torchvision at n_px 224 and 336:
 * identical uint8 pixels, and a tensor within 1e-6 (bit-identical in practice).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { before, describe, test } from 'node:test';
import { clipTransformConfig, decodeImage, preprocessImage, resizeAndCrop, toTensor } from '../../src/preprocess/image';
import { notebook, type NotebookItem } from '../helpers/shared';
import { assertSamePixels, compareTensors, runReference, type ReferenceResult } from './pil';

const SIZES = [224, 336] as const;

describe('notebook images against PIL + torchvision', () => {
  let items: NotebookItem[];
  let reference: ReferenceResult[][];

  before(() => {
    items = notebook();
    assert.equal(items.length, 8, 'the notebook has eight images');
    reference = runReference(SIZES.map((size) => ({ size, images: items.map((i) => i.path), tensor: true })));
  });

  SIZES.forEach((size, job) => {
    test(`n_px ${size}: identical pixels, tensor within 1e-6`, async (t) => {
      const cfg = clipTransformConfig(size);
      let worst = 0;
      let notBitIdentical = 0;
      for (const [i, item] of items.entries()) {
        const ref = reference[job][i];
        assert.equal(ref.error, undefined, `${item.file}: the reference failed: ${ref.error}`);
        const img = await decodeImage(readFileSync(item.path));
        assert.equal(img.mode, ref.mode, `${item.file}: PIL mode`);
        assert.deepEqual([img.width, img.height], [ref.width, ref.height], `${item.file}: size`);
        const rgb = resizeAndCrop(img, cfg);
        assertSamePixels(rgb, ref.rgb!, size, `${item.file} at n_px ${size}`);
        const { max, differing } = compareTensors(toTensor(rgb, cfg), ref.tensor!, 1e-6, `${item.file} at n_px ${size}`);
        worst = Math.max(worst, max);
        notBitIdentical += differing;
      }
      t.diagnostic(`n_px ${size}: 0 differing bytes; tensor max |diff| ${worst}, ${notBitIdentical} values not bit-identical`);
      assert.equal(notBitIdentical, 0, 'the tensor is bit-identical to torchvision (same float32 operations)');
    });
  });

  test('preprocessImage (exact) gives the same tensor as the reference', async () => {
    const cfg = clipTransformConfig(224);
    for (const [i, item] of items.entries()) {
      const out = await preprocessImage(readFileSync(item.path), cfg);
      assert.equal(out.tensor.length, 3 * 224 * 224);
      compareTensors(out.tensor, reference[0][i].tensor!, 0, item.file);
      assert.equal(out.mode, reference[0][i].mode);
    }
  });
});
