/** Unit tests of the geometry and of the resampler's own guarantees (PIL equality is tested elsewhere). */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { configureSharp, cropOffset, resizedSize, sharpConcurrency } from '../../src/preprocess/image';
import { nearestWindow, precomputeCoefficients, reduceBox, resampleWindow, Resampling, type RasterU8 } from '../../src/preprocess/image/resample';

function randomRaster(width: number, height: number, channels: number, seed: number): RasterU8 {
  const data = new Uint8Array(width * height * channels);
  let s = seed;
  for (let i = 0; i < data.length; i++) data[i] = (s = (s * 1103515245 + 12345) >>> 0) >>> 24;
  return { width, height, channels, data };
}

function crop(full: Uint8Array, fullWidth: number, C: number, x0: number, y0: number, w: number, h: number): Uint8Array {
  const out = new Uint8Array(w * h * C);
  for (let y = 0; y < h; y++) out.set(full.subarray(((y0 + y) * fullWidth + x0) * C, ((y0 + y) * fullWidth + x0 + w) * C), y * w * C);
  return out;
}

describe('geometry (torchvision 0.14)', () => {
  test('Resize(int): shorter side to n, longer side int(n * long / short)', () => {
    assert.deepEqual(resizedSize(451, 300, 224), { width: 336, height: 224 });
    assert.deepEqual(resizedSize(300, 451, 224), { width: 224, height: 336 });
    assert.deepEqual(resizedSize(512, 512, 336), { width: 336, height: 336 });
    assert.deepEqual(resizedSize(1000, 3, 224), { width: 74666, height: 224 });
    assert.deepEqual(resizedSize(2, 3, 224), { width: 224, height: 336 });
  });

  test("CenterCrop offsets round half to even, as Python's round", () => {
    // (size - crop) / 2 = 0.5, 1.5, 2.5, 3.5 → 0, 2, 2, 4
    assert.deepEqual([225, 227, 229, 231].map((s) => cropOffset(s, 224)), [0, 2, 2, 4]);
    assert.equal(cropOffset(224, 224), 0);
    assert.equal(cropOffset(300, 224), 38);
    // larger crops pad (c - s) // 2 before
    assert.equal(cropOffset(100, 240), -70);
    assert.equal(cropOffset(101, 240), -69);
  });
});

describe('resampler', () => {
  test('coefficients: in range, and each set sums to one in fixed point', () => {
    for (const [inSize, outSize] of [[512, 224], [191, 224], [3, 224], [1000, 7], [224, 224]]) {
      for (const filter of [Resampling.BICUBIC, Resampling.BILINEAR, Resampling.LANCZOS]) {
        const { ksize, bounds, weights } = precomputeCoefficients(inSize, outSize, filter);
        for (let x = 0; x < outSize; x++) {
          const [xmin, n] = [bounds[2 * x], bounds[2 * x + 1]];
          assert.ok(xmin >= 0 && n >= 1 && xmin + n <= inSize && n <= ksize, `${inSize}->${outSize} x=${x}: [${xmin}, +${n}]`);
          let sum = 0;
          for (let t = 0; t < n; t++) sum += weights[x * ksize + t];
          assert.ok(Math.abs(sum - (1 << 22)) <= ksize, `${inSize}->${outSize} x=${x}: weights sum to ${sum}`);
        }
      }
    }
  });

  test('a window equals the same crop of the full result, for 1 to 4 channels, up and down', () => {
    for (const C of [1, 2, 3, 4]) {
      for (const [w, h, ow, oh] of [[97, 61, 40, 25], [17, 11, 50, 33], [64, 64, 64, 30], [30, 90, 30, 90 * 2]]) {
        const src = randomRaster(w, h, C, C * 1000 + w);
        const full = resampleWindow(src, ow, oh, Resampling.BICUBIC, { x0: 0, y0: 0, width: ow, height: oh });
        const win = { x0: Math.floor(ow / 5), y0: Math.floor(oh / 3), width: Math.ceil(ow / 2), height: Math.ceil(oh / 2) };
        const part = resampleWindow(src, ow, oh, Resampling.BICUBIC, win);
        assert.deepEqual(part, crop(full, ow, C, win.x0, win.y0, win.width, win.height), `C=${C} ${w}x${h}->${ow}x${oh}`);
        const zero = new Uint8Array(C);
        const nFull = nearestWindow(src, ow, oh, { x0: 0, y0: 0, width: ow, height: oh }, zero);
        assert.deepEqual(nearestWindow(src, ow, oh, win, zero), crop(nFull, ow, C, win.x0, win.y0, win.width, win.height), `nearest C=${C}`);
      }
    }
  });

  test('same size is a copy; a constant image stays constant', () => {
    const src = randomRaster(20, 10, 3, 1);
    assert.deepEqual(resampleWindow(src, 20, 10, Resampling.BICUBIC, { x0: 0, y0: 0, width: 20, height: 10 }), src.data);
    const flat: RasterU8 = { width: 50, height: 40, channels: 1, data: new Uint8Array(2000).fill(77) };
    for (const [ow, oh] of [[13, 9], [200, 170]]) {
      assert.ok(resampleWindow(flat, ow, oh, Resampling.BICUBIC, { x0: 0, y0: 0, width: ow, height: oh }).every((v) => v === 77));
    }
  });

  test('reduceBox averages blocks, partial ones at the edges, rounding half up', () => {
    const src: RasterU8 = { width: 5, height: 2, channels: 1, data: Uint8Array.from([0, 1, 2, 3, 4, 10, 11, 12, 13, 14]) };
    const r = reduceBox(src, 2, 2);
    assert.deepEqual([r.width, r.height], [3, 1]);
    // (0+1+10+11)/4 = 5.5 → 6, (2+3+12+13)/4 = 7.5 → 8, (4+14)/2 = 9
    assert.deepEqual([...r.data], [6, 8, 9]);
  });

  test('refuses a window outside the result', () => {
    const src = randomRaster(10, 10, 1, 2);
    assert.throws(() => resampleWindow(src, 5, 5, Resampling.BICUBIC, { x0: 3, y0: 0, width: 3, height: 5 }), RangeError);
    assert.throws(() => precomputeCoefficients(10, 5, Resampling.NEAREST), RangeError);
  });
});

describe('sharp settings', () => {
  test('one libvips thread per image by default; configurable, validated', () => {
    assert.equal(sharpConcurrency(), 1);
    configureSharp({ concurrency: 2 });
    assert.equal(sharpConcurrency(), 2);
    configureSharp({ concurrency: 1 });
    assert.equal(sharpConcurrency(), 1);
    assert.throws(() => configureSharp({ concurrency: -1 }), RangeError);
    assert.throws(() => configureSharp({ cacheMemoryMB: 1.5 }), RangeError);
  });
});
