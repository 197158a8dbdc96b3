/**
 * Benchmark of the collection store (not a test): the targets.
 *
 *   node dist/scripts/bench/store.js [--engine postgres|pglite] [--n 100000] [--dim 768]
 *        [--queries 200] [--budget-s 900] [--graphql-n 20000] [--ef 40,100,400] [--no-graphql]
 *
 * 1. n random unit vectors of D = dim (seeded) inserted through CollectionStore.upsert in
 *    transactions of 500 into a collection with its HNSW index (incremental build): the insert
 *    rate in embeddings/s, excluding any encoding. PGlite stops early when the time budget's half
 *    is spent (it reports how many it inserted).
 * 2. `queries` random unit queries, top-10 through CollectionStore.search at each ef_search of
 *    --ef (the first is pgvector's default, 40): latency p50 / p99, and recall@10 against exact
 *    search (brute force in JS over the same float32 vectors).
 * 3. A search by caption through GraphQL (the tiny model, D = 32: a second collection of
 *    `graphql-n` random vectors under its name, a cached caption) against the bare index query
 *    (the same SELECT ... ORDER BY embedding <=> q LIMIT 10, one statement, through the same
 *    driver), both sequential: the ratio of their rates (target ≥ 0.9).
 * The server engine uses a throwaway database from test/helpers/postgres.ts (or
 * CLIPQL_TEST_POSTGRES). Prints one JSON line at the end.
 */
import { rng } from '../hostile/bytes';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createDriver } from '../../src/store/open';
import { itemsTable } from '../../src/store/items-table';
import { CollectionStore, vectorText, type NewItem } from '../../src/store/store';
import { createTestDatabase } from '../../test/helpers/postgres';
import { gql, startTestService } from '../../test/helpers/server';
import { quantile } from './common';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}


/** A random unit vector (Gaussian by Box–Muller, normalised), float32. */
function unit(r: () => number, dim: number): Float32Array {
  const v = new Float32Array(dim);
  let s = 0;
  for (let i = 0; i < dim; i++) {
    v[i] = Math.sqrt(-2 * Math.log(r() || 1e-12)) * Math.cos(2 * Math.PI * r());
    s += v[i] * v[i];
  }
  const inv = 1 / Math.sqrt(s);
  for (let i = 0; i < dim; i++) v[i] *= inv;
  return v;
}

const item = (id: string, embedding: Float32Array): NewItem => ({ id, embedding, metadata: null, sha256: '0'.repeat(64), width: 1, height: 1, format: 'png', thumbnail: null });

