/**
 * Migration 003 and the binding of collections to a model's identity, on PostgreSQL 15 +
 * pgvector (the same SQL runs on PGlite). A store is migrated to 002 only, and a collection is
 * made there as clipql did before fingerprints (recorded by name: tiny-clip-336, D = 4) with three
 * items. Then the current store opens it (applying 003) and:
 *   - it is still searchable by a model of that name, each score the cosine computed here, and
 *     that first use records the model's fingerprint and family;
 *   - an alias of those weights (another name, the same fingerprint) finds it too;
 *   - other weights under the same name, or another name never recorded, are MODEL_MISMATCH.
 * A collection made now records its fingerprint at creation and binds the same way.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ErrorCode, isClipqlError } from '../../src/errors';
import { PostgresDriver } from '../../src/store/postgres-driver';
import { createItemsTableSql, itemsTable } from '../../src/store/items-table';
import { loadMigrations, migrate } from '../../src/store/migrate';
import { CollectionStore, type ModelRef } from '../../src/store/store';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres';

const F = 'a'.repeat(64);
const G = 'b'.repeat(64);
const TINY: ModelRef = { name: 'tiny-clip-336', folder: 'tiny-clip-336', dim: 4, fingerprint: F, family: 'clip' };
const ALIAS: ModelRef = { ...TINY, name: 'photos' };
const OTHER_WEIGHTS: ModelRef = { ...TINY, fingerprint: G };
const VECTORS: Record<string, number[]> = { a: [1, 0, 0, 0], b: [0.6, 0.8, 0, 0], c: [0, 0, 1, 0] };

let db: TestDatabase;
let store: CollectionStore;

before(async () => {
  db = await createTestDatabase();
  const old = new PostgresDriver({ connectionString: db.url });
  try {
    assert.deepEqual(await migrate(old, loadMigrations().slice(0, 2)), [1, 2]);
    // A collection as clipql made it before migration 003: name-bound, items in their own table.
    const [{ id }] = await old.query<{ id: number }>("INSERT INTO clip_collections (name, model, dim) VALUES ('trip', 'tiny-clip-336', 4) RETURNING id");
    for (const s of createItemsTableSql(id, 4)) await old.query(s);
    for (const [item, v] of Object.entries(VECTORS)) {
      await old.query(`INSERT INTO ${itemsTable(id)} (item_id, embedding, sha256, width, height, format) VALUES ($1, $2::vector, $3, 1, 1, 'png')`, [item, `[${v.join(',')}]`, item.repeat(64)]);
    }
  } finally {
    await old.close();
  }
  store = await CollectionStore.open(new PostgresDriver({ connectionString: db.url }));
});
after(async () => {
  await store?.close();
  await db?.drop();
});

async function mismatch(p: Promise<unknown>): Promise<string> {
  const e = await p.then(() => undefined, (x: unknown) => x);
  assert.ok(isClipqlError(e) && e.code === ErrorCode.MODEL_MISMATCH, `expected MODEL_MISMATCH, got ${String(e)}`);
  return (e as Error).message;
}

const query = Float32Array.from([0.8, 0.6, 0, 0]);
const cosines = (q: Float32Array) =>
  Object.entries(VECTORS)
    .map(([id, v]) => ({ id, score: v.reduce((a, x, i) => a + x * q[i], 0) / Math.hypot(...v) / Math.hypot(...q) }))
    .sort((x, y) => y.score - x.score);

describe('migration 003: a collection recorded by name', () => {
  it('is still searchable by a model of that name, and its first use records the fingerprint', async () => {
    const before = await store.collection('trip');
    assert.equal(before?.fingerprint, null, 'migrated, not yet bound to weights');
    const r = await store.search('trip', TINY, query, { k: 3, exact: true });
    const want = cosines(query);
    assert.deepEqual(r.hits.map((h) => h.id), want.map((w) => w.id));
    r.hits.forEach((h, i) => assert.ok(Math.abs(h.score - want[i].score) < 1e-6, `${h.id}: ${h.score} vs ${want[i].score}`));
    const now = await store.collection('trip');
    assert.equal(now?.fingerprint, F);
    assert.equal(now?.family, 'clip');
    assert.equal(now?.model, 'tiny-clip-336');
  });

  it('then an alias of the same weights finds it; other weights under the same name do not', async () => {
    assert.equal((await store.search('trip', ALIAS, query, { k: 3 })).hits.length, 3);
    const msg = await mismatch(store.search('trip', OTHER_WEIGHTS, query, { k: 3 }));
    assert.match(msg, /model tiny-clip-336 \(D = 4\), weights aaaaaaaaaaaa; .* model tiny-clip-336 \(D = 4\), weights bbbbbbbbbbbb: other weights under the same name/);
    await mismatch(store.upsert('trip', OTHER_WEIGHTS, [{ id: 'd', embedding: query, metadata: null, sha256: 'd'.repeat(64), width: 1, height: 1, format: 'png', thumbnail: null }]));
    assert.equal(await store.count('trip'), 3, 'nothing of the refused write was stored');
  });

  it('another collection recorded by name refuses a model of another name, and binds the first one of its own', async () => {
    const driver = store.driver;
    const [{ id }] = await driver.query<{ id: number }>("INSERT INTO clip_collections (name, model, dim) VALUES ('legacy', 'ViT-B-32', 4) RETURNING id");
    for (const s of createItemsTableSql(id, 4)) await driver.query(s);
    await mismatch(store.search('legacy', ALIAS, query, { k: 1 }));
    assert.equal((await store.collection('legacy'))?.fingerprint, null, 'a refused model records nothing');
    await store.search('legacy', { name: 'ViT-B-32', dim: 4, fingerprint: G, family: 'clip' }, query, { k: 1 });
    assert.equal((await store.collection('legacy'))?.fingerprint, G);
  });

  it('a collection made now is bound to the fingerprint from the start', async () => {
    const c = await store.createCollection('fresh', ALIAS);
    assert.equal(c.fingerprint, F);
    assert.equal(c.model, 'photos');
    assert.equal((await store.search('fresh', TINY, query, { k: 1 })).hits.length, 0, 'the same weights under the folder name');
    await mismatch(store.search('fresh', OTHER_WEIGHTS, query, { k: 1 }));
    await mismatch(store.search('fresh', { ...ALIAS, dim: 8 }, Float32Array.from([1, 0, 0, 0, 0, 0, 0, 0]), { k: 1 }));
  });
});
