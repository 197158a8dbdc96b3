/**
 * (b) Images generated at test time by PIL (test/reference/pil_transform.py synth): every mode
 * and format PIL.Image.open produces from common files, sizes that upscale, extreme aspect
 * ratios, crops whose offset is an exact .5, other filters and padded crops. All must match PIL +
 * torchvision byte for byte, except the one documented deviation (16-bit greyscale).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { before, describe, test } from 'node:test';
import sharp from 'sharp';
import { clipTransformConfig, decodeImage, preprocessImage, resizeAndCrop, toTensor, type ImageTransformConfig } from '../../src/preprocess/image';
import { assertSamePixels, compareTensors, runReference, syntheticImages, type ReferenceJob, type ReferenceResult, type SyntheticImage } from './pil';

/** Images PIL opens in 16-bit modes: compared with the high-byte reference (see transform.ts). */
const GREY16 = ['grey16.png', 'grey16.tif'];
/** A cross-section for the other filters and for padded crops. */
const SUBSET = ['rgb.png', 'grey.png', 'rgba.png', 'la.png', 'palette.png', 'palette_trns.gif', 'cmyk.jpg', 'bit1.png', 'tiny2x3.png', 'wide1000x3.png', 'odd450x448.png', 'grey16.png'];

interface Case {
  readonly label: string;
  readonly cfg: ImageTransformConfig;
  readonly job: ReferenceJob;
  readonly images: SyntheticImage[];
}

