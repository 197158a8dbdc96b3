/**
 * How preprocessing scales with its threads: images/s through the server's own PreprocessPool
 * (decode + PIL-exact resize + crop, the uint8 crop transferred back) with 1, 2, ... N threads,
 * on COCO-sized 640×480 JPEGs made from the notebook images, with twice as many images in flight
 * as threads. Each thread count runs in interleaved rounds (timings drift here: FACTS.md), and the
 * figure is the median round. On a GPU server this is the ceiling preprocessing puts on the card.
 *
 *   node dist/scripts/bench/preprocess/preprocess-threads.js --model DIR [--max N] [--seconds S] [--rounds R]
 * Answers RESULT {"cores", "threads": [{"threads", "imagesPerSecond", "perThread", "scaling"}]}
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { parsePreprocessorConfig } from '../../../src/preprocess/image';
import { PreprocessPool } from '../../../src/preprocess/pool';
import { answer, args, median, notebookImages } from '../common';

async function cocoSized(): Promise<Buffer[]> {
  return Promise.all(notebookImages().map((im) => sharp(im.bytes).resize(640, 480, { fit: 'fill' }).removeAlpha().jpeg({ quality: 90 }).toBuffer()));
}

async function rate(pool: PreprocessPool, images: Buffer[], cfg: ReturnType<typeof parsePreprocessorConfig>, seconds: number): Promise<number> {
  const inFlight = 2 * pool.threads;
  let done = 0;
  const end = performance.now() + seconds * 1000;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async (_, k) => {
      for (let i = k; performance.now() < end; i += inFlight) {
        await pool.run(images[i % images.length], cfg, 'exact');
        done++;
      }
    }),
  );
  return done / ((performance.now() - start) / 1000);
}

async function main(): Promise<void> {
  const a = args();
  const file = path.join(a.model, 'preprocessor_config.json');
  const cfg = parsePreprocessorConfig(JSON.parse(fs.readFileSync(file, 'utf8')), file);
  const max = Number(a.max ?? os.availableParallelism());
  const seconds = Number(a.seconds ?? 3);
  const roundsWanted = Number(a.rounds ?? 3);
  const images = await cocoSized();
  const counts = Array.from({ length: max }, (_, i) => i + 1);
  const pools = new Map(counts.map((n) => [n, new PreprocessPool(n, { maxQueue: 4096 })]));
  const rounds = new Map<number, number[]>(counts.map((n) => [n, []]));
  for (const n of counts) await rate(pools.get(n)!, images, cfg, 0.3); // warm up every thread
  for (let r = 0; r < roundsWanted; r++) {
    for (const n of counts) rounds.get(n)!.push(await rate(pools.get(n)!, images, cfg, seconds));
  }
  for (const p of pools.values()) await p.close();
  const one = median(rounds.get(1)!);
  answer({
    cores: os.availableParallelism(),
    image: '640x480 JPEG',
    threads: counts.map((n) => {
      const ips = median(rounds.get(n)!);
      return { threads: n, imagesPerSecond: ips, perThread: ips / n, scaling: ips / one, rounds: rounds.get(n)! };
    }),
  });
}

void main();
