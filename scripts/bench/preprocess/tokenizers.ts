/**
 * Tokenizer throughput (not a test): captions per second of CLIP's tokenizer (OpenAI's 49k BPE
 * vocabulary) and of the SigLIP family's two paths (SiglipTokenizer's unigram from spiece.model,
 * and a Gemma-style BPE tokenizer.json), each SigLIP one twice side by side: with
 * @huggingface/tokenizers' own model loops ("library", what clipql ran before) and with
 * src/families/siglip/fast-models.ts ("fast"). On one thread, interleaved in rounds, plus each
 * one's load time and heap growth.
 *
 *   node --expose-gc dist/scripts/bench/preprocess/tokenizers.js [--rounds 3] [--ms 1000]
 *
 * Rates per second of wall time and per second of the process's CPU time (the machine is shared),
 * medians of the rounds. Two of each per tokenizer: `repeated`, the 220 shared caption strings
 * (../shared/clip/tokenizer-reference.json) over and over (caches the library keeps per word hit);
 * `distinct`, each of them with a counter appended, so no caption is seen twice.
 *
 * The trained SigLIP tokenizers are small (test-artifacts/, made by
 * test/reference/siglip_tokenizers.py: 700-800 entries); "siglip2-256k" is the Gemma-style one
 * grown to SigLIP 2's 256,000 entries with seeded random merges of its own tokens, for what a
 * vocabulary that size costs to load (time, heap) and to look up in. Its added merges rarely match
 * real text, so its rates say little about the real Gemma vocabulary's merge counts.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { familyOf } from '../../../src/families/families';
import type { TextTokenizer, TokenizerFiles } from '../../../src/families/family';
import { SiglipTextTokenizer } from '../../../src/families/siglip/tokenizer';
import { loadBundle } from '../../../src/bundle/bundle';
import { ClipTokenizer } from '../../../src/preprocess/text';
import { TINY_MODEL_DIR, PROJECT_PYTHON } from '../../../src/paths';
import { siglipFixtures } from '../../../test/helpers/siglip';
import { BPE_VOCAB, sharedFile } from '../../../test/helpers/shared';
import { args } from '../common';

const BIG_VOCAB = 256_000;

async function timed<T>(f: () => Promise<T>): Promise<{ value: T; ms: number; heapBytes: number }> {
  global.gc?.();
  const heap0 = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  const value = await f();
  const ms = performance.now() - t0;
  global.gc?.();
  return { value, ms, heapBytes: process.memoryUsage().heapUsed - heap0 };
}

/** The Gemma-style tokenizer folder `src` grown to BIG_VOCAB entries (seeded merges of its tokens) in `out`. */
function growVocabulary(src: string, out: string): void {
  const json = JSON.parse(readFileSync(path.join(src, 'tokenizer.json'), 'utf8'));
  const vocab: Record<string, number> = json.model.vocab;
  const merges: [string, string][] = json.model.merges.map((m: string | [string, string]) => (typeof m === 'string' ? (m.split(' ', 2) as [string, string]) : m));
  const base = Object.keys(vocab).filter((t) => !/^<.*>$/.test(t));
  const all = [...base];
  let seed = 7;
  const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) % n;
  let id = Math.max(...Object.values(vocab)) + 1;
  while (id < BIG_VOCAB) {
    const a = all[rand(all.length)];
    const b = base[rand(base.length)];
    if (a + b in vocab) continue;
    vocab[a + b] = id++;
    merges.push([a, b]);
    all.push(a + b);
  }
  json.model.merges = merges;
  mkdirSync(out, { recursive: true });
  writeFileSync(path.join(out, 'tokenizer.json'), JSON.stringify(json));
  writeFileSync(path.join(out, 'tokenizer_config.json'), readFileSync(path.join(src, 'tokenizer_config.json')));
}

async function main(): Promise<void> {
  const a = args(process.argv.slice(2));
  const rounds = Number(a.rounds ?? 3);
  const budgetMs = Number(a.ms ?? 1000);
  const captions: string[] = JSON.parse(readFileSync(sharedFile('clip', 'tokenizer-reference.json'), 'utf8')).cases.map((c: { text: string }) => c.text);
  const cache = mkdtempSync(path.join(os.tmpdir(), 'clipql-bench-tok-'));
  const fixtures = await siglipFixtures();
  const tokenizers: Record<string, { tok: TextTokenizer; n: number; load: { ms: number; heapBytes: number } }> = {};
  const clip = await loadBundle(TINY_MODEL_DIR, { bpeVocab: BPE_VOCAB(), cacheDir: cache });
  const c = await timed(() => ClipTokenizer.fromBundle(clip.files.tokenizerDir));
  tokenizers.clip = { tok: c.value, n: 77, load: c };
  const big = path.join(cache, 'siglip2-256k');
  growVocabulary(path.join(fixtures, 'siglip2'), big);
  const folders: [string, string][] = [['siglip', path.join(fixtures, 'siglip')], ['siglip2', path.join(fixtures, 'siglip2')], ['siglip2-256k', big]];
  for (const [name, dir] of folders) {
    const config = name === 'siglip2-256k' ? { model_type: 'siglip' } : JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8'));
    const files: TokenizerFiles = await familyOf(config, 'config.json').locateTokenizer(dir, { cacheDir: cache, python: PROJECT_PYTHON });
    for (const mode of ['library', 'fast'] as const) {
      const t = await timed(() => SiglipTextTokenizer.open(files, { libraryModels: mode === 'library' }));
      tokenizers[`${name} ${mode}`] = { tok: t.value, n: 64, load: t };
    }
  }
  // per second of wall time and per second of this process's CPU time (what a shared machine's contention does not inflate)
  const rates: Record<string, Record<'repeated' | 'distinct' | 'repeatedCpu' | 'distinctCpu', number[]>> = Object.fromEntries(
    Object.keys(tokenizers).map((k) => [k, { repeated: [], distinct: [], repeatedCpu: [], distinctCpu: [] }]),
  );
  let serial = 0;
  for (let r = 0; r < rounds; r++) {
    for (const kind of ['repeated', 'distinct'] as const) {
      for (const [name, { tok, n }] of Object.entries(tokenizers)) {
        let count = 0;
        const t0 = performance.now();
        const cpu0 = process.cpuUsage();
        while (performance.now() - t0 < budgetMs) for (const caption of captions) (tok.tokenize(kind === 'repeated' ? caption : `${caption} ${serial++}`, n), count++);
        const cpu = process.cpuUsage(cpu0);
        rates[name][kind].push((count * 1000) / (performance.now() - t0));
        rates[name][`${kind}Cpu`].push((count * 1e6) / (cpu.user + cpu.system));
      }
    }
  }
  const median = (v: number[]) => Math.round([...v].sort((x, y) => x - y)[Math.floor(v.length / 2)]);
  for (const [name, t] of Object.entries(tokenizers)) {
    const r = rates[name];
    console.log(
      JSON.stringify({
        tokenizer: name,
        perWallSecond: { repeated: median(r.repeated), distinct: median(r.distinct) },
        perCpuSecond: { repeated: median(r.repeatedCpu), distinct: median(r.distinctCpu) },
        loadMs: Math.round(t.load.ms),
        loadHeapMB: +(t.load.heapBytes / 2 ** 20).toFixed(1),
      }),
    );
  }
  rmSync(cache, { recursive: true, force: true });
}

void main();
