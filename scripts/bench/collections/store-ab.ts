/**
 * Two side-by-side comparisons for the collection store (not a test), on the server engine, in
 * interleaved rounds so that drift hits both sides alike:
 *   1. a search as one statement (a driver whose connections start with searchSession()) against
 *      the transaction path (a driver without those settings: BEGIN, the catalogue read with
 *      set_config, the query, COMMIT), on the same 2,000-item collections of D = 32 and 768;
 *   2. embeddings kept in the row (STORAGE PLAIN, what createItemsTableSql sets up to D = 1536)
 *      against TOASTed ones (EXTENDED, PostgreSQL's default): insert rate and search time, two
 *      collections in one database.
 *
 *   node dist/scripts/bench/collections/store-ab.js [--per 1000] [--rounds 4]
 */
import { createDriver } from '../../../src/store/open';
import { itemsTable } from '../../../src/store/items-table';
import { CollectionStore, searchSession, type NewItem } from '../../../src/store/store';
import { createTestDatabase } from '../../../test/helpers/postgres';
import { rng } from '../../hostile/bytes';
import { randomUnit as unit } from '../common';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};

const items = (r: () => number, dim: number, n: number, prefix: string): NewItem[] =>
  Array.from({ length: n }, (_, j) => ({ id: `${prefix}${j}`, embedding: unit(r, dim), metadata: null, sha256: '0'.repeat(64), width: 1, height: 1, format: 'png', thumbnail: null }));

async function timeSearches(s: CollectionStore, name: string, model: { name: string; dim: number }, qs: Float32Array[]): Promise<number> {
  const t = performance.now();
  for (const q of qs) await s.search(name, model, q, { k: 10 });
  return (performance.now() - t) / qs.length;
}

const fmt = (xs: number[], d = 2) => xs.map((x) => x.toFixed(d)).join(' ');

async function main(): Promise<void> {
  const db = await createTestDatabase();
  const oneD = createDriver({ engine: 'postgres', target: db.url }, 8, searchSession(40));
  const txD = createDriver({ engine: 'postgres', target: db.url }, 8, {});
  const one = await CollectionStore.open(oneD, { efSearch: 40 });
  const tx = await CollectionStore.open(txD, { efSearch: 40 });
  try {
    for (const dim of [32, 768]) {
      const model = { name: `m${dim}`, dim };
      const g = rng(dim);
      await one.createCollection(`c${dim}`, model);
      for (let i = 0; i < 2000; i += 500) await one.upsert(`c${dim}`, model, items(g, dim, 500, `i${i}_`));
      await oneD.query('ANALYZE');
      const qs = Array.from({ length: 300 }, () => unit(g, dim));
      for (const s of [one, tx]) await timeSearches(s, `c${dim}`, model, qs.slice(0, 20));
      const ms = { one: [] as number[], tx: [] as number[] };
      for (let r = 0; r < 3; r++) {
        for (const k of r % 2 ? (['tx', 'one'] as const) : (['one', 'tx'] as const)) ms[k].push(await timeSearches(k === 'one' ? one : tx, `c${dim}`, model, qs));
      }
      console.log(`search, D = ${dim}, 2,000 items: one statement ${fmt(ms.one, 3)} ms; transaction ${fmt(ms.tx, 3)} ms (rounds)`);
    }

    const model = { name: 'm', dim: 768 };
    for (const mode of ['plain', 'extended']) {
      const c = await one.createCollection(mode, model);
      if (mode === 'extended') await oneD.query(`ALTER TABLE ${itemsTable(c.id)} ALTER COLUMN embedding SET STORAGE EXTENDED`);
    }
    const per = arg('per', 1000);
    const rounds = arg('rounds', 4);
    const rate = { plain: [] as number[], extended: [] as number[] };
    for (let r = 0; r < rounds; r++) {
      for (const mode of r % 2 ? (['extended', 'plain'] as const) : (['plain', 'extended'] as const)) {
        const batch = items(rng(100 + r), 768, per, `r${r}_`);
        const t = performance.now();
        for (let i = 0; i < per; i += 500) await one.upsert(mode, model, batch.slice(i, i + 500));
        rate[mode].push(per / ((performance.now() - t) / 1000));
      }
    }
    const g = rng(7);
    const qs = Array.from({ length: 200 }, () => unit(g, 768));
    const ms = { plain: [] as number[], extended: [] as number[] };
    for (const mode of ['plain', 'extended', 'extended', 'plain'] as const) ms[mode].push(await timeSearches(one, mode, model, qs));
    for (const mode of ['plain', 'extended'] as const) console.log(`${mode}: insert ${fmt(rate[mode], 0)} embeddings/s, search ${fmt(ms[mode])} ms (rounds; ${per * rounds} items)`);
  } finally {
    await one.close();
    await tx.close();
    await db.drop();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exitCode = 1;
});
