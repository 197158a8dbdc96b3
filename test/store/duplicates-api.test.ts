/**
 * Near-duplicates through GraphQL over HTTP and `clipql duplicates`, on both engines, with real
 * images: the eight notebook images, a JPEG re-encode (quality 90) and a 75 % downscale of five of
 * them (made here with sharp, as scripts/bench/collections/duplicate-threshold.ts makes them), and a byte
 * copy of rocket.jpg, stored through addImages and encoded by the committed tiny model (random
 * weights). The expected groups are written out by hand from that measurement (each copy at
 * cosine ≥ 0.99 to its original; distinct notebook images at most 0.92): each original with its
 * copies, the byte copy marked as such, no group joining two notebook images. They are also
 * checked against the components of all pairs at or above the threshold, and each score against
 * the cosine of the two embeddings, both computed here in plain JS from the pipeline's
 * embeddings (not through the store).
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { COPIES } from '../../scripts/bench/collections/duplicate-threshold';
import { parseConfig } from '../../src/config/config';
import { duplicatesCommand } from '../../src/cli/duplicates-command';
import type { Service } from '../../src/server/service';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres';
import { cosine } from '../helpers/reference';
import { gql, startTestService } from '../helpers/server';
import { notebook } from '../helpers/shared';
import { freshPgliteDir } from '../helpers/pglite';

const ADD = 'mutation($images: [ImageInput!]!, $ids: [ID!]!) { addImages(collection: "photos", images: $images, ids: $ids) { count } }';
const DUPS = `query($c: String!, $threshold: Float, $k: Int, $first: Int, $scan: Int, $after: String) {
  duplicates(collection: $c, threshold: $threshold, k: $k, first: $first, scan: $scan, after: $after) {
    collection threshold scanned hasNextPage endCursor groups { identical complete items { id score sha256 sameBytes width height format thumbnail } }
  }
}`;
/** Copies of these are at cosine ≥ 0.99 to their originals with the tiny model (duplicate-threshold.ts). */
const COPIED = ['astronaut.png', 'camera.png', 'chelsea.png', 'coffee.png', 'horse.png'];
const KINDS = { q90: COPIES.find((c) => c.name === 'JPEG q90')!, r75: COPIES.find((c) => c.name === 'resized 75 %')! };

interface Group {
  identical: boolean;
  complete: boolean;
  items: Array<{ id: string; score: number; sha256: string; sameBytes: boolean; thumbnail: string | null }>;
}
const sorted = (groups: readonly Group[]) => groups.map((g) => g.items.map((i) => i.id).sort()).sort((x, y) => (x[0] < y[0] ? -1 : 1));

