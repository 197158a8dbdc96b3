/**
 * Near-duplicates over a large collection, beside faiss (not a test):
 *
 *   node dist/scripts/bench/collections/duplicates.js [--engine postgres|pglite] [--n 100000] [--rounds 10]
 *        [--k 10] [--threshold 0.95] [--scan 1000] [--copies 0.02] [--same 0.005]
 *
 * The data: structured unit vectors of D = 768 (vectors.ts: clusters in a 64-d subspace, where
 * distinct items of one cluster are at cosine about 0.8), into which copies are planted: each
 * item is, with probability --copies, a near copy of an earlier item (its vector plus Gaussian
 * noise, cosine 0.97 to 0.995: a re-encode or resize as the notebook measurement saw them), and
 * with probability --same a byte copy (the same vector and sha256). Bulk-loaded into a collection
 * (the HNSW index built once after the rows, pgvector's m 16, ef_construction 64).
 *
 * The job, timed both ways on the same vectors, in --rounds interleaved slices of the items (the
 * order of the two alternating from round to round): clipql walks the collection with
 * CollectionStore.duplicates (pages of --scan items, as `clipql duplicates` does: each item's k
 * nearest through the index in one LATERAL statement per 100 items, groups closed by lookups by
 * id) until it has walked the slice; faiss (faiss_duplicates.py, IndexHNSWFlat with the same M,
 * ef_construction and efSearch, one thread) searches the same rows' k + 1 nearest. The rate of
 * each is items walked per second; their ratio per round, and its median. faiss's union-find at
 * the end is timed and added to its side.
 *
 * Quality beside the speed: the share of planted copies that each puts in one group with their
 * original, the groups that join two planted families (false merges), and how many of clipql's
 * groups faiss reports identically. Prints one JSON line at the end.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { defaultPython, REPO_ROOT } from '../../../src/paths';
import { duplicateEf } from '../../../src/store/duplicates';
import { createDriver } from '../../../src/store/open';
import { CollectionStore, searchSession, type NewItem } from '../../../src/store/store';
import { createTestDatabase } from '../../../test/helpers/postgres';
import { rng } from '../../hostile/bytes';
import { args, median } from '../common';
import { vectorSource } from './vectors';

const DIM = 768;

function gauss(r: () => number): number {
  return Math.sqrt(-2 * Math.log(r() || 1e-12)) * Math.cos(2 * Math.PI * r());
}

/** The vectors, with the planted copies: copyOf[i] is the item i copies (-1: none), same[i] whether it is a byte copy. */
function plant(n: number, copies: number, same: number): { vectors: Float32Array[]; copyOf: Int32Array; same: Uint8Array } {
  const source = vectorSource('structured', DIM, rng(3));
  const r = rng(1);
  const vectors: Float32Array[] = [];
  const copyOf = new Int32Array(n).fill(-1);
  const isSame = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const u = r();
    if (i > 0 && u < same) {
      copyOf[i] = Math.floor(r() * i);
      isSame[i] = 1;
      vectors.push(vectors[copyOf[i]]);
    } else if (i > 0 && u < same + copies) {
      copyOf[i] = Math.floor(r() * i);
      // |noise|² = D σ², so cosine ≈ 1 / sqrt(1 + D σ²): σ from 0.0037 to 0.0088 gives 0.97 to 0.995.
      const sigma = 0.0037 + r() * 0.0051;
      const v = Float32Array.from(vectors[copyOf[i]], (x) => x + sigma * gauss(r));
      const norm = Math.hypot(...v);
      vectors.push(v.map((x) => x / norm));
    } else vectors.push(source(r));
  }
  return { vectors, copyOf, same: isSame };
}

const id = (i: number) => `v${String(i).padStart(6, '0')}`;

