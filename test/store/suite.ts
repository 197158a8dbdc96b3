/**
 * The collection store's contract, one suite for every engine (pglite.test.ts, postgres.test.ts
 * run it). Expected values are written out by hand or computed here in plain JS from the test's
 * own vectors, never by the store.
 */
import { rng } from '../../scripts/hostile/bytes';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ErrorCode } from '../../src/errors';
import type { SessionSettings, StoreDriver } from '../../src/store/driver';
import { metadataText } from '../../src/store/limits';
import { itemsTable } from '../../src/store/items-table';
import { migrate } from '../../src/store/migrate';
import { CollectionStore, searchSession, type NewItem } from '../../src/store/store';

export interface Engine {
  /** A driver on an empty database (each call may return the same database), with these session settings. */
  driver(session: SessionSettings): Promise<StoreDriver>;
  /** Called once after the suite. */
  cleanup?(): Promise<void>;
}

const MODEL = { name: 'unit-model', dim: 4 };

function item(id: string, v: number[], metadata: unknown = null, thumbnail: Uint8Array | null = null): NewItem {
  return { id, embedding: Float32Array.from(v), metadata: metadataText(metadata, 'metadata'), sha256: 'ab'.repeat(32), width: 10, height: 20, format: 'png', thumbnail: thumbnail && { data: thumbnail, mime: 'image/png' } };
}

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
      assert.deepEqual(rows.map((r) => r.version), [1]);
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
      let hits = await store.search('angles', MODEL, Float32Array.from([1, 0, 0, 0]), { k: 10 });
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
      hits = await store.search('angles', MODEL, Float32Array.from([1, 0, 0, 0]), { k: 10 });
      assert.deepEqual(hits.map((h) => h.id), ['x', 'd30', 'y']);
      assert.ok(Math.abs(hits[2].score - Math.SQRT1_2) < 1e-6);
      assert.deepEqual(hits[2].metadata, { kind: 'moved' });
      // Pagination: skip one, take one.
      const page = await store.search('angles', MODEL, Float32Array.from([1, 0, 0, 0]), { k: 1, offset: 1 });
      assert.deepEqual(page.map((h) => h.id), ['d30']);
      // Filter: metadata containment.
      const filtered = await store.search('angles', MODEL, Float32Array.from([1, 0, 0, 0]), { k: 10, filter: JSON.stringify({ kind: 'axis' }) });
      assert.deepEqual(filtered.map((h) => h.id), ['x']);
      assert.deepEqual((await store.delete('angles', ['x', 'never-there'])).sort(), ['x']);
      assert.equal(await store.count('angles'), 2);
    });

    it('stores ids and metadata as data, never as SQL', async () => {
      await store.createCollection('quotes', MODEL);
      const nasty = `a'); DROP TABLE clip_collections; --"\\`;
      await store.upsert('quotes', MODEL, [item(nasty, [0, 0, 1, 0], { q: "'; DELETE FROM clip_collections; --" }, Uint8Array.from([0, 1, 2, 255]))]);
      const [hit] = await store.search('quotes', MODEL, Float32Array.from([0, 0, 1, 0]), { k: 1 });
      assert.equal(hit.id, nasty);
      assert.deepEqual(hit.metadata, { q: "'; DELETE FROM clip_collections; --" });
      assert.deepEqual(Array.from(hit.thumbnail!.data), [0, 1, 2, 255]);
      assert.deepEqual(await store.delete('quotes', [nasty]), [nasty]);
      assert.ok((await store.collections()).length >= 2, 'the catalogue is intact');
    });

    it('answers bad input and a model mismatch with their codes', async () => {
      await store.createCollection('strict', MODEL);
      for (const bad of ['', 'has space', "x'; DROP TABLE clip_collections; --", '-lead', 'é', 'x'.repeat(65)]) await code(store.createCollection(bad, MODEL), ErrorCode.BAD_USER_INPUT);
      await code(store.search('missing', MODEL, Float32Array.from([1, 0, 0, 0]), { k: 1 }), ErrorCode.COLLECTION_NOT_FOUND);
      await code(store.upsert('missing', MODEL, [item('a', [1, 0, 0, 0])]), ErrorCode.COLLECTION_NOT_FOUND);
      for (const k of [0, -1, 101, 1.5]) await code(store.search('strict', MODEL, Float32Array.from([1, 0, 0, 0]), { k }), ErrorCode.BAD_USER_INPUT);
      await code(store.search('strict', MODEL, Float32Array.from([1, 0, 0, 0]), { k: 100, offset: 901 }), ErrorCode.BAD_USER_INPUT);
      await code(store.upsert('strict', MODEL, [item('dup', [1, 0, 0, 0]), item('dup', [0, 1, 0, 0])]), ErrorCode.BAD_USER_INPUT);
      await code(store.upsert('strict', MODEL, [item('', [1, 0, 0, 0])]), ErrorCode.BAD_USER_INPUT);
      await code(store.upsert('strict', MODEL, [item('a\u0000b', [1, 0, 0, 0])]), ErrorCode.BAD_USER_INPUT);
      await code(store.delete('strict', []), ErrorCode.BAD_USER_INPUT);
      await code(store.delete('strict', Array.from({ length: 1001 }, (_, i) => `id${i}`)), ErrorCode.TOO_MANY_INPUTS);
      await code(Promise.resolve().then(() => metadataText({ s: 'x'.repeat(9000) }, 'metadata[0]')), ErrorCode.METADATA_TOO_LARGE);
      const other = { name: 'other-model', dim: 4 };
      const msg = await code(store.search('strict', other, Float32Array.from([1, 0, 0, 0]), { k: 1 }), ErrorCode.MODEL_MISMATCH);
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
        const hits = await store.search('random', model, Float32Array.from(query), { k: 10 });
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
      assert.equal((await store.search('wide', wide, Float32Array.from(q), { k: 10 })).length, 10);
      await store.dropCollection('wide');
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
        query: (sql, params) => (calls.push('query'), d.query(sql, params)),
        transaction: (fn) => (calls.push('transaction'), d.transaction(fn)),
        close: async () => undefined,
      };
      const replica = await CollectionStore.open(counting);
      await store.createCollection('known', MODEL);
      await store.upsert('known', MODEL, [item('a', [1, 0, 0, 0], { kind: 'k' }), item('b', [0, 1, 0, 0], { kind: 'k' })]);
      const q = Float32Array.from([1, 0.1, 0, 0]);
      calls.length = 0;
      assert.deepEqual((await replica.search('known', MODEL, q, { k: 2 })).map((h) => h.id), ['a', 'b']);
      assert.deepEqual(calls, ['transaction'], 'the first search reads the catalogue');
      calls.length = 0;
      assert.deepEqual((await replica.search('known', MODEL, q, { k: 2, filter: JSON.stringify({ kind: 'k' }) })).map((h) => h.id), ['a', 'b']);
      assert.deepEqual(calls, ['query'], 'then a search is the index query alone');
      calls.length = 0;
      await replica.search('known', MODEL, q, { k: 100, offset: 0 });
      assert.deepEqual(calls, ['transaction'], 'a deeper search than the session ef_search sets its own');
      // Another store (a replica) drops it and makes a new one of that name for another model.
      const other = { name: 'other-model', dim: 4 };
      await store.dropCollection('known');
      await store.createCollection('known', other);
      await store.upsert('known', other, [item('new', [0, 0, 1, 0])]);
      assert.match(await code(replica.search('known', MODEL, q, { k: 2 }), ErrorCode.MODEL_MISMATCH), /other-model/);
      calls.length = 0;
      assert.deepEqual((await replica.search('known', other, q, { k: 2 })).map((h) => h.id), ['new']);
      assert.deepEqual(calls, ['query'], 'the refused search read the new collection, and it is remembered');
      await store.dropCollection('known');
      calls.length = 0;
      await code(replica.search('known', other, q, { k: 2 }), ErrorCode.COLLECTION_NOT_FOUND);
      assert.deepEqual(calls, ['query', 'transaction'], 'the gone table sends it to the catalogue, which has no such name');
    });

    it('is safe to drop a collection while it is being searched', async () => {
      await store.createCollection('doomed', MODEL);
      await store.upsert('doomed', MODEL, Array.from({ length: 20 }, (_, i) => item(`i${i}`, [1, i / 20, 0, 0])));
      const q = Float32Array.from([1, 0, 0, 0]);
      await store.search('doomed', MODEL, q, { k: 5 }); // remembered: the one-statement path
      const racing: string[] = [];
      const later: string[] = [];
      const searches: Promise<unknown>[] = [];
      const launch = (into: string[]) =>
        searches.push(
          store.search('doomed', MODEL, q, { k: 5 }).then(
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
      await code(store.search('doomed', MODEL, q, { k: 5 }), ErrorCode.COLLECTION_NOT_FOUND);
      assert.equal(await store.dropCollection('doomed'), false);
      // The name is free again, and the new collection is empty.
      await store.createCollection('doomed', MODEL);
      assert.equal(await store.count('doomed'), 0);
    });
  });
}
