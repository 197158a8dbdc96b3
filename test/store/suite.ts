/**
 * The collection store's contract, one suite for every engine (pglite.test.ts, postgres.test.ts
 * run it). Expected values are written out by hand or computed here in plain JS from the test's
 * own vectors, never by the store.
 */
import { rng } from '../../scripts/hostile/bytes';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ErrorCode } from '../../src/errors';
import type { ConnectionSettings, StoreDriver } from '../../src/store/driver';
import { metadataText } from '../../src/store/limits';
import { itemsTable } from '../../src/store/items-table';
import { searchSql } from '../../src/store/nearest';
import { migrate } from '../../src/store/migrate';
import { CollectionStore, searchSession, type NewItem } from '../../src/store/store';

export interface Engine {
  /** A driver on an empty database (each call may return the same database), with these session settings. */
  driver(session: ConnectionSettings): Promise<StoreDriver>;
  /** Called once after the suite. */
  cleanup?(): Promise<void>;
}

const MODEL = { name: 'unit-model', dim: 4 };

function item(id: string, v: number[], metadata: unknown = null, thumbnail: Uint8Array | null = null): NewItem {
  return { id, embedding: Float32Array.from(v), metadata: metadataText(metadata, 'metadata'), sha256: 'ab'.repeat(32), width: 10, height: 20, format: 'png', thumbnail: thumbnail && { data: thumbnail, mime: 'image/png' } };
}

/** A search's hits (most tests here are about the hits; the ones about SearchResult call store.search). */
const search = (s: CollectionStore, ...args: Parameters<CollectionStore['search']>) => s.search(...args).then((r) => r.hits);

/** Rejects with a ClipqlError of `code`; returns its message. */
async function code(p: Promise<unknown>, expected: string): Promise<string> {
  try {
    await p;
  } catch (e) {
    assert.equal((e as { code?: string }).code, expected, `expected ${expected}, got ${(e as Error).message}`);
    return (e as Error).message;
  }
  assert.fail(`expected ${expected}, but it succeeded`);
}