/** The faiss peer: a child answering one line per command. */
function faissPeer(file: string, o: { k: number; threshold: number; ef: number }) {
  const child = spawn(defaultPython(), [path.join(REPO_ROOT, 'scripts', 'bench', 'collections', 'faiss_duplicates.py'), file, String(DIM), '--k', String(o.k), '--threshold', String(o.threshold), '--ef', String(o.ef)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async (prefix: string): Promise<string> => {
    const { value, done } = await lines.next();
    if (done || !String(value).startsWith(prefix)) throw new Error(`faiss peer: expected ${prefix}, got ${done ? 'its exit' : value}`);
    return String(value).slice(prefix.length + 1);
  };
  return {
    ready: () => next('READY').then((s) => JSON.parse(s) as Record<string, unknown>),
    async search(start: number, end: number): Promise<number> {
      child.stdin.write(`SEARCH ${start} ${end}\n`);
      return Number(await next('DONE'));
    },
    /** Ends the child (it exits by itself after GROUPS). */
    close: () => void child.kill(),
    async groups(out: string): Promise<Record<string, number>> {
      child.stdin.write(`GROUPS ${out}\n`);
      return JSON.parse(await next('RESULT')) as Record<string, number>;
    },
  };
}

/** Quality of `groups` (lists of row numbers) against the planted copies. */
function quality(groups: number[][], copyOf: Int32Array): { plantedFound: number; falseMerges: number } {
  const group = new Int32Array(copyOf.length).fill(-1);
  groups.forEach((g, k) => g.forEach((i) => (group[i] = k)));
  // The planted family of each item: the item it copies, followed to the first original.
  const family = (i: number): number => (copyOf[i] < 0 ? i : family(copyOf[i]));
  let planted = 0;
  let found = 0;
  copyOf.forEach((j, i) => {
    if (j < 0) return;
    planted++;
    if (group[i] >= 0 && group[i] === group[j]) found++;
  });
  const falseMerges = groups.filter((g) => new Set(g.map(family)).size > 1).length;
  return { plantedFound: +(found / planted).toFixed(4), falseMerges };
}

async function main(): Promise<void> {
  const a = args();
  const engine = (a.engine ?? 'postgres') as 'postgres' | 'pglite';
  const n = Number(a.n ?? 100_000);
  const rounds = Number(a.rounds ?? 10);
  const k = Number(a.k ?? 10);
  const threshold = Number(a.threshold ?? 0.95);
  const scan = Number(a.scan ?? 1000);
  const t0 = Date.now();
  const log = (m: string) => process.stderr.write(`[${((Date.now() - t0) / 1000).toFixed(0)} s] ${m}\n`);
  const out: Record<string, unknown> = { engine, n, dim: DIM, k, threshold, scan, ef: duplicateEf(k), date: new Date().toISOString(), machine: `${os.cpus().length} cores (shared with other builds)` };
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'clipql-bench-dups-'));
  let dropDb: (() => Promise<void>) | undefined;
  let peer: ReturnType<typeof faissPeer> | undefined;
  try {
    const { vectors, copyOf, same } = plant(n, Number(a.copies ?? 0.02), Number(a.same ?? 0.005));
    out.planted = { nearCopies: copyOf.filter((j, i) => j >= 0 && !same[i]).length, byteCopies: same.reduce((s, x) => s + x, 0) };
    log(`${n} vectors made, ${JSON.stringify(out.planted)}`);
    let target: string;
    if (engine === 'postgres') {
      const db = await createTestDatabase();
      [target, dropDb] = [db.url, db.drop];
    } else target = path.join(tmp, 'store');
    const store = await CollectionStore.open(createDriver({ engine, target }, 4, searchSession()), {});
    const model = { name: 'bench-d768', dim: DIM };
    await store.createCollection('dups', model);
    const sha = (i: number): string => (same[i] ? sha(copyOf[i]) : createHash('sha256').update(id(i)).digest('hex'));
    const items: NewItem[] = vectors.map((v, i) => ({ id: id(i), embedding: v, metadata: null, sha256: sha(i), width: 1, height: 1, format: 'png', thumbnail: null }));
    const load = await store.bulkLoad('dups', model, items, { chunk: 500, onProgress: (s) => void (s % 20_000 === 0 && log(`${s} stored`)) });
    out.load = { indexBuiltAfter: load.indexBuiltAfter, indexS: +load.indexSeconds.toFixed(1), totalS: Math.round((Date.now() - t0) / 1000) };
    log(`loaded: ${JSON.stringify(out.load)}`);

    const file = path.join(tmp, 'x.f32');
    writeFileSync(file, Buffer.concat(vectors.map((v) => Buffer.from(v.buffer, v.byteOffset, v.byteLength))));
    peer = faissPeer(file, { k, threshold, ef: duplicateEf(k) });
    out.faissBuild = await peer.ready();
    log(`faiss ready: ${JSON.stringify(out.faissBuild)}`);

    const clipqlGroups: number[][] = [];
    let after: string | null = null;
    let walked = 0;
    let complete = true;
    const perRound: Array<{ items: number; clipqlPerS: number; faissPerS: number; ratio: number }> = [];
    let clipqlS = 0;
    let faissS = 0;
    for (let round = 1; round <= rounds; round++) {
      const goal = Math.round((n * round) / rounds);
      const start = walked;
      // Pages end exactly at the slice's end (scan), so both sides do the same rows.
      const clipql = async () => {
        const t = performance.now();
        while (walked < goal) {
          const page = await store.duplicates('dups', { threshold, k, scan: Math.min(scan, goal - walked), first: 100, after });
          for (const g of page.groups) {
            clipqlGroups.push(g.items.map((x) => Number(x.id.slice(1))));
            complete &&= g.complete;
          }
          walked += page.scanned;
          after = page.endCursor;
          if (after === null) break;
        }
        return (performance.now() - t) / 1000;
      };
      // The order alternates: odd rounds clipql first.
      let c: number;
      let f: number;
      if (round % 2) {
        c = await clipql();
        f = await peer.search(start, walked);
      } else {
        f = await peer.search(start, goal);
        c = await clipql();
        if (walked !== goal) throw new Error(`clipql walked to ${walked}, faiss to ${goal}`);
      }
      clipqlS += c;
      faissS += f;
      const m = walked - start;
      perRound.push({ items: m, clipqlPerS: Math.round(m / c), faissPerS: Math.round(m / f), ratio: +((m / c) / (m / f)).toFixed(4) });
      log(`round ${round}: ${JSON.stringify(perRound.at(-1))}`);
    }
    const faissResult = await peer.groups(path.join(tmp, 'faiss-groups.json'));
    faissS += faissResult.unionS;
    const faissGroups = JSON.parse(readFileSync(path.join(tmp, 'faiss-groups.json'), 'utf8')) as number[][];
    const key = (g: number[]) => [...g].sort((x, y) => x - y).join(',');
    const faissKeys = new Set(faissGroups.map(key));
    out.rounds = perRound;
    out.clipql = { walked, seconds: +clipqlS.toFixed(1), itemsPerS: Math.round(walked / clipqlS), groups: clipqlGroups.length, itemsInGroups: clipqlGroups.reduce((s, g) => s + g.length, 0), allComplete: complete, ...quality(clipqlGroups, copyOf) };
    out.faiss = { ...faissResult, seconds: +faissS.toFixed(1), itemsPerS: Math.round(faissResult.searched / faissS), ...quality(faissGroups, copyOf) };
    out.ratioMedian = +median(perRound.map((r) => r.ratio)).toFixed(4);
    out.ratioWhole = +((walked / clipqlS) / (faissResult.searched / faissS)).toFixed(4);
    out.sameGroupsAsFaiss = clipqlGroups.filter((g) => faissKeys.has(key(g))).length;
    await store.close();
  } finally {
    peer?.close();
    out.durationS = Math.round((Date.now() - t0) / 1000);
    process.stdout.write(`${JSON.stringify(out)}\n`);
    rmSync(tmp, { recursive: true, force: true });
    await dropDb?.();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exitCode = 1;
});