for (const engine of ['pglite', 'postgres'] as const) {
  describe(`duplicates through the API and the command line on ${engine}`, () => {
    let service: Service | undefined;
    let dir: string | undefined;
    let db: TestDatabase | undefined;
    let target: string;
    const images = new Map<string, Buffer>();

    const query = async (variables: Record<string, unknown>) => {
      const r = await gql(service!.url, DUPS, { c: 'photos', ...variables });
      return r.body as { data?: { duplicates: { threshold: number; scanned: number; hasNextPage: boolean; endCursor: string | null; groups: Group[] } }; errors?: Array<{ extensions?: { code?: string; argument?: string } }> };
    };

    before(async () => {
      target = engine === 'pglite' ? (dir = await freshPgliteDir('clipql-dups-api-')) : (db = await createTestDatabase()).url;
      service = await startTestService({ CLIP_STORE: target });
      for (const it of notebook()) images.set(it.file, readFileSync(it.path));
      for (const f of COPIED) {
        images.set(`${f}~q90.jpg`, await KINDS.q90.make(images.get(f)!));
        images.set(`${f}~75.png`, await KINDS.r75.make(images.get(f)!));
      }
      images.set('rocket~copy.jpg', images.get('rocket.jpg')!);
      assert.equal((await gql(service.url, 'mutation { createCollection(name: "photos") { name } }')).body.errors, undefined);
      const added = await gql(service.url, ADD, { images: [...images.values()].map((b) => ({ base64: b.toString('base64') })), ids: [...images.keys()] });
      assert.equal(added.body.errors, undefined, JSON.stringify(added.body.errors));
    });
    after(async () => {
      await service?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
      await db?.drop();
    });

    it('groups each original with its re-encoded and resized copies, marks the byte copy, joins no two distinct images', async () => {
      const body = await query({});
      assert.equal(body.errors, undefined, JSON.stringify(body.errors));
      const page = body.data!.duplicates;
      assert.deepEqual([page.threshold, page.scanned, page.hasNextPage, page.endCursor], [0.95, images.size, false, null]);
      const expected = [...COPIED.map((f) => [f, `${f}~75.png`, `${f}~q90.jpg`]), ['rocket.jpg', 'rocket~copy.jpg']].sort((x, y) => (x[0] < y[0] ? -1 : 1));
      assert.deepEqual(sorted(page.groups), expected);
      // The same as the connected components of all pairs at ≥ 0.95, from the embeddings in plain JS.
      const ids = [...images.keys()];
      const e = new Map(await Promise.all(ids.map(async (id) => [id, await service!.pipeline.embedImage(images.get(id)!)] as const)));
      const parent = new Map(ids.map((id) => [id, id]));
      const root = (x: string): string => (parent.get(x) === x ? x : root(parent.get(x)!));
      for (const x of ids) for (const y of ids) if (x < y && cosine(e.get(x)!, e.get(y)!) >= 0.95) parent.set(root(x), root(y));
      const comps = new Map<string, string[]>();
      for (const id of ids) comps.set(root(id), [...(comps.get(root(id)) ?? []), id]);
      assert.deepEqual(sorted(page.groups), [...comps.values()].filter((c) => c.length > 1).map((c) => c.sort()).sort((x, y) => (x[0] < y[0] ? -1 : 1)));
      for (const g of page.groups) {
        const first = g.items[0];
        assert.equal(first.id, g.items.map((i) => i.id).sort()[0]); // the smallest id first
        for (const i of g.items) assert.ok(Math.abs(i.score - cosine(e.get(first.id)!, e.get(i.id)!)) < 1e-5, `${i.id}: ${i.score}`);
        assert.ok(g.items.every((i) => i.thumbnail?.startsWith('data:image/')));
        assert.ok(g.complete);
        const rocket = first.id === 'rocket.jpg';
        assert.equal(g.identical, rocket);
        assert.deepEqual(g.items.map((i) => i.sameBytes), g.items.map(() => rocket));
      }
    });

    it('pages: one group a page, and a few items a page, give the same groups once', async () => {
      const whole = sorted((await query({})).data!.duplicates.groups);
      for (const v of [{ first: 1 }, { scan: 4 }]) {
        const groups: Group[] = [];
        let cursor: string | null = null;
        let pages = 0;
        do {
          const body = await query({ ...v, after: cursor });
          assert.equal(body.errors, undefined, JSON.stringify(body.errors));
          groups.push(...body.data!.duplicates.groups);
          cursor = body.data!.duplicates.hasNextPage ? body.data!.duplicates.endCursor : null;
          pages++;
        } while (cursor !== null && pages < 50);
        assert.deepEqual(sorted(groups), whole, JSON.stringify(v));
        assert.ok(pages >= (v.first ? whole.length : Math.ceil(images.size / 4)), `${pages} pages for ${JSON.stringify(v)}`);
      }
    });

    it('refuses bad arguments with codes', async () => {
      const fails = async (variables: Record<string, unknown>) => {
        const body = await query(variables);
        assert.ok(body.errors?.length, `expected an error for ${JSON.stringify(variables)}`);
        return [body.errors![0].extensions?.code, body.errors![0].extensions?.argument];
      };
      for (const threshold of [0, 1.5, -1]) assert.deepEqual(await fails({ threshold }), ['BAD_USER_INPUT', 'threshold']);
      for (const k of [0, 101]) assert.deepEqual(await fails({ k }), ['BAD_USER_INPUT', 'k']);
      assert.deepEqual(await fails({ first: 0 }), ['BAD_USER_INPUT', 'first']);
      assert.deepEqual(await fails({ scan: 20_000 }), ['BAD_USER_INPUT', 'scan']);
      assert.deepEqual(await fails({ after: '' }), ['BAD_USER_INPUT', 'after']);
      assert.deepEqual(await fails({ c: 'nope' }), ['COLLECTION_NOT_FOUND', 'collection']);
      assert.deepEqual(await fails({ c: 'no such name!' }), ['BAD_USER_INPUT', 'collection']);
      assert.equal((await gql(service!.url, '{ __typename }')).body.data.__typename, 'Query'); // still up
    });

    it('clipql duplicates prints the same groups, and refuses bad flags', async () => {
      const expected = sorted((await query({})).data!.duplicates.groups);
      await service!.stop(); // PGlite has one owner: the command opens the store itself
      service = undefined;
      const config = parseConfig({}).config;
      const run = async (argv: string[]) => {
        let out = '';
        let err = '';
        const status = await duplicatesCommand(argv, config, { out: (s) => void (out += s), err: (s) => void (err += s), tty: false });
        return { status, out, err };
      };
      const json = await run(['photos', '--store', target, '--json', '--scan', '5']);
      assert.equal(json.status, 0, json.err);
      const lines = json.out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      const summary = lines.pop()!;
      assert.deepEqual(sorted(lines as unknown as Group[]), expected);
      assert.deepEqual([summary.groups, summary.scanned, summary.threshold], [expected.length, images.size, 0.95]);
      const text = await run(['photos', '--store', target, '--threshold', '1']);
      assert.equal(text.status, 0, text.err);
      assert.match(text.out, /group 1 \(2 items, all the same bytes\):\n {2}1\.0000 {2}rocket\.jpg\n {2}1\.0000 {2}rocket~copy\.jpg\n/);
      assert.match(text.out, new RegExp(`^1 group \\(2 items\\) among ${images.size} items of photos at cosine >= 1, in `, 'm'));
      for (const [argv, status, code] of [
        [['photos', '--store', target, '--threshold', '2'], 1, 'BAD_USER_INPUT'],
        [['photos', '--store', target, '--k', 'x'], 1, 'BAD_USER_INPUT'],
        [['photos', '--store', target, '--k', '0'], 1, 'BAD_USER_INPUT'],
        [['nope', '--store', target], 1, 'COLLECTION_NOT_FOUND'],
        [['--store', target], 2, 'BAD_USER_INPUT'],
        [['photos', '--bogus'], 2, 'BAD_USER_INPUT'],
      ] as const) {
        const r = await run([...argv]);
        assert.equal(r.status, status, `${argv.join(' ')}: ${r.err}`);
        assert.match(r.err, new RegExp(`^error \\[${code}\\]`), argv.join(' '));
      }
    });
  });
}