async function main(): Promise<void> {
  const engine = arg('engine', 'postgres') as 'postgres' | 'pglite';
  const n = Number(arg('n', engine === 'postgres' ? '100000' : '10000'));
  const dim = Number(arg('dim', '768'));
  const queries = Number(arg('queries', '200'));
  const budgetMs = Number(arg('budget-s', '900')) * 1000;
  const graphqlN = Number(arg('graphql-n', '20000'));
  const efs = arg('ef', '40,100,400').split(',').map(Number);
  const withGraphql = !process.argv.includes('--no-graphql');
  const t0 = Date.now();
  let dir: string | undefined;
  let dropDb: (() => Promise<void>) | undefined;
  let target: string;
  if (engine === 'postgres') {
    const db = await createTestDatabase();
    target = db.url;
    dropDb = db.drop;
  } else {
    target = dir = mkdtempSync(path.join(os.tmpdir(), 'clipql-bench-store-'));
  }
  const log = (m: string) => process.stderr.write(`[${((Date.now() - t0) / 1000).toFixed(0)} s] ${m}\n`);
  const out: Record<string, unknown> = { engine, dim, date: new Date().toISOString() };
  try {
    const driver = createDriver({ engine, target });
    const store = await CollectionStore.open(driver);
    const model = { name: 'bench-random', dim };
    await store.createCollection('bench', model);
    const r = rng(1);
    const vectors: Float32Array[] = [];
    const tInsert = performance.now();
    for (let i = 0; i < n; i += 500) {
      const batch = Array.from({ length: Math.min(500, n - i) }, () => unit(r, dim));
      await store.upsert('bench', model, batch.map((v, j) => item(`v${i + j}`, v)));
      vectors.push(...batch);
      if ((i / 500) % 20 === 19) log(`${vectors.length} inserted, ${(vectors.length / ((performance.now() - tInsert) / 1000)).toFixed(0)}/s`);
      if (Date.now() - t0 > budgetMs / 2) {
        log(`half of the time budget spent: stopping at ${vectors.length}`);
        break;
      }
    }
    const insertS = (performance.now() - tInsert) / 1000;
    out.items = vectors.length;
    out.insertPerS = Math.round(vectors.length / insertS);
    out.insertS = Math.round(insertS);

    const qr = rng(2);
    const qs = Array.from({ length: queries }, () => unit(qr, dim));
    // Exact top 10 of each query by brute force over the same float32 vectors.
    const exact = qs.map((query) => {
      const scores = new Float64Array(vectors.length);
      for (let i = 0; i < vectors.length; i++) {
        const v = vectors[i];
        let s = 0;
        for (let k = 0; k < dim; k++) s += v[k] * query[k];
        scores[i] = s;
      }
      return new Set(Array.from(scores.keys()).sort((a, b) => scores[b] - scores[a]).slice(0, 10).map((i) => `v${i}`));
    });
    const byEf: Record<string, unknown>[] = [];
    for (const ef of efs) {
      // A store object per ef_search over the same driver (open() finds the migrations done).
      const s = await CollectionStore.open(driver, { efSearch: ef });
      const lat: number[] = [];
      let found = 0;
      for (let q = 0; q < queries; q++) {
        const t = performance.now();
        const hits = await s.search('bench', model, qs[q], { k: 10 });
        lat.push(performance.now() - t);
        found += hits.filter((h) => exact[q].has(h.id)).length;
      }
      lat.sort((a, b) => a - b);
      const row = { efSearch: ef, searchP50Ms: +quantile(lat, 0.5).toFixed(2), searchP99Ms: +quantile(lat, 0.99).toFixed(2), recallAt10: +(found / (queries * 10)).toFixed(4) };
      byEf.push(row);
      log(JSON.stringify(row));
    }
    out.search = byEf;
    await store.dropCollection('bench');
    await store.close();

    if (!withGraphql) return;
    // GraphQL search by a cached caption against the bare index query, tiny model (D = 32).
    const service = await startTestService({ CLIP_STORE: target });
    try {
      const s = await service.store.get();
      const tiny = { name: service.pipeline.bundle.name, dim: 32 };
      const c = await s.createCollection('bench-gql', tiny);
      const gr = rng(3);
      for (let i = 0; i < graphqlN; i += 500) await s.upsert('bench-gql', tiny, Array.from({ length: Math.min(500, graphqlN - i) }, (_, j) => item(`g${i + j}`, unit(gr, 32))));
      const caption = 'It is a photo of a cat';
      const query = await service.pipeline.embedText(caption);
      const bare = `SELECT item_id, 1 - (embedding <=> $1::vector) AS score, metadata, sha256, width, height, format, thumbnail, thumbnail_mime FROM ${itemsTable(c.id)} ORDER BY embedding <=> $1::vector LIMIT 10`;
      const q = vectorText(query);
      const body = JSON.stringify({ query: 'query($t: String) { search(collection: "bench-gql", text: $t, k: 10) { hits { id score thumbnail } } }', variables: { t: caption } });
      const once = async () => (await fetch(`${service.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })).text();
      for (let i = 0; i < 50; i++) {
        await s.driver.query(bare, [q]);
        await once();
      }
      const check = await gql(service.url, 'query($t: String) { search(collection: "bench-gql", text: $t, k: 10) { hits { id } } }', { t: caption });
      if (check.body.errors) throw new Error(JSON.stringify(check.body.errors));
      // Interleaved rounds: the ratio of rates measured side by side (FACTS: timing noise).
      const rounds: { bare: number; graphql: number }[] = [];
      for (let round = 0; round < 5; round++) {
        let t = performance.now();
        for (let i = 0; i < 200; i++) await s.driver.query(bare, [q]);
        const bareRate = 200 / ((performance.now() - t) / 1000);
        t = performance.now();
        for (let i = 0; i < 200; i++) await once();
        rounds.push({ bare: bareRate, graphql: 200 / ((performance.now() - t) / 1000) });
      }
      const ratios = rounds.map((x) => x.graphql / x.bare).sort((a, b) => a - b);
      out.graphql = { items: graphqlN, bareQueryPerS: Math.round(rounds.reduce((a, x) => a + x.bare, 0) / rounds.length), graphqlSearchPerS: Math.round(rounds.reduce((a, x) => a + x.graphql, 0) / rounds.length), ratioMedian: +ratios[2].toFixed(3), ratios: ratios.map((x) => +x.toFixed(3)) };
      log(`graphql ${JSON.stringify(out.graphql)}`);
    } finally {
      await service.stop();
    }
  } finally {
    out.durationS = Math.round((Date.now() - t0) / 1000);
    process.stdout.write(`${JSON.stringify(out)}\n`);
    if (dir) rmSync(dir, { recursive: true, force: true });
    await dropDb?.();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exitCode = 1;
});
