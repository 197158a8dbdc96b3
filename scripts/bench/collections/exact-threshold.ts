/**
 * Where an exact scan is cheap (not a test): the measurement behind the store's automatic choice
 * between an exact scan and the HNSW index (src/store/nearest.ts, EXACT_MAX_PAGES).
 *
 *   node dist/scripts/bench/collections/exact-threshold.js [--engine postgres|pglite] [--sizes 500,1000,...]
 *        [--queries 100] [--data structured|random] [--ef 40]
 *
 * For each size n, a collection of n vectors of D = 768 (bulk-loaded, HNSW index built after),
 * and `queries` top-10 searches forced each way (exact: true / false) and left to the store
 * (auto), without a filter and with one that 1 % of the items match: p50 (and p99) of each, the
 * recall@10 of the index (against the exact scan's hits) and the table's size in 8 KB pages
 * (what an exact scan reads, and what the store decides by). The six ways run interleaved in
 * three rounds; the first warms the caches and is dropped. Prints one JSON line per size and a
 * last one with all of them.
 */
import path from 'node:path';
import os from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';
import { rng } from '../../hostile/bytes';
import { createDriver } from '../../../src/store/open';
import { itemsTable } from '../../../src/store/items-table';
import { CollectionStore, searchSession, type NewItem } from '../../../src/store/store';
import { createTestDatabase } from '../../../test/helpers/postgres';
import { args, quantile } from '../common';
import { vectorSource } from './vectors';

/** A selective filter: 1 % of the items (tag = index mod 100). */
const FILTER = JSON.stringify({ tag: 7 });

const item = (id: string, embedding: Float32Array): NewItem => ({ id, embedding, metadata: JSON.stringify({ tag: Number(id.slice(1)) % 100 }), sha256: '0'.repeat(64), width: 1, height: 1, format: 'png', thumbnail: null });

async function main(): Promise<void> {
  const a = args();
  const engine = (a.engine ?? 'postgres') as 'postgres' | 'pglite';
  const sizes = (a.sizes ?? '500,1000,2000,4000,8000,16000,32000').split(',').map(Number);
  const queries = Number(a.queries ?? '100');
  const ef = Number(a.ef ?? '40');
  const dim = 768;
  const source = vectorSource((a.data ?? 'structured') as 'random' | 'structured', dim, rng(3));
  let target: string;
  let done: () => Promise<void>;
  if (engine === 'postgres') {
    const db = await createTestDatabase();
    target = db.url;
    done = db.drop;
  } else {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'clipql-bench-exact-'));
    target = dir;
    done = async () => rmSync(dir, { recursive: true, force: true });
  }
  const store = await CollectionStore.open(createDriver({ engine, target }, 4, searchSession(ef)), { efSearch: ef });
  const model = { name: 'bench-d768', dim };
  const rows: Record<string, number>[] = [];
  try {
    const r = rng(1);
    const qr = rng(2);
    const qs = Array.from({ length: queries }, () => source(qr));
    for (const n of sizes) {
      const name = `n${n}`;
      await store.createCollection(name, model);
      await store.bulkLoad(name, model, Array.from({ length: n }, (_, i) => item(`v${i}`, source(r))), { chunk: 500 });
      const c = (await store.collection(name))!;
      const [{ pages }] = await store.driver.query<{ pages: number }>(`SELECT (pg_relation_size($1) / current_setting('block_size')::int)::int AS pages`, [itemsTable(c.id)]);
      // The six ways, interleaved: three rounds, each running every way over all the queries;
      // the first round warms the caches and is dropped (timings drift: compare side by side).
      const ways = { ex: [true, undefined], ap: [false, undefined], auto: [undefined, undefined], fex: [true, FILTER], fap: [false, FILTER], fauto: [undefined, FILTER] } as const;
      const lat = Object.fromEntries(Object.keys(ways).map((k) => [k, [] as number[]])) as Record<keyof typeof ways, number[]>;
      const ids = Object.fromEntries(Object.keys(ways).map((k) => [k, [] as string[][]])) as Record<keyof typeof ways, string[][]>;
      const exacts = Object.fromEntries(Object.keys(ways).map((k) => [k, 0])) as Record<keyof typeof ways, number>;
      for (let round = 0; round < 3; round++) {
        for (const [way, [exact, filter]] of Object.entries(ways) as [keyof typeof ways, readonly [boolean | undefined, string | undefined]][]) {
          ids[way] = [];
          for (const q of qs) {
            const t = performance.now();
            const res = await store.search(name, model, q, { k: 10, exact, filter });
            if (round > 0) lat[way].push(performance.now() - t);
            ids[way].push(res.hits.map((h) => h.id));
            if (round === 2 && res.exact) exacts[way]++;
          }
        }
      }
      const stat = (way: keyof typeof ways) => {
        const sorted = [...lat[way]].sort((x, y) => x - y);
        return { p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), ids: ids[way] };
      };
      const [ex, ap, auto, fex, fap, fauto] = (['ex', 'ap', 'auto', 'fex', 'fap', 'fauto'] as const).map(stat);
      let found = 0;
      for (let q = 0; q < queries; q++) found += ap.ids[q].filter((id) => ex.ids[q].includes(id)).length;
      let ffound = 0;
      let fwant = 0;
      for (let q = 0; q < queries; q++) {
        fwant += fex.ids[q].length;
        ffound += fap.ids[q].filter((id) => fex.ids[q].includes(id)).length;
      }
      const row = {
        n, pages,
        exactP50Ms: +ex.p50.toFixed(2), exactP99Ms: +ex.p99.toFixed(2),
        hnswP50Ms: +ap.p50.toFixed(2), hnswP99Ms: +ap.p99.toFixed(2), hnswRecall: +(found / (queries * 10)).toFixed(4), autoP50Ms: +auto.p50.toFixed(2), autoExact: exacts.auto / queries,
        filteredExactP50Ms: +fex.p50.toFixed(2), filteredHnswP50Ms: +fap.p50.toFixed(2), filteredHnswRecall: +(ffound / Math.max(1, fwant)).toFixed(4), filteredAutoP50Ms: +fauto.p50.toFixed(2), filteredAutoExact: exacts.fauto / queries,
      };
      rows.push(row);
      process.stderr.write(`${JSON.stringify(row)}\n`);
      await store.dropCollection(name);
    }
    process.stdout.write(`${JSON.stringify({ engine, dim, ef, data: a.data ?? 'structured', queries, date: new Date().toISOString(), rows })}\n`);
  } finally {
    await store.close();
    await done();
  }
}

main().catch((e) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