export function storeSuite(name: string, engine: Engine): void {
  describe(`collection store on ${name}`, () => {
    let store: CollectionStore;
    before(async () => {
      // As openStore does: connections start with the searches' settings (pgvector's default 40).
      store = await CollectionStore.open(await engine.driver(searchSession()));
    });
    after(async () => {
      await store?.close();
      await engine.cleanup?.();
    });

    it('migrates once: a second run applies nothing', async () => {
      assert.deepEqual(await migrate(store.driver), []);
      const rows = await store.driver.query<{ version: number }>('SELECT version FROM clip_migrations ORDER BY version');
      assert.deepEqual(rows.map((r) => r.version), [1, 2, 3]);
    });

    it('creates, lists and refuses a duplicate name', async () => {
      const c = await store.createCollection('first', MODEL);
      assert.equal(c.name, 'first');
      assert.equal(c.model, 'unit-model');
      assert.equal(c.dim, 4);
      assert.match(c.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      await code(store.createCollection('first', MODEL), ErrorCode.COLLECTION_EXISTS);
      assert.ok((await store.collections()).some((x) => x.name === 'first'));
      assert.equal(await store.count('first'), 0);
    });

    it('ranks by cosine with the exact scores, replaces by id, deletes by id', async () => {
      await store.createCollection('angles', MODEL);
      const c30 = Math.cos(Math.PI / 6);
      // Not normalised on purpose: the store normalises; cosine does not care about length.
      await store.upsert('angles', MODEL, [item('x', [2, 0, 0, 0], { kind: 'axis' }), item('y', [0, 3, 0, 0], { kind: 'axis' }), item('d30', [c30, 0.5, 0, 0], { kind: 'diag', n: 1 })]);
      let hits = await search(store, 'angles', MODEL, Float32Array.from([1, 0, 0, 0]), { k: 10 });
      assert.deepEqual(hits.map((h) => h.id), ['x', 'd30', 'y']);
      assert.ok(Math.abs(hits[0].score - 1) < 1e-6, `${hits[0].score}`);
      assert.ok(Math.abs(hits[1].score - 0.8660254) < 1e-6, `${hits[1].score}`);
      assert.ok(Math.abs(hits[2].score - 0) < 1e-6, `${hits[2].score}`);
      assert.deepEqual(hits[1].metadata, { kind: 'diag', n: 1 });
      assert.equal(hits[1].width, 10);
      assert.equal(hits[1].format, 'png');
      // Same id again: replaced, not duplicated.
      await store.upsert('angles', MODEL, [item('y', [1, 1, 0, 0], { kind: 'moved' })]);
      assert.equal(await store.count('angles'), 3);
      hits = await search(store, 'angles', MODEL, Float32Array.from([1, 0, 0, 0]), { k: 10 });
      assert.deepEqual(hits.map((h) => h.id), ['x', 'd30', 'y']);
      assert.ok(Math.abs(hits[2].score - Math.SQRT1_2) < 1e-6);
      assert.deepEqual(hits[2].metadata, { kind: 'moved' });
      // Pagination: skip one, take one.
      const page = await search(store, 'angles', MODEL, Float32Array.from([1, 0, 0, 0]), { k: 1, offset: 1 });
      assert.deepEqual(page.map((h) => h.id), ['d30']);
      // Filter: metadata containment.
      const filtered = await search(store, 'angles', MODEL, Float32Array.from([1, 0, 0, 0]), { k: 10, filter: JSON.stringify({ kind: 'axis' }) });
      assert.deepEqual(filtered.map((h) => h.id), ['x']);
      assert.deepEqual((await store.delete('angles', ['x', 'never-there'])).sort(), ['x']);
      assert.equal(await store.count('angles'), 2);
    });

    it('stores ids and metadata as data, never as SQL', async () => {
      await store.createCollection('quotes', MODEL);
      const nasty = `a'); DROP TABLE clip_collections; --"\\`;
      await store.upsert('quotes', MODEL, [item(nasty, [0, 0, 1, 0], { q: "'; DELETE FROM clip_collections; --" }, Uint8Array.from([0, 1, 2, 255]))]);
      const [hit] = await search(store, 'quotes', MODEL, Float32Array.from([0, 0, 1, 0]), { k: 1 });
      assert.equal(hit.id, nasty);
      assert.deepEqual(hit.metadata, { q: "'; DELETE FROM clip_collections; --" });
      assert.deepEqual(Array.from(hit.thumbnail!.data), [0, 1, 2, 255]);
      assert.deepEqual(await store.delete('quotes', [nasty]), [nasty]);
      assert.ok((await store.collections()).length >= 2, 'the catalogue is intact');
    });

    it('answers bad input and a model mismatch with their codes', async () => {
      await store.createCollection('strict', MODEL);
      for (const bad of ['', 'has space', "x'; DROP TABLE clip_collections; --", '-lead', 'é', 'x'.repeat(65)]) await code(store.createCollection(bad, MODEL), ErrorCode.BAD_USER_INPUT);
      await code(search(store, 'missing', MODEL, Float32Array.from([1, 0, 0, 0]), { k: 1 }), ErrorCode.COLLECTION_NOT_FOUND);
      await code(store.upsert('missing', MODEL, [item('a', [1, 0, 0, 0])]), ErrorCode.COLLECTION_NOT_FOUND);
      for (const k of [0, -1, 101, 1.5]) await code(search(store, 'strict', MODEL, Float32Array.from([1, 0, 0, 0]), { k }), ErrorCode.BAD_USER_INPUT);
      await code(search(store, 'strict', MODEL, Float32Array.from([1, 0, 0, 0]), { k: 100, offset: 901 }), ErrorCode.BAD_USER_INPUT);
      await code(store.upsert('strict', MODEL, [item('dup', [1, 0, 0, 0]), item('dup', [0, 1, 0, 0])]), ErrorCode.BAD_USER_INPUT);
      await code(store.upsert('strict', MODEL, [item('', [1, 0, 0, 0])]), ErrorCode.BAD_USER_INPUT);
      await code(store.upsert('strict', MODEL, [item('a\u0000b', [1, 0, 0, 0])]), ErrorCode.BAD_USER_INPUT);
      await code(store.delete('strict', []), ErrorCode.BAD_USER_INPUT);
      await code(store.delete('strict', Array.from({ length: 1001 }, (_, i) => `id${i}`)), ErrorCode.TOO_MANY_INPUTS);
      await code(Promise.resolve().then(() => metadataText({ s: 'x'.repeat(9000) }, 'metadata[0]')), ErrorCode.METADATA_TOO_LARGE);
      const other = { name: 'other-model', dim: 4 };
      const msg = await code(search(store, 'strict', other, Float32Array.from([1, 0, 0, 0]), { k: 1 }), ErrorCode.MODEL_MISMATCH);
      assert.match(msg, /unit-model/);
      assert.match(msg, /other-model/);
      const wide = { name: 'unit-model', dim: 8 };
      assert.match(await code(store.upsert('strict', wide, [item('w', [1, 0, 0, 0, 0, 0, 0, 0])]), ErrorCode.MODEL_MISMATCH), /D = 4.*D = 8/);
      assert.equal(await store.count('strict'), 0, 'nothing of a failed call was written');
    });

    it('a failed write leaves nothing behind (one transaction per call)', async () => {
      await store.createCollection('atomic', MODEL);
      await store.upsert('atomic', MODEL, [item('keep', [1, 0, 0, 0])]);
      // The second item's NaN fails the call after the first item's INSERT was sent.
      await assert.rejects(store.upsert('atomic', MODEL, [item('new', [0, 1, 0, 0]), item('bad', [Number.NaN, 0, 0, 0])]));
      assert.equal(await store.count('atomic'), 1);
    });

    it('finds the true nearest neighbours of random vectors (recall@10 against exact search)', async () => {
      const dim = 32;
      const model = { name: 'unit-model', dim };
      await store.createCollection('random', model);
      const r = rng(7);
      const unit = () => {
        const v = Array.from({ length: dim }, () => r() * 2 - 1);
        const n = Math.hypot(...v);
        return v.map((x) => x / n);
      };
      const vectors = Array.from({ length: 400 }, unit);
      for (let i = 0; i < vectors.length; i += 50) await store.upsert('random', model, vectors.slice(i, i + 50).map((v, j) => item(`v${i + j}`, v)));
      let found = 0;
      for (let q = 0; q < 10; q++) {
        const query = unit();
        // float32 copies, as the store keeps them: the exact ranking the index approximates.
        const f = (v: number[]) => Float32Array.from(v);
        const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i], 0);
        const exact = vectors.map((v, i) => ({ id: `v${i}`, score: dot(f(v), f(query)) })).sort((a, b) => b.score - a.score).slice(0, 10);
        const hits = await search(store, 'random', model, Float32Array.from(query), { k: 10 });
        assert.equal(hits.length, 10);
        const want = new Set(exact.map((e) => e.id));
        found += hits.filter((h) => want.has(h.id)).length;
        for (const h of hits) {
          const i = Number(h.id.slice(1));
          assert.ok(Math.abs(h.score - dot(f(vectors[i]), f(query))) < 1e-5, `score of ${h.id}: ${h.score}`);
        }
        for (let i = 1; i < hits.length; i++) assert.ok(hits[i - 1].score >= hits[i].score - 1e-7, 'best first');
      }
      assert.ok(found / 100 >= 0.95, `recall@10 ${found / 100}`);
    });

    it("stores each collection's HNSW parameters, builds its index with them, and refuses pgvector's impossible ones", async () => {
      const c = await store.createCollection('tuned', MODEL, { hnsw: { m: 8, efConstruction: 40 } });
      assert.deepEqual(c.hnsw, { m: 8, efConstruction: 40 });
      assert.deepEqual((await store.collection('tuned'))?.hnsw, { m: 8, efConstruction: 40 });
      const [idx] = await store.driver.query<{ o: string[] | string }>('SELECT reloptions AS o FROM pg_class WHERE relname = $1', [`${itemsTable(c.id)}_hnsw`]);
      assert.deepEqual([...(Array.isArray(idx.o) ? idx.o : String(idx.o).replace(/[{}]/g, '').split(','))].sort(), ['ef_construction=40', 'm=8']);
      assert.deepEqual((await store.createCollection('defaults', MODEL)).hnsw, { m: 16, efConstruction: 64 });
      for (const hnsw of [{ m: 1 }, { m: 101 }, { efConstruction: 3 }, { m: 40, efConstruction: 64 }, { m: 2.5 }]) {
        await code(store.createCollection('refused', MODEL, { hnsw }), ErrorCode.BAD_USER_INPUT);
      }
      assert.equal(await store.collection('refused'), undefined, 'nothing was created');
    });

    it('says whether a search was exact: through the index it is not; asked for, or without an index, it is, and its hits are the true nearest', async () => {
      await store.createCollection('flags', MODEL);
      const r = rng(11);
      const vs = Array.from({ length: 60 }, () => Array.from({ length: 4 }, () => r() * 2 - 1));
      await store.upsert('flags', MODEL, vs.map((v, i) => item(`f${i}`, v)));
      const q = [0.3, -0.2, 0.9, 0.1];
      const norm = (v: number[]) => Math.hypot(...v);
      const truth = vs.map((v, i) => ({ id: `f${i}`, s: v.reduce((a, x, j) => a + x * q[j], 0) / (norm(v) * norm(q)) })).sort((a, b) => b.s - a.s).slice(0, 5).map((x) => x.id);
      const approx = await store.search('flags', MODEL, Float32Array.from(q), { k: 5, exact: false });
      assert.equal(approx.exact, false, 'through the HNSW index');
      assert.equal(approx.ef, 40, "pgvector's default");
      const exact = await store.search('flags', MODEL, Float32Array.from(q), { k: 5, exact: true, ef: 100 });
      assert.deepEqual([exact.exact, exact.ef], [true, 100]);
      assert.deepEqual(exact.hits.map((h) => h.id), truth);
      for (const ef of [0, 1001, 2.5]) await code(store.search('flags', MODEL, Float32Array.from(q), { k: 5, ef }), ErrorCode.BAD_USER_INPUT);
      assert.equal((await store.search('flags', MODEL, Float32Array.from(q), { k: 5, ef: 1 })).ef, 6, 'ef is raised to the depth + 1');
      const [c] = [await store.collection('flags')];
      await store.driver.query(`DROP INDEX ${itemsTable(c!.id)}_hnsw`);
      const scan = await store.search('flags', MODEL, Float32Array.from(q), { k: 5 });
      assert.equal(scan.exact, true, 'no index: an exact scan, and it says so');
      assert.deepEqual(scan.hits.map((h) => h.id), truth);
      assert.equal((await store.search('empty-flags', MODEL, Float32Array.from(q), { k: 5 }).catch((e: { code: string }) => e.code)), ErrorCode.COLLECTION_NOT_FOUND);
      assert.ok((await store.ensureIndex('flags')) > 0, 'ensureIndex builds the missing index');
      assert.equal(await store.ensureIndex('flags'), 0, 'and then finds it there');
      assert.equal((await store.search('flags', MODEL, Float32Array.from(q), { k: 5, exact: false })).exact, false);
    });

    it('chooses the plan by the table\'s size when not told: an exact scan (recall 1.0) up to the limit, the index past it, a filter with its own limit; the statement\'s plan checked', async () => {
      const c = await store.createCollection('auto', MODEL);
      const t = itemsTable(c.id);
      const r = rng(12);
      const vs = Array.from({ length: 800 }, () => Array.from({ length: 4 }, () => r() * 2 - 1));
      await store.upsert('auto', MODEL, vs.map((v, i) => item(`a${i}`, v, { g: i % 20 })));
      const q = [0.1, 0.7, -0.4, 0.2];
      const cos = (v: number[]) => v.reduce((a, x, j) => a + x * q[j], 0) / (Math.hypot(...v) * Math.hypot(...q));
      const truth = (keep: (i: number) => boolean) => vs.map((v, i) => ({ id: `a${i}`, s: cos(v), i })).filter((x) => keep(x.i)).sort((a, b) => b.s - a.s).slice(0, 10).map((x) => x.id);
      const [{ pages }] = await store.driver.query<{ pages: number }>(`SELECT (pg_relation_size($1) / current_setting('block_size')::int)::int AS pages`, [t]);
      assert.ok(pages > 2, `${pages} pages`);
      // Each search twice: the first (size not known yet) decides inside its statement, the second
      // by the size the first saw (nearest.ts); both must choose alike.
      const twice = async (s: CollectionStore, options: { filter?: string; exact?: boolean }) => {
        const [a, b] = [await s.search('auto', MODEL, Float32Array.from(q), { k: 10, ...options }), await s.search('auto', MODEL, Float32Array.from(q), { k: 10, ...options })];
        assert.equal(a.exact, b.exact, 'the kept size chooses as the statement did');
        assert.equal(a.pages, pages);
        return a;
      };
      // By default (500 pages; 2,000 filtered) this small collection is scanned exactly.
      const small = await twice(store, {});
      assert.equal(small.exact, true);
      assert.deepEqual(small.hits.map((h) => h.id), truth(() => true));
      // The limits as other stores set them, on the same database: at the table's size, one page under it.
      const limits = (unfiltered: number, filtered: number) => CollectionStore.open(store.driver, { exactScanPages: { unfiltered, filtered } });
      const filter = JSON.stringify({ g: 3 });
      assert.equal((await twice(await limits(pages, pages), {})).exact, true);
      assert.equal((await twice(await limits(pages - 1, pages), {})).exact, false, 'one page over the limit: the index');
      const filtered = await twice(await limits(pages - 1, pages), { filter });
      assert.equal(filtered.exact, true, 'a filter has its own limit');
      assert.deepEqual(filtered.hits.map((h) => h.id), truth((i) => i % 20 === 3));
      assert.equal((await twice(await limits(pages - 1, pages - 1), { filter })).exact, false);
      assert.equal((await twice(await limits(pages - 1, pages), { exact: true })).exact, true, 'told: exact');
      assert.equal((await twice(await limits(pages, pages), { exact: false })).exact, false, 'told: the index');
      // The statement itself, EXPLAINed: the branch not chosen is never executed.
      // Sequential scans priced out, as they are for a large collection (an 800-row table of D = 4
      // is cheaper to scan, and the planner would scan it in the index branch too).
      const explain = (limits: { unfiltered: number; filtered: number }) =>
        store.driver.transaction(async (tx) => {
          await tx.query("SELECT set_config('enable_seqscan', 'off', true)");
          const rows = await tx.query<Record<string, string>>(`EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) ${searchSql(c.id, 'auto', false, limits)}`, [store.driver.vector(Float32Array.from(q)), 10, 0]);
          return rows.map((row) => Object.values(row)[0]).join('\n');
        });
      const executed = (plan: string, node: RegExp) => plan.split('\n').some((l) => node.test(l) && !/never executed/.test(l));
      const scanned = await explain({ unfiltered: pages, filtered: pages });
      assert.ok(executed(scanned, new RegExp(`Seq Scan on ${t}`)) && !executed(scanned, new RegExp(`Index Scan using ${t}_hnsw`)), scanned);
      const indexed = await explain({ unfiltered: pages - 1, filtered: pages });
      assert.ok(executed(indexed, new RegExp(`Index Scan using ${t}_hnsw`)) && !executed(indexed, new RegExp(`Seq Scan on ${t}`)), indexed);
      // A kept size is stale only by growth: one search scans a table past the limit (and says
      // so), the next goes through the index.
      const growing = await limits(pages, pages);
      assert.equal((await twice(growing, {})).exact, true);
      await store.upsert('auto', MODEL, Array.from({ length: 400 }, (_, i) => item(`g${i}`, [i, 1, 2, 3])));
      const [stale, fresh] = [await growing.search('auto', MODEL, Float32Array.from(q), { k: 10 }), await growing.search('auto', MODEL, Float32Array.from(q), { k: 10 })];
      assert.ok(stale.pages > pages);
      assert.deepEqual([stale.exact, fresh.exact], [true, false]);
      await store.dropCollection('auto');
    });

    it('bulk-loads a large first load with the index built once after the rows; searchable (exactly) meanwhile; interrupted and resumed, everything stored once', async () => {
      const c = await store.createCollection('bulk', MODEL, { hnsw: { m: 12, efConstruction: 48 } });
      const t = itemsTable(c.id);
      const r = rng(5);
      const n = 1500;
      const all = Array.from({ length: n }, (_, i) => item(`b${i}`, Array.from({ length: 4 }, () => r() * 2 - 1), { i }));
      const q = Float32Array.from([0.5, 0.5, -0.5, 0.5]);
      const truthOf = (k: number, upTo: number) => {
        const qn = Math.hypot(...q);
        return all.slice(0, upTo).map((it) => ({ id: it.id, s: it.embedding.reduce((a, x, j) => a + x * q[j], 0) / (Math.hypot(...it.embedding) * qn) })).sort((a, b) => b.s - a.s).slice(0, k).map((x) => x.id);
      };
      // Interrupted after the second chunk: both chunks are stored whole, nothing else; the
      // collection has no index yet and its searches are exact.
      const abort = new AbortController();
      const during: boolean[] = [];
      await assert.rejects(
        store.bulkLoad('bulk', MODEL, all, {
          chunk: 250,
          signal: abort.signal,
          onProgress: async (stored) => {
            const res = await store.search('bulk', MODEL, q, { k: 5 });
            during.push(res.exact);
            assert.deepEqual(res.hits.map((h) => h.id), truthOf(5, stored), `searched at ${stored}: the exact nearest so far`);
            if (stored === 500) abort.abort();
          },
        }),
        (e: Error) => e.name === 'AbortError',
      );
      assert.deepEqual(during, [true, true]);
      assert.equal(await store.count('bulk'), 500);
      const [{ present }] = await store.driver.query<{ present: boolean }>('SELECT to_regclass($1) IS NOT NULL AS present', [`${t}_hnsw`]);
      assert.equal(present, false, 'the index waits for the end of the load');
      // Resumed with the whole list (the first 500 replace themselves): stored once each.
      const done = await store.bulkLoad('bulk', MODEL, all, { chunk: 400 });
      assert.equal(done.stored, n);
      assert.equal(await store.count('bulk'), n);
      assert.equal((await store.driver.query<{ n: number }>(`SELECT count(DISTINCT item_id)::int AS n FROM ${t}`))[0].n, n);
      assert.ok(done.indexSeconds > 0, 'the index was built after the rows');
      const [idx] = await store.driver.query<{ o: string[] | string; valid: boolean }>('SELECT c.reloptions AS o, i.indisvalid AS valid FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid WHERE c.relname = $1', [`${t}_hnsw`]);
      assert.equal(idx.valid, true);
      assert.match(String(idx.o), /m=12/);
      // The planner uses it (sequential scans priced out, as they are for a large collection).
      const plan = await store.driver.transaction(async (tx) => {
        await tx.query("SELECT set_config('enable_seqscan', 'off', true)");
        return (await tx.query<Record<string, string>>(`EXPLAIN SELECT item_id FROM ${t} ORDER BY embedding <=> $1::vector LIMIT 5`, ['[0.5,0.5,-0.5,0.5]'])).map((row) => Object.values(row)[0]).join('\n');
      });
      assert.match(plan, new RegExp(`Index Scan using ${t}_hnsw`), plan);
      const after = await store.search('bulk', MODEL, q, { k: 5, exact: false });
      assert.equal(after.exact, false);
      assert.equal((await store.embedding('bulk', 'b1499'))?.length, 4);
      // A load into a collection that already has rows keeps its index (and is not a rebuild).
      const more = await store.bulkLoad('bulk', MODEL, Array.from({ length: 1000 }, (_, i) => item(`m${i}`, [1, i, 0, 0])));
      assert.deepEqual([more.indexBuiltAfter, more.indexSeconds], [false, 0]);
      assert.equal(await store.count('bulk'), n + 1000);
      await store.dropCollection('bulk');
    });

    it('searches a 2,000-item collection of D = 768 through its HNSW index, not a scan of every row', async () => {
      // TOASTed vectors (over ~2 KB) make a sequential scan look cheap to the planner: before the
      // embeddings were kept in the row, a 20,000-item D = 768 collection was scanned whole.
      const wide = { name: 'wide-model', dim: 768 };
      const c = await store.createCollection('wide', wide);
      const t = itemsTable(c.id);
      // 2,000 rows made in SQL (random vectors), the index rebuilt after the load: quicker than
      // 2,000 upserts, and the planner sees the same table and index. (WHERE i > 0 makes the
      // subquery correlated, so each row gets its own random vector.)
      await store.driver.query(`DROP INDEX ${t}_hnsw`);
      await store.driver.query(
        `INSERT INTO ${t} (item_id, embedding, sha256, width, height, format)
         SELECT 'w' || i, (SELECT array_agg(random() - 0.5) FROM generate_series(1, 768) WHERE i > 0)::real[]::vector, 'x', 1, 1, 'png' FROM generate_series(1, 2000) AS i`,
      );
      await store.driver.query(`CREATE INDEX ${t}_hnsw ON ${t} USING hnsw (embedding vector_cosine_ops)`);
      await store.driver.query(`ANALYZE ${t}`);
      const [storage] = await store.driver.query<{ s: string }>("SELECT attstorage AS s FROM pg_attribute WHERE attrelid = $1::regclass AND attname = 'embedding'", [t]);
      assert.equal(storage.s, 'p', 'embeddings are kept in the row (STORAGE PLAIN)');
      const q = Array.from({ length: 768 }, (_, i) => Math.sin(i));
      const plan = (await store.driver.query<Record<string, string>>(`EXPLAIN SELECT item_id FROM ${t} ORDER BY embedding <=> $1::vector LIMIT 11`, [`[${q.join(',')}]`])).map((r) => Object.values(r)[0]).join('\n');
      assert.match(plan, new RegExp(`Index Scan using ${t}_hnsw`), plan.replace(/\[[^\]]*\]/g, '[…]'));
      assert.equal((await search(store, 'wide', wide, Float32Array.from(q), { k: 10 })).length, 10);
      await store.dropCollection('wide');
    });

    it('stores each embedding normalised (a unit vector bit for bit), refuses a non-finite one, and finds each by its own values', async () => {
      await store.createCollection('bits', MODEL);
      const r = rng(11);
      const raw = Array.from({ length: 3 }, () => Float32Array.from({ length: 4 }, () => r() - 0.5));
      const exact = [Float32Array.from([0.5, 0.5, 0.5, 0.5]), Float32Array.from([0, -1, 0, 0])]; // unit already: stored as given
      await store.upsert('bits', MODEL, [...raw, ...exact].map((v, i) => ({ ...item(`e${i}`, [...v]) })));
      const rows = await store.driver.query<{ item_id: string; e: string }>(`SELECT item_id, embedding::text AS e FROM ${itemsTable((await store.collection('bits'))!.id)} ORDER BY item_id`);
      const got = new Map(rows.map((x) => [x.item_id, Float32Array.from(JSON.parse(x.e) as number[])]));
      assert.deepEqual([...got.get('e3')!], [0.5, 0.5, 0.5, 0.5]);
      assert.deepEqual([...got.get('e4')!], [0, -1, 0, 0]);
      raw.forEach((v, i) => {
        const norm = Math.hypot(...v);
        [...got.get(`e${i}`)!].forEach((x, k) => assert.ok(Math.abs(x - v[k] / norm) <= 1e-7, `e${i}[${k}]: ${x} against ${v[k] / norm}`));
      });
      // A search by a stored vector finds it first with score 1 (the query travels the same way).
      const [top] = await search(store, 'bits', MODEL, raw[1], { k: 1, exact: true });
      assert.equal(top.id, 'e1');
      assert.ok(Math.abs(top.score - 1) < 1e-6, String(top.score));
      await assert.rejects(store.upsert('bits', MODEL, [item('ok', [1, 0, 0, 0]), item('nan', [NaN, 0, 0, 0])]), /embedding value 0 is NaN/);
      assert.equal(await store.count('bits'), 5, 'nothing of the refused call is stored');
    });

    it('pages id -> sha256 in id order, each row once (digestPage: what clipql index --server reads)', async () => {
      await store.createCollection('digests', MODEL);
      // Ids of one length from [0-9a-z], so every collation orders them as written here.
      const ids = ['p07', 'p00', 'p10', 'p03', 'p01', 'p09', 'p02'];
      await store.upsert('digests', MODEL, ids.map((id, i) => ({ ...item(id, [1, i, 0, 0]), sha256: String(i).repeat(64) })));
      const pages: string[][] = [];
      let after: string | null = null;
      for (;;) {
        const page = await store.digestPage('digests', after, 3);
        if (page.length === 0) break;
        pages.push(page.map((r) => `${r.id}:${r.sha256[0]}`));
        after = page[page.length - 1].id;
      }
      assert.deepEqual(pages, [['p00:1', 'p01:4', 'p02:6'], ['p03:3', 'p07:0', 'p09:5'], ['p10:2']]);
      await code(store.digestPage('no-such', null, 3), ErrorCode.COLLECTION_NOT_FOUND);
    });

    it('starts every connection with the session settings', async () => {
      const read = "SELECT current_setting('hnsw.ef_search') AS ef, current_setting('hnsw.iterative_scan') AS scan";
      // pgvector's defaults are 40 and off: strict_order shows the settings arrived.
      const outside = await Promise.all(Array.from({ length: 4 }, () => store.driver.query<{ ef: string; scan: string }>(read)));
      for (const [row] of outside) assert.deepEqual(row, { ef: '40', scan: 'strict_order' });
      const inside = await store.driver.transaction((tx) => tx.query<{ ef: string; scan: string }>(read));
      assert.deepEqual(inside[0], { ef: '40', scan: 'strict_order' });
    });

    it('searches a collection it knows in one statement, and notices when another replica re-created it', async () => {
      const calls: string[] = [];
      const d = store.driver;
      const counting: StoreDriver = {
        engine: d.engine,
        session: d.session,
        vector: (v) => d.vector(v),
        query: (sql, params) => (calls.push('query'), d.query(sql, params)),
        transaction: (fn) => (calls.push('transaction'), d.transaction(fn)),
        close: async () => undefined,
      };
      const replica = await CollectionStore.open(counting);
      await store.createCollection('known', MODEL);
      await store.upsert('known', MODEL, [item('a', [1, 0, 0, 0], { kind: 'k' }), item('b', [0, 1, 0, 0], { kind: 'k' })]);
      const q = Float32Array.from([1, 0.1, 0, 0]);
      calls.length = 0;
      assert.deepEqual((await search(replica, 'known', MODEL, q, { k: 2 })).map((h) => h.id), ['a', 'b']);
      assert.deepEqual(calls, ['transaction'], 'the first search reads the catalogue');
      calls.length = 0;
      assert.deepEqual((await search(replica, 'known', MODEL, q, { k: 2, filter: JSON.stringify({ kind: 'k' }) })).map((h) => h.id), ['a', 'b']);
      assert.deepEqual(calls, ['query'], 'then a search is the index query alone');
      calls.length = 0;
      await search(replica, 'known', MODEL, q, { k: 100, offset: 0 });
      assert.deepEqual(calls, ['transaction'], 'a deeper search than the session ef_search sets its own');
      // Another store (a replica) drops it and makes a new one of that name for another model.
      const other = { name: 'other-model', dim: 4 };
      await store.dropCollection('known');
      await store.createCollection('known', other);
      await store.upsert('known', other, [item('new', [0, 0, 1, 0])]);
      assert.match(await code(search(replica, 'known', MODEL, q, { k: 2 }), ErrorCode.MODEL_MISMATCH), /other-model/);
      calls.length = 0;
      assert.deepEqual((await search(replica, 'known', other, q, { k: 2 })).map((h) => h.id), ['new']);
      assert.deepEqual(calls, ['query'], 'the refused search read the new collection, and it is remembered');
      await store.dropCollection('known');
      calls.length = 0;
      await code(search(replica, 'known', other, q, { k: 2 }), ErrorCode.COLLECTION_NOT_FOUND);
      assert.deepEqual(calls, ['query', 'transaction'], 'the gone table sends it to the catalogue, which has no such name');
    });

    it('is safe to drop a collection while it is being searched', async () => {
      await store.createCollection('doomed', MODEL);
      await store.upsert('doomed', MODEL, Array.from({ length: 20 }, (_, i) => item(`i${i}`, [1, i / 20, 0, 0])));
      const q = Float32Array.from([1, 0, 0, 0]);
      await search(store, 'doomed', MODEL, q, { k: 5 }); // remembered: the one-statement path
      const racing: string[] = [];
      const later: string[] = [];
      const searches: Promise<unknown>[] = [];
      const launch = (into: string[]) =>
        searches.push(
          search(store, 'doomed', MODEL, q, { k: 5 }).then(
            (h) => {
              assert.equal(h.length, 5, 'a search that succeeds sees the whole collection');
              into.push('ok');
            },
            (e: { code?: string }) => into.push(e.code ?? String(e)),
          ),
        );
      // Searches start every millisecond until the drop has answered, so some run while it
      // waits for its lock and commits, whatever the machine's pace; then a few more start.
      let dropping = true;
      const feeder = (async () => {
        for (let i = 0; dropping && i < 2000; i++) {
          launch(racing);
          await new Promise((r) => setTimeout(r, 1));
        }
      })();
      await new Promise((r) => setTimeout(r, 10));
      assert.equal(await store.dropCollection('doomed'), true);
      dropping = false;
      await feeder;
      for (let i = 0; i < 5; i++) launch(later);
      await Promise.all(searches);
      const odd = (o: string) => o !== 'ok' && o !== ErrorCode.COLLECTION_NOT_FOUND;
      assert.deepEqual([...new Set(racing)].filter(odd), [], racing.join(','));
      assert.deepEqual(later, Array(5).fill(ErrorCode.COLLECTION_NOT_FOUND), 'searches after the drop find no collection');
      await code(search(store, 'doomed', MODEL, q, { k: 5 }), ErrorCode.COLLECTION_NOT_FOUND);
      assert.equal(await store.dropCollection('doomed'), false);
      // The name is free again, and the new collection is empty.
      await store.createCollection('doomed', MODEL);
      assert.equal(await store.count('doomed'), 0);
    });
  });
}
