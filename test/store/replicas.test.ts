/**
 * Two clipql server processes (real HTTP) on one PostgreSQL + pgvector: what one adds the other
 * finds; one killed with SIGKILL in the middle of a stream of inserts loses nothing it had
 * acknowledged, and the other serves on (reads and writes).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { PostgresDriver } from '../../src/store/postgres-driver';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres';
import { patternImage } from '../helpers/images';
import { gql, startChildServer, type ChildServer } from '../helpers/server';

let db: TestDatabase;
let a: ChildServer;
let b: ChildServer;
const ADD = `mutation($images: [ImageInput!]!, $ids: [ID!]!) { addImages(collection: "shared", images: $images, ids: $ids) { count } }`;
const SEARCH = `query($image: ImageInput) { search(collection: "shared", image: $image, k: 1) { hits { id score } } }`;
const img = async (seed: number) => ({ base64: (await patternImage(seed % 251, 'png', 64, 48 + Math.floor(seed / 251))).toString('base64') });

before(async () => {
  db = await createTestDatabase();
  // Started one after the other: both run the migrations (the second finds them done).
  a = await startChildServer({ CLIP_STORE: db.url });
  b = await startChildServer({ CLIP_STORE: db.url });
});
after(async () => {
  // stop() waits for an exit that already happened when A was killed (exitCode stays null).
  if (a && a.child.exitCode === null && a.child.signalCode === null) await a.stop('SIGKILL');
  await b?.stop();
  await db?.drop();
});

/** The ids the database holds for the collection, read straight from PostgreSQL. */
async function storedIds(): Promise<Set<string>> {
  const d = new PostgresDriver({ connectionString: db.url, max: 1 });
  try {
    const [c] = await d.query<{ id: number }>('SELECT id FROM clip_collections WHERE name = $1', ['shared']);
    return new Set((await d.query<{ item_id: string }>(`SELECT item_id FROM clip_items_${c.id}`)).map((r) => r.item_id));
  } finally {
    await d.close();
  }
}

test('an item added through one replica is found through the other', async () => {
  assert.equal((await gql(a.url, 'mutation { createCollection(name: "shared") { engine } }')).body.data.createCollection.engine, 'postgres');
  const added = await gql(a.url, ADD, { images: [await img(1)], ids: ['from-a'] });
  assert.equal(added.body.errors, undefined, JSON.stringify(added.body.errors));
  const hit = (await gql(b.url, SEARCH, { image: await img(1) })).body.data.search.hits[0];
  assert.equal(hit.id, 'from-a');
  assert.ok(Math.abs(hit.score - 1) < 1e-5);
  assert.deepEqual((await gql(b.url, 'query { collections { name count } }')).body.data.collections, [{ name: 'shared', count: 1 }]);
});

test('a replica killed during inserts loses nothing acknowledged; the other serves on', async () => {
  const acknowledged: string[] = [];
  const failed: string[] = [];
  let next = 100;
  let killed = false;
  // Four concurrent writers on replica A, two images per call, until A dies.
  const writer = async () => {
    while (!killed) {
      const n = next++;
      if (n > 400) return;
      const ids = [`a-${n}-0`, `a-${n}-1`];
      try {
        const r = await gql(a.url, ADD, { images: [await img(2 * n), await img(2 * n + 1)], ids });
        if (r.body.errors) failed.push(r.body.errors[0].extensions?.code);
        else acknowledged.push(...ids);
      } catch {
        return; // the connection died with the process
      }
    }
  };
  const writers = Array.from({ length: 4 }, writer);
  while (acknowledged.length < 30) await new Promise((r) => setTimeout(r, 20));
  await a.stop('SIGKILL');
  killed = true;
  await Promise.all(writers);
  assert.deepEqual(failed, [], 'no insert failed before the kill');
  const stored = await storedIds();
  const lost = acknowledged.filter((id) => !stored.has(id));
  assert.deepEqual(lost, [], `${lost.length} of ${acknowledged.length} acknowledged items are missing`);
  // Whole calls only: an item's partner from the same call is never missing (one transaction).
  for (const id of stored) if (id.startsWith('a-')) assert.ok(stored.has(id.endsWith('-0') ? id.replace(/-0$/, '-1') : id.replace(/-1$/, '-0')), `half of a call stored: ${id}`);
  // B still reads and writes.
  const hit = (await gql(b.url, SEARCH, { image: await img(2 * 100) })).body.data.search.hits[0];
  assert.equal(hit.id, 'a-100-0');
  const r = await gql(b.url, ADD, { images: [await img(5)], ids: ['from-b'] });
  assert.equal(r.body.errors, undefined, JSON.stringify(r.body.errors));
  assert.equal(r.body.data.addImages.count, stored.size + 1);
  process.stdout.write(`replicas: ${acknowledged.length} acknowledged before SIGKILL, ${stored.size - 1 - acknowledged.length} more committed but unacknowledged, 0 lost\n`);
});
