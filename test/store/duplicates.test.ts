/**
 * Near-duplicates in the store (src/store/duplicates.ts) on both engines, with vectors chosen by
 * hand so that every expected group is written out here: a chain (copies of copies), byte
 * duplicates, a component cut at MAX_GROUP, pages of every size giving the same groups once, the
 * neighbour statement answered by the HNSW index, and bad options with their codes. Each group
 * is also checked against the connected components of all pairs at or above the threshold,
 * computed here in plain JS from the test's own vectors (not through the store).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { SETTINGS } from '../../src/config/settings';
import { ErrorCode } from '../../src/errors';
import { DEFAULT_DUPLICATE_THRESHOLD, duplicateSql, MAX_GROUP, type DuplicateGroup, type DuplicateOptions } from '../../src/store/duplicates';
import { itemsTable } from '../../src/store/items-table';
import { openStore } from '../../src/store/open';
import type { CollectionStore, NewItem } from '../../src/store/store';
import { freshPgliteDir } from '../helpers/pglite';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres';
import { cosine } from '../helpers/reference';

const MODEL = { name: 'unit-model', dim: 4 };
const SHA = (c: string) => c.repeat(64);
/** Distinct bytes for distinct ids unless `sha` says otherwise. */
const item = (id: string, v: number[], sha = createHash('sha256').update(id).digest('hex')): NewItem => ({ id, embedding: Float32Array.from(v), metadata: null, sha256: sha, width: 1, height: 1, format: 'png', thumbnail: null });
/** A unit vector at `angle` radians in the (x, y) plane. */
const at = (angle: number) => [Math.cos(angle), Math.sin(angle), 0, 0];

// cos θ = 0.97: a~b and b~c are within 0.95, a~c (cos 2θ = 0.8818) is not: one group by the chain.
const THETA = Math.acos(0.97);
const VECTORS: Record<string, { v: number[]; sha?: string }> = {
  a: { v: at(0) },
  b: { v: at(THETA) },
  c: { v: at(2 * THETA) },
  d: { v: [0, 0, 1, 0], sha: SHA('d') },
  'd-copy': { v: [0, 0, 1, 0], sha: SHA('d') },
  e: { v: [0, 0, 0.6, 0.8] }, // cos 0.6 to d
  f: { v: [0, -1, 0, 0] },
  g: { v: [-1, 0, 0, 0] },
};

/** Connected components (two items or more) of all pairs with cosine ≥ threshold, as sorted id lists, sorted. */
function components(vectors: Record<string, { v: number[] }>, threshold: number): string[][] {
  const ids = Object.keys(vectors);
  const parent = new Map(ids.map((id) => [id, id]));
  const root = (x: string): string => (parent.get(x) === x ? x : root(parent.get(x)!));
  for (const x of ids) for (const y of ids) if (x < y && cosine(vectors[x].v, vectors[y].v) >= threshold - 1e-9) parent.set(root(x), root(y));
  const by = new Map<string, string[]>();
  for (const id of ids) by.set(root(id), [...(by.get(root(id)) ?? []), id]);
  return [...by.values()].filter((g) => g.length > 1).map((g) => g.sort()).sort((x, y) => (x[0] < y[0] ? -1 : 1));
}

const idsOf = (groups: readonly DuplicateGroup[]) => groups.map((g) => g.items.map((i) => i.id).sort()).sort((x, y) => (x[0] < y[0] ? -1 : 1));

/** Every page from the start; the groups in order, how many pages it took and how many items they walked. */
async function walk(store: CollectionStore, name: string, o: Omit<DuplicateOptions, 'after'>): Promise<{ groups: DuplicateGroup[]; pages: number; scanned: number }> {
  const groups: DuplicateGroup[] = [];
  let after: string | null = null;
  let pages = 0;
  let scanned = 0;
  do {
    const page = await store.duplicates(name, { ...o, after });
    groups.push(...page.groups);
    scanned += page.scanned;
    after = page.endCursor;
    assert.ok(++pages < 1000, 'the walk does not end');
  } while (after !== null);
  return { groups, pages, scanned };
}

async function code(p: Promise<unknown>, expected: string, argument?: string): Promise<void> {
  await assert.rejects(p, (e: { code?: string; details?: { argument?: string } }) => {
    assert.equal(e.code, expected);
    if (argument) assert.equal(e.details?.argument, argument);
    return true;
  });
}