describe('synthetic images against PIL + torchvision', () => {
  const cases: Case[] = [];
  let results: ReferenceResult[][];
  let raw16: ReferenceResult[];

  before(() => {
    const all = [...syntheticImages().values()];
    const subset = SUBSET.map((n) => syntheticImages().get(n)!);
    const add = (label: string, cfg: ImageTransformConfig, images: SyntheticImage[], tensor = false) =>
      cases.push({
        label,
        cfg,
        images,
        job: { size: cfg.shortestEdge, cropHeight: cfg.cropHeight, cropWidth: cfg.cropWidth, resample: cfg.resample, tensor, grey16HighByte: true, images: images.map((i) => i.file) },
      });
    add('bicubic n_px 224', clipTransformConfig(224), all, true);
    add('bicubic n_px 336', clipTransformConfig(336), all);
    for (const [resample, name] of [[0, 'nearest'], [2, 'bilinear'], [1, 'lanczos'], [4, 'box'], [5, 'hamming']] as const) {
      add(`${name} n_px 224`, { ...clipTransformConfig(224), resample }, subset);
    }
    add('resize 100, crop 256x240 (padded)', { ...clipTransformConfig(100), cropHeight: 256, cropWidth: 240 }, subset);
    add('resize 224, crop 224x301 (padded width)', { ...clipTransformConfig(224), cropWidth: 301 }, subset);
    add('resize 50, crop 37x64', { ...clipTransformConfig(50), cropHeight: 37, cropWidth: 64 }, subset);
    const grey16 = GREY16.map((n) => syntheticImages().get(n)!.file);
    const out = runReference([...cases.map((c) => c.job), { size: 224, images: grey16 }]);
    raw16 = out.pop()!;
    results = out;
  });

  test('the generated set covers the modes and formats PIL opens', () => {
    const names = [...syntheticImages().keys()];
    for (const n of ['palette_trns.png', 'la.png', 'rgba.png', 'grey16.png', 'rgb16.png', 'bit1.png', 'cmyk.jpg', 'tiny1x1.png', 'wide1000x3.png', 'tall3x1000.png', 'palette.gif', 'rgb_lossy.webp', 'rgb.tif', 'exif6.jpg', 'icc.png']) {
      assert.ok(names.includes(n), `${n} is generated`);
    }
    const modes = new Set(results[0].map((r) => r.mode));
    for (const m of ['P', 'L', 'LA', 'RGB', 'RGBA', '1', 'CMYK', 'I', 'I;16']) assert.ok(modes.has(m), `PIL mode ${m} is covered`);
  });

  for (const [k, label] of ['bicubic n_px 224', 'bicubic n_px 336'].entries()) {
    test(`${label}: every image identical to PIL (16-bit grey: the high-byte deviation)`, async (t) => {
      const c = cases[k];
      const failures: string[] = [];
      for (const [i, img] of c.images.entries()) {
        const ref = results[k][i];
        try {
          assert.equal(ref.error, undefined, `the reference failed: ${ref.error}`);
          const decoded = await decodeImage(readFileSync(img.file));
          assert.equal(decoded.mode, ref.mode, 'PIL mode');
          assert.deepEqual([decoded.width, decoded.height], [ref.width, ref.height], 'size');
          const rgb = resizeAndCrop(decoded, c.cfg);
          assertSamePixels(rgb, ref.rgb!, c.cfg.cropWidth, `${img.name} (${img.note})`);
          if (ref.tensor) compareTensors(toTensor(rgb, c.cfg), ref.tensor, 0, img.name);
        } catch (e) {
          failures.push(`${img.name}: ${(e as Error).message}`);
        }
      }
      t.diagnostic(`${c.images.length} images, ${failures.length} mismatches`);
      assert.deepEqual(failures, []);
    });
  }

  test('other filters and padded crops: identical to PIL', async () => {
    const failures: string[] = [];
    for (const [k, c] of cases.entries()) {
      if (k < 2) continue;
      for (const [i, img] of c.images.entries()) {
        const ref = results[k][i];
        try {
          assert.equal(ref.error, undefined, `the reference failed: ${ref.error}`);
          assertSamePixels(resizeAndCrop(await decodeImage(readFileSync(img.file)), c.cfg), ref.rgb!, c.cfg.cropWidth, `${img.name}`);
        } catch (e) {
          failures.push(`${c.label}: ${img.name}: ${(e as Error).message}`);
        }
      }
    }
    assert.deepEqual(failures, []);
  });

  test('16-bit grey: PIL 9.4 clips mode I to white and cannot resize I;16; clipql keeps the high byte', async () => {
    // the reference oddity this deviation avoids
    const [png, tif] = raw16;
    assert.equal(png.mode, 'I');
    const white = png.rgb!.filter((v) => v === 255).length / png.rgb!.length;
    assert.ok(white > 0.95, `PIL turns the 16-bit PNG ${(white * 100).toFixed(1)}% white`);
    assert.match(tif.error ?? '', /wrong mode/, 'PIL cannot resize an I;16 image with BICUBIC');
    // clipql's result: a real image, equal to the reference on the high bytes (checked above)
    const ours = resizeAndCrop(await decodeImage(readFileSync(syntheticImages().get('grey16.png')!.file)), clipTransformConfig(224));
    const oursWhite = ours.filter((v) => v === 255).length / ours.length;
    assert.ok(oursWhite < 0.2, `clipql's crop is ${(oursWhite * 100).toFixed(1)}% white`);
  });

  test('EXIF orientation 6 is reported and not applied (PIL does not rotate either)', async () => {
    const img = await decodeImage(readFileSync(syntheticImages().get('exif6.jpg')!.file));
    assert.equal(img.orientation, 6);
    assert.deepEqual([img.width, img.height], [240, 160], 'not rotated');
  });

  test('ICC profiles are ignored, as PIL ignores them (colour management would move the pixels)', async () => {
    for (const name of ['icc.png', 'icc.jpg']) {
      const bytes = readFileSync(syntheticImages().get(name)!.file);
      const img = await decodeImage(bytes);
      const managed = await sharp(bytes).raw().toBuffer();
      let sum = 0;
      for (let i = 0; i < managed.length; i++) sum += Math.abs(managed[i] - img.data[i]);
      assert.ok(sum / managed.length > 10, `${name}: sharp's colour-managed pixels are ${(sum / managed.length).toFixed(1)} levels away`);
    }
    // and the unmanaged pixels are PIL's: part of the n_px 224 / 336 tests above
  });

  test('animated GIF and WebP: the first frame, as PIL opens them', async () => {
    for (const name of ['animated.gif', 'animated.webp']) {
      const img = await decodeImage(readFileSync(syntheticImages().get(name)!.file));
      assert.ok(img.pages > 1, `${name} has ${img.pages} frames`);
    }
    // pixel equality of the first frame is part of the n_px 224 / 336 tests above
  });

  test('AVIF (no PIL reference in Pillow 9.4): decoded close to its source, transformed like PIL', async () => {
    const src = readFileSync(syntheticImages().get('rgb.png')!.file);
    const avif = await sharp(src).avif({ lossless: true }).toBuffer();
    const img = await decodeImage(avif);
    assert.deepEqual([img.format, img.mode, img.width, img.height], ['avif', 'RGB', 300, 200]);
    const original = await sharp(src).raw().toBuffer();
    let sum = 0;
    for (let i = 0; i < original.length; i++) sum += Math.abs(original[i] - img.data[i]);
    assert.ok(sum / original.length < 3, `mean |difference| to the source ${(sum / original.length).toFixed(2)} levels`);
    const out = await preprocessImage(avif, clipTransformConfig(224));
    assert.equal(out.tensor.length, 3 * 224 * 224);
  });
});
