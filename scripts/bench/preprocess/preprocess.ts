/**
 * Preprocessing per core: images/s of `preprocessImage` run inline, one image at a time, on the
 * eight notebook images, in the exact (PIL-identical) and fast modes, for one model's
 * preprocessor config. One process, one thread (sharp's libvips concurrency is 1: sharp.ts).
 *
 *   node dist/scripts/bench/preprocess/preprocess.js --model DIR [--seconds S]
 * Answers RESULT {"exact":{"imagesPerSecond","msPerImage"},"fast":{...}}
 */
import fs from 'node:fs';
import path from 'node:path';
import { parsePreprocessorConfig, preprocessImage, type PreprocessMode } from '../../../src/preprocess/image';
import { answer, args, median, notebookImages } from '../common';

async function main(): Promise<void> {
  const a = args();
  const file = path.join(a.model, 'preprocessor_config.json');
  const cfg = parsePreprocessorConfig(JSON.parse(fs.readFileSync(file, 'utf8')), file);
  const seconds = Number(a.seconds ?? 4);
  const images = notebookImages();
  const out: Record<string, { imagesPerSecond: number; msPerImage: number; rounds: number }> = {};
  for (const mode of ['exact', 'fast'] as PreprocessMode[]) {
    for (const im of images) await preprocessImage(im.bytes, cfg, { mode }); // warm up
    // One round = the eight images once; the median round is the figure.
    const rounds: number[] = [];
    const start = performance.now();
    while (rounds.length < 3 || performance.now() - start < seconds * 1000) {
      const t = performance.now();
      for (const im of images) await preprocessImage(im.bytes, cfg, { mode });
      rounds.push(performance.now() - t);
    }
    const ms = median(rounds) / images.length;
    out[mode] = { imagesPerSecond: 1000 / ms, msPerImage: ms, rounds: rounds.length };
    process.stderr.write(`preprocess ${mode}: ${(1000 / ms).toFixed(1)} images/s per core\n`);
  }
  answer(out);
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