for (const engine of ['PGlite', 'PostgreSQL'] as const) {
  describe(`near-duplicates in the store on ${engine}`, () => {
    let store: CollectionStore;
    let dir: string | undefined;
    let db: TestDatabase | undefined;
    before(async () => {
      const target = engine === 'PGlite' ? (dir = await freshPgliteDir('clipql-dups-')) : (db = await createTestDatabase()).url;
      store = await openStore({ CLIP_STORE: target, CLIP_STORE_POOL: 2, CLIP_STORE_EF_SEARCH: 40 });
      await store.createCollection('hand', MODEL);
      await store.upsert('hand', MODEL, Object.entries(VECTORS).map(([id, x]) => item(id, x.v, x.sha)));
    });
    after(async () => {
      await store?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
      await db?.drop();
    });

    it('groups a chain of copies and byte duplicates, written out by hand, and agrees with all pairs', async () => {
      const page = await store.duplicates('hand', { threshold: 0.95 });
      assert.equal(page.threshold, 0.95);
      assert.equal(page.endCursor, null);
      assert.equal(page.scanned, 8);
      assert.deepEqual(idsOf(page.groups), [['a', 'b', 'c'], ['d', 'd-copy']]);
      assert.deepEqual(idsOf(page.groups), components(VECTORS, 0.95));
      const [chain, bytes] = page.groups;
      // The smallest id first, then by cosine to it (b: 0.97, c: 0.8818), each within 1e-6 of the cosine computed here.
      assert.deepEqual(chain.items.map((i) => i.id), ['a', 'b', 'c']);
      chain.items.forEach((i) => assert.ok(Math.abs(i.score - cosine(VECTORS.a.v, VECTORS[i.id].v)) < 1e-6, `${i.id}: ${i.score}`));
      assert.deepEqual([chain.identical, chain.complete, chain.items.some((i) => i.sameBytes)], [false, true, false]);
      assert.deepEqual([bytes.identical, bytes.items.map((i) => i.sameBytes)], [true, [true, true]]);
      // A higher threshold breaks the chain; 1 keeps only the identical embeddings.
      assert.deepEqual(idsOf((await store.duplicates('hand', { threshold: 0.975 })).groups), [['d', 'd-copy']]);
      assert.deepEqual(idsOf((await store.duplicates('hand', { threshold: 1 })).groups), [['d', 'd-copy']]);
      assert.deepEqual(idsOf((await store.duplicates('hand', { threshold: 0.5 })).groups), components(VECTORS, 0.5));
      // Without a threshold: the store's default, CLIP_DUPLICATE_THRESHOLD's default.
      assert.equal(DEFAULT_DUPLICATE_THRESHOLD, SETTINGS.CLIP_DUPLICATE_THRESHOLD.default);
      assert.equal((await store.duplicates('hand', {})).threshold, DEFAULT_DUPLICATE_THRESHOLD);
    });

    it('pages of any size give every group once', async () => {
      const whole = idsOf((await store.duplicates('hand', { threshold: 0.95 })).groups);
      for (const o of [{ first: 1 }, { scan: 1 }, { scan: 3 }, { first: 1, scan: 2 }]) {
        const { groups, pages, scanned } = await walk(store, 'hand', { threshold: 0.95, ...o });
        assert.deepEqual(idsOf(groups), whole, JSON.stringify(o));
        assert.equal(scanned, 8, JSON.stringify(o));
        if (o.scan) assert.ok(pages >= Math.ceil(8 / o.scan), `${pages} pages for ${JSON.stringify(o)}`);
      }
      const first = await store.duplicates('hand', { threshold: 0.95, first: 1 });
      assert.deepEqual(idsOf(first.groups), [['a', 'b', 'c']]);
      assert.notEqual(first.endCursor, null);
    });

    it('cuts a component at MAX_GROUP items and reports it once, walking every item', async () => {
      // 201 items along an arc, 0.001 rad apart: all within cosine 0.98 of each other. With pages
      // of 1,000 the component's lookups by id reach items the walk's next statement returns again.
      await store.createCollection('arc', MODEL);
      await store.upsert('arc', MODEL, Array.from({ length: MAX_GROUP + 1 }, (_, i) => item(`p${String(i).padStart(3, '0')}`, at(i * 0.001))));
      for (const scan of [50, 1000]) {
        const { groups, scanned } = await walk(store, 'arc', { threshold: 0.95, scan });
        assert.equal(scanned, MAX_GROUP + 1, `scan ${scan}`);
        assert.equal(groups.length, 1, `scan ${scan}`);
        assert.equal(groups[0].items.length, MAX_GROUP);
        assert.equal(groups[0].complete, false);
        assert.equal(groups[0].items[0].id, 'p000');
      }
    });

    it('finds neighbours through the HNSW index', async () => {
      const c = (await store.collection('hand'))!;
      const t = itemsTable(c.id);
      const plan = await store.driver.transaction(async (tx) => {
        // Sequential scans priced out, as they are in a large collection (an 8-row table is cheaper to scan).
        await tx.query("SELECT set_config('enable_seqscan', 'off', true)");
        return (await tx.query<Record<string, string>>(`EXPLAIN ${duplicateSql(c.id).walk}`, [11, 0.95, null, 100])).map((r) => Object.values(r)[0]).join('\n');
      });
      assert.match(plan, new RegExp(`Index Scan using ${t}_hnsw`), plan);
    });

    it('an empty collection has no groups', async () => {
      await store.createCollection('empty', MODEL);
      assert.deepEqual(await store.duplicates('empty', { threshold: 0.9 }), { threshold: 0.9, groups: [], scanned: 0, endCursor: null });
    });

    it('refuses bad options with codes naming them', async () => {
      for (const threshold of [0, -0.5, 1.01, Number.NaN]) await code(store.duplicates('hand', { threshold }), ErrorCode.BAD_USER_INPUT, 'threshold');
      for (const k of [0, 101, 2.5]) await code(store.duplicates('hand', { k }), ErrorCode.BAD_USER_INPUT, 'k');
      for (const first of [0, 101]) await code(store.duplicates('hand', { first }), ErrorCode.BAD_USER_INPUT, 'first');
      for (const scan of [0, 10_001]) await code(store.duplicates('hand', { scan }), ErrorCode.BAD_USER_INPUT, 'scan');
      await code(store.duplicates('hand', { after: '' }), ErrorCode.BAD_USER_INPUT, 'after');
      await code(store.duplicates('hand', { after: 'x'.repeat(257) }), ErrorCode.BAD_USER_INPUT, 'after');
      await code(store.duplicates('nope', {}), ErrorCode.COLLECTION_NOT_FOUND);
      await code(store.duplicates('bad name', {}), ErrorCode.BAD_USER_INPUT, 'collection');
    });
  });
}
