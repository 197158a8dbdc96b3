/**
 * Issue 35's measurement behind CLIP_COLLECTION_PREPROCESS's default (not a test): the embedding
 * cosine of 'shrink' (reduced-scale decode, then the exact resize) to 'exact' (PIL-identical
 * decode and resize), both with EXIF orientation applied, on the camera roll of camera-roll.ts
 * (real-looking 12 MP photos, HEIC, a screenshot) and on odd images made here from one of its
 * photos: palette, grey + alpha, CMYK, 16-bit, tiny, a panorama. Also the cost of ignoring
 * orientation: a sideways photo's embedding as PIL's Image.open sees it against the upright one.
 *
 *   node dist/scripts/bench/preprocess/shrink-cosine.js [--model models/bench-vit-b-32] [--dir /tmp/clipql-camera-roll]
 * Prints RESULT {json}: per file, its size, the time of each mode (one thread) and the cosine.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { ClipPipeline } from '../../../src/pipeline';
import { answer, args, log, REPO } from '../common';
import { cameraRoll } from '../collections/camera-roll-folder';

const cos = (a: Float32Array, b: Float32Array) => a.reduce((t, x, i) => t + x * b[i], 0) / (Math.hypot(...a) * Math.hypot(...b));

async function oddImages(photo: Buffer): Promise<Array<{ name: string; bytes: Buffer }>> {
  const base = () => sharp(photo).resize(3000, 2000, { fit: 'fill' });
  return [
    { name: 'palette.png', bytes: await base().png({ palette: true, colours: 64 }).toBuffer() },
    { name: 'grey-alpha.png', bytes: await base().greyscale().ensureAlpha(0.8).png().toBuffer() },
    { name: 'cmyk.jpg', bytes: await base().toColourspace('cmyk').jpeg({ quality: 90 }).toBuffer() },
    { name: 'rgb16.png', bytes: await base().toColourspace('rgb16').png().toBuffer() },
    { name: 'tiny.jpg', bytes: await sharp(photo).resize(50, 40, { fit: 'fill' }).jpeg().toBuffer() },
    { name: 'panorama.jpg', bytes: await sharp(photo).resize(8000, 1500, { fit: 'fill' }).jpeg({ quality: 90 }).toBuffer() },
  ];
}

async function main(): Promise<void> {
  const a = args();
  const model = path.resolve(a.model ?? path.join(REPO, 'models', 'bench-vit-b-32'));
  const roll = cameraRoll(a.dir ?? path.join(os.tmpdir(), 'clipql-camera-roll'));
  const files: Array<{ name: string; bytes: Buffer }> = fs.readdirSync(roll).sort().map((name) => ({ name, bytes: fs.readFileSync(path.join(roll, name)) }));
  files.push(...(await oddImages(files.find((f) => f.name === 'IMG_0001.jpg')!.bytes)));
  const open = (itemMode: 'shrink' | 'exact') => ClipPipeline.open({ modelDir: model, preprocessThreads: 0, itemMode, env: { CLIP_VOCAB: process.env.CLIP_VOCAB ?? path.join(REPO, '..', 'shared', 'clip', 'bpe_simple_vocab_16e6.txt.gz') } });
  const shrink = await open('shrink');
  const exact = await open('exact');
  const rows = [];
  try {
    for (const f of files) {
      const s = await shrink.prepareItem(f.bytes);
      const e = await exact.prepareItem(f.bytes);
      const c = cos(await shrink.embedItem(s), await exact.embedItem(e));
      // PIL's view (no orientation), for the photos stored sideways
      const sideways = /^IMG_\d+\.jpg$/.test(f.name) && Number(f.name.slice(4, 8)) % 3 === 0 ? cos(await exact.embedImage(f.bytes), await exact.embedItem(e)) : undefined;
      rows.push({ file: f.name, width: e.width, height: e.height, mode: e.mode, shrinkMs: s.ms, exactMs: e.ms, cosine: c, ...(sideways !== undefined && { storedVsUpright: sideways }) });
      log(`${f.name} ${e.width}x${e.height} ${e.mode}: shrink ${s.ms.toFixed(0)} ms, exact ${e.ms.toFixed(0)} ms, cosine ${c.toFixed(6)}${sideways !== undefined ? `, sideways vs upright ${sideways.toFixed(4)}` : ''}`);
    }
  } finally {
    await shrink.close();
    await exact.close();
  }
  const cosines = rows.map((r) => r.cosine);
  answer({ model: path.relative(REPO, model), minCosine: Math.min(...cosines), rows });
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
