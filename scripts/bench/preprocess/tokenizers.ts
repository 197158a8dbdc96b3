/**
 * Tokenizer throughput (not a test): captions per second of CLIP's tokenizer (OpenAI's 49k BPE
 * vocabulary) and of the SigLIP family's two paths (SiglipTokenizer's unigram from spiece.model,
 * and a Gemma-style BPE tokenizer.json), on one thread, interleaved in rounds, plus each one's
 * load time and heap growth.
 *
 *   node dist/scripts/bench/preprocess/tokenizers.js [--rounds 5] [--ms 1000]
 *
 * The SigLIP tokenizers are the small ones the tests train (test-artifacts/, made by
 * test/reference/siglip_tokenizers.py on first use): their vocabularies are 700-800 entries, not
 * SigLIP 2's 256k. Captions: the 220 shared strings (../shared/clip/tokenizer-reference.json).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { familyOf } from '../../../src/families/families';
import type { TextTokenizer } from '../../../src/families/family';
import { loadBundle } from '../../../src/bundle/bundle';
import { ClipTokenizer } from '../../../src/preprocess/text';
import { TINY_MODEL_DIR, PROJECT_PYTHON } from '../../../src/paths';
import { siglipFixtures } from '../../../test/helpers/siglip';
import { BPE_VOCAB, sharedFile } from '../../../test/helpers/shared';
import { args } from '../common';

async function timed<T>(f: () => Promise<T>): Promise<{ value: T; ms: number; heapBytes: number }> {
  global.gc?.();
  const heap0 = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  const value = await f();
  const ms = performance.now() - t0;
  global.gc?.();
  return { value, ms, heapBytes: process.memoryUsage().heapUsed - heap0 };
}

async function main(): Promise<void> {
  const a = args(process.argv.slice(2));
  const rounds = Number(a.rounds ?? 5);
  const budgetMs = Number(a.ms ?? 1000);
  const captions: string[] = JSON.parse(readFileSync(sharedFile('clip', 'tokenizer-reference.json'), 'utf8')).cases.map((c: { text: string }) => c.text);
  const cache = mkdtempSync(path.join(os.tmpdir(), 'clipql-bench-tok-'));
  const fixtures = await siglipFixtures();
  const tokenizers: Record<string, { tok: TextTokenizer; n: number; load: { ms: number; heapBytes: number } }> = {};
  const clip = await loadBundle(TINY_MODEL_DIR, { bpeVocab: BPE_VOCAB(), cacheDir: cache });
  const c = await timed(() => ClipTokenizer.fromBundle(clip.files.tokenizerDir));
  tokenizers.clip = { tok: c.value, n: 77, load: c };
  for (const name of ['siglip', 'siglip2']) {
    const dir = path.join(fixtures, name);
    const config = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8'));
    const family = familyOf(config, 'config.json');
    const files = await family.locateTokenizer(dir, { cacheDir: cache, python: PROJECT_PYTHON });
    const t = await timed(() => family.openTokenizer(files, config));
    tokenizers[name] = { tok: t.value, n: 64, load: t };
  }
  const rates: Record<string, number[]> = Object.fromEntries(Object.keys(tokenizers).map((k) => [k, []]));
  for (let r = 0; r < rounds; r++) {
    for (const [name, { tok, n }] of Object.entries(tokenizers)) {
      let count = 0;
      const t0 = performance.now();
      while (performance.now() - t0 < budgetMs) for (const caption of captions) (tok.tokenize(caption, n), count++);
      rates[name].push((count * 1000) / (performance.now() - t0));
    }
  }
  const median = (v: number[]) => [...v].sort((x, y) => x - y)[Math.floor(v.length / 2)];
  for (const [name, t] of Object.entries(tokenizers)) {
    console.log(JSON.stringify({ tokenizer: name, captionsPerSecond: Math.round(median(rates[name])), rounds: rates[name].map(Math.round), loadMs: Math.round(t.load.ms), loadHeapMB: +(t.load.heapBytes / 2 ** 20).toFixed(1) }));
  }
  rmSync(cache, { recursive: true, force: true });
}

void main();
