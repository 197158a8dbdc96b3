/**
 * HEIC (HEVC) decoding through libheif in WebAssembly (src/preprocess/image/heic.ts), checked
 * against an independent decoder: Debian's `heif-convert` (libheif 1.15 with its own libde265
 * build) on files made by Debian's `heif-enc` from generated pixels. The two libheif versions
 * round the YUV → RGB conversion differently, so the pixels may differ by one level: the bar is
 * at most 2 levels anywhere and a mean under 0.1. Also: the pixel limit refuses a HEIC before
 * any pixel is decoded, damage is BAD_IMAGE, and the API's path reads HEIC too.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { CLIP_IMAGE_DEFAULTS, decodeImage, inspectImage, preprocessPixels } from '../../src/preprocess/image';
import { imageWorkCounts } from '../../src/preprocess/image/work-counts';
import { patternImage } from '../helpers/images';

let dir: string;
let heic: Buffer;
let reference: { data: Buffer; width: number; height: number };

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'clipql-heic-'));
  writeFileSync(path.join(dir, 'src.png'), await patternImage(7, 'png', 320, 240));
  execFileSync('heif-enc', ['-q', '90', path.join(dir, 'src.png'), '-o', path.join(dir, 'a.heic')], { stdio: 'ignore' });
  execFileSync('heif-convert', [path.join(dir, 'a.heic'), path.join(dir, 'ref.png')], { stdio: 'ignore' });
  heic = readFileSync(path.join(dir, 'a.heic'));
  const ref = await sharp(path.join(dir, 'ref.png')).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  reference = { data: ref.data, width: ref.info.width, height: ref.info.height };
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('HEIC', () => {
  test("decodes to heif-convert's pixels (max 2 levels, mean < 0.1)", async () => {
    const img = await decodeImage(heic);
    assert.deepEqual([img.format, img.mode, img.layout, img.width, img.height], ['heic', 'RGB', 'RGB', reference.width, reference.height]);
    assert.equal(img.data.length, reference.data.length);
    let max = 0;
    let sum = 0;
    for (let i = 0; i < img.data.length; i++) {
      const d = Math.abs(img.data[i] - reference.data[i]);
      sum += d;
      if (d > max) max = d;
    }
    assert.ok(max <= 2, `max difference ${max} levels`);
    assert.ok(sum / img.data.length < 0.1, `mean difference ${sum / img.data.length}`);
  });

  test('the pixel limit is checked on the header: IMAGE_TOO_LARGE with no pixel decoded', async () => {
    const before = imageWorkCounts().decodes;
    await assert.rejects(decodeImage(heic, { maxPixels: 320 * 240 - 1 }), (e: { code?: string; message: string }) => e.code === 'IMAGE_TOO_LARGE' && /320x240/.test(e.message));
    assert.equal(imageWorkCounts().decodes, before);
    assert.deepEqual(await inspectImage(heic), { format: 'heic', width: 320, height: 240, mode: 'RGB', bitDepth: 8, pages: 1 });
  });

  test('damaged HEIC: BAD_IMAGE, in bounded time', async () => {
    for (const bad of [heic.subarray(0, 200), heic.subarray(0, heic.length >> 1)]) {
      const t = performance.now();
      await assert.rejects(decodeImage(bad), (e: { code?: string }) => e.code === 'BAD_IMAGE');
      assert.ok(performance.now() - t < 5000);
    }
  });

  test('the query path (exact and fast) takes HEIC: the same crop either way (no libvips decode)', async () => {
    const exact = await preprocessPixels(heic, CLIP_IMAGE_DEFAULTS);
    const fast = await preprocessPixels(heic, CLIP_IMAGE_DEFAULTS, { mode: 'fast' });
    assert.equal(exact.format, 'heic');
    assert.ok(Buffer.from(exact.pixels).equals(Buffer.from(fast.pixels)));
  });
});
