/**
 * How far a copy of an image moves its embedding, against how close distinct images are: the
 * measurement behind the near-duplicate threshold (docs/collections.md, "Near-duplicates").
 *
 *   node dist/scripts/bench/collections/duplicate-threshold.js [--model DIR] [--json]
 *
 * Each notebook image (../shared/images/notebook) is copied in the ways a photo library meets
 * copies (`COPIES`: JPEG re-encodes, downscales, slight crops, and a downscale + re-encode as a
 * messenger sends it), made with sharp, and encoded with the model (default the committed
 * tiny-clip-336, whose weights are random). For each kind of copy: the lowest and the median
 * cosine between a copy and its original; for distinct images: the highest cosine between any
 * two originals, and between any copy and another image's original. A threshold separates the
 * two when it lies between the highest distinct cosine and the lowest copy cosine.
 */
import sharp from 'sharp';
import { loadConfig } from '../../../src/config/config';
import { TINY_MODEL_DIR } from '../../../src/paths';
import { ClipPipeline } from '../../../src/pipeline';
import { rawCosine as cosine } from '../../../src/similarity/similarity';
import { notebookImages } from '../common';

/** A copy of an image: its bytes from the original's (any format sharp reads). */
export interface CopyKind {
  readonly name: string;
  readonly make: (original: Buffer) => Promise<Buffer>;
}

const flat = (b: Buffer) => sharp(b).flatten({ background: '#ffffff' });
const scaled = async (b: Buffer, f: number) => {
  const m = await sharp(b).metadata();
  return sharp(b).resize(Math.round(m.width! * f), Math.round(m.height! * f), { kernel: 'lanczos3' });
};
const cropped = async (b: Buffer, f: number) => {
  const m = await sharp(b).metadata();
  const dx = Math.round(m.width! * f);
  const dy = Math.round(m.height! * f);
  return sharp(b).extract({ left: dx, top: dy, width: m.width! - 2 * dx, height: m.height! - 2 * dy });
};

export const COPIES: readonly CopyKind[] = [
  { name: 'JPEG q90', make: (b) => flat(b).jpeg({ quality: 90 }).toBuffer() },
  { name: 'JPEG q75', make: (b) => flat(b).jpeg({ quality: 75 }).toBuffer() },
  { name: 'JPEG q50', make: (b) => flat(b).jpeg({ quality: 50 }).toBuffer() },
  { name: 'resized 75 %', make: async (b) => (await scaled(b, 0.75)).png().toBuffer() },
  { name: 'resized 50 %', make: async (b) => (await scaled(b, 0.5)).png().toBuffer() },
  { name: 'resized 25 %', make: async (b) => (await scaled(b, 0.25)).png().toBuffer() },
  { name: 'cropped 2 % a side', make: async (b) => (await cropped(b, 0.02)).png().toBuffer() },
  { name: 'cropped 5 % a side', make: async (b) => (await cropped(b, 0.05)).png().toBuffer() },
  { name: 'cropped 10 % a side', make: async (b) => (await cropped(b, 0.1)).png().toBuffer() },
  { name: 'resized 50 % + JPEG q75', make: async (b) => (await scaled(await flat(b).png().toBuffer(), 0.5)).jpeg({ quality: 75 }).toBuffer() },
];

/** The thresholds at which the table counts the copies found. */
const THRESHOLDS = [0.9, 0.93, 0.95, 0.97, 0.99];

async function main(): Promise<void> {
  const i = process.argv.indexOf('--model');
  const modelDir = i >= 0 ? process.argv[i + 1] : TINY_MODEL_DIR;
  const pipeline = await ClipPipeline.open({ modelDir, config: loadConfig().config, preprocessMode: 'exact' });
  try {
    const images = notebookImages();
    const originals = await Promise.all(images.map((im) => pipeline.embedImage(im.bytes)));
    const rows: Array<{ copy: string; min: number; median: number; minImage: string; maxToOthers: number; found: number[] }> = [];
    let maxCopyToOther = -1;
    for (const kind of COPIES) {
      const cos: number[] = [];
      let maxToOthers = -1;
      for (let k = 0; k < images.length; k++) {
        const e = await pipeline.embedImage(await kind.make(images[k].bytes));
        cos.push(cosine(e, originals[k]));
        for (let j = 0; j < images.length; j++) if (j !== k) maxToOthers = Math.max(maxToOthers, cosine(e, originals[j]));
      }
      maxCopyToOther = Math.max(maxCopyToOther, maxToOthers);
      const sorted = [...cos].sort((a, b) => a - b);
      rows.push({ copy: kind.name, min: sorted[0], median: (sorted[3] + sorted[4]) / 2, minImage: images[cos.indexOf(sorted[0])].name, maxToOthers, found: THRESHOLDS.map((t) => cos.filter((c) => c >= t).length) });
    }
    let maxDistinct = -1;
    let pair = '';
    for (let a = 0; a < images.length; a++) {
      for (let b = a + 1; b < images.length; b++) {
        const c = cosine(originals[a], originals[b]);
        if (c > maxDistinct) [maxDistinct, pair] = [c, `${images[a].name} / ${images[b].name}`];
      }
    }
    const out = { model: pipeline.bundle.name, randomWeights: pipeline.bundle.randomWeights, images: images.length, copies: rows, maxDistinctOriginals: maxDistinct, closestPair: pair, maxCopyToOtherImage: maxCopyToOther };
    if (process.argv.includes('--json')) process.stdout.write(`${JSON.stringify(out)}\n`);
    else {
      process.stdout.write(`model ${out.model}${out.randomWeights ? ' (random weights)' : ''}, ${images.length} notebook images\n\n| copy | lowest cosine to its original | median | lowest on | highest to another image | ${THRESHOLDS.map((t) => `found at ${t}`).join(' | ')} |\n| --- | ---: | ---: | --- | ---: |${THRESHOLDS.map(() => ' ---: |').join('')}\n`);
      for (const r of rows) process.stdout.write(`| ${r.copy} | ${r.min.toFixed(4)} | ${r.median.toFixed(4)} | ${r.minImage} | ${r.maxToOthers.toFixed(4)} | ${r.found.map((f) => `${f}/${images.length}`).join(' | ')} |\n`);
      process.stdout.write(`\nhighest cosine between two distinct originals: ${maxDistinct.toFixed(5)} (${pair}); between a copy and another image: ${maxCopyToOther.toFixed(5)}\n`);
    }
  } finally {
    await pipeline.close();
  }
}

if (require.main === module) {
  main().catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
    process.exitCode = 1;
  });
}
