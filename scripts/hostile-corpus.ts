/**
 * Writes the hostile image corpus (scripts/hostile/corpus.ts) to a folder: one file per crafted
 * input and manifest.json with, for each, the answers a correct server may give and why.
 *
 *   npm run build && node dist/scripts/hostile-corpus.js [--seed 1] [--out test-artifacts/hostile]
 *
 * The same seed gives the same bytes (with the same libvips). test/load/hostile.test.ts sends
 * every file to a running server; it keeps the corpus in test-artifacts/hostile-corpus-<key>/
 * (scripts/hostile/cache.ts). The expectations assume the server's default limits
 * (CLIP_MAX_PIXELS 40,000,000, CLIP_MAX_IMAGE_BYTES 20 MiB).
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { writeCorpus } from './hostile/cache';
import { generateCorpus } from './hostile/corpus';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { seed: { type: 'string', default: '1' }, out: { type: 'string', default: path.join('test-artifacts', 'hostile') } } });
  const seed = Number(values.seed);
  if (!Number.isInteger(seed) || seed < 0) throw new Error(`--seed must be a non-negative integer, got ${values.seed}`);
  const corpus = await generateCorpus(seed);
  writeCorpus(values.out!, seed, corpus);
  const total = corpus.reduce((s, e) => s + e.bytes.length, 0);
  process.stdout.write(`${corpus.length} files (${(total / 1024 / 1024).toFixed(1)} MiB) and manifest.json in ${values.out} (seed ${seed})\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`error: ${(e as Error).message}\n`);
  process.exit(1);
});
