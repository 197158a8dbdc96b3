/**
 * Done-when of the collections issue, through GraphQL over HTTP on both engines: the eight
 * notebook images in a collection, searched by each notebook caption ("It is " + caption), come
 * back in the order of that caption's row of the PyTorch reference's similarity matrix, with its
 * numbers as scores (within 1e-5), and pages of a search continue one another.
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import type { Service } from '../../src/server/service';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres';
import { tinyReference } from '../helpers/reference';
import { gql, startTestService } from '../helpers/server';
import { notebook } from '../helpers/shared';
import { freshPgliteDir } from '../helpers/pglite';

const ADD = `mutation($c: String!, $images: [ImageInput!]!, $ids: [ID!]!, $metadata: [JSON]) {
  addImages(collection: $c, images: $images, ids: $ids, metadata: $metadata) { ids count }
}`;
const SEARCH = `query($c: String!, $text: String, $image: ImageInput, $k: Int, $after: String, $filter: JSON) {
  search(collection: $c, text: $text, image: $image, k: $k, after: $after, filter: $filter) {
    model hasNextPage endCursor hits { id rank score metadata width height format thumbnail }
  }
}`;

for (const engine of ['pglite', 'postgres'] as const) {
  describe(`the notebook collection on ${engine}`, () => {
    let service: Service;
    let dir: string | undefined;
    let db: TestDatabase | undefined;
    const items = notebook();
    const ref = tinyReference();

    before(async () => {
      let store: string;
      if (engine === 'pglite') store = dir = await freshPgliteDir('clipql-notebook-');
      else store = (db = await createTestDatabase()).url;
      service = await startTestService({ CLIP_STORE: store });
      const created = await gql(service.url, 'mutation { createCollection(name: "notebook") { name model dimension engine count } }');
      assert.equal(created.body.errors, undefined, JSON.stringify(created.body.errors));
      assert.deepEqual(created.body.data.createCollection, { name: 'notebook', model: service.pipeline.bundle.name, dimension: 32, engine, count: 0 });
      const images = items.map((it) => ({ base64: readFileSync(it.path).toString('base64') }));
      const added = await gql(service.url, ADD, { c: 'notebook', images, ids: items.map((it) => it.file), metadata: items.map((it) => ({ caption: it.caption, grey: ['page.png', 'camera.png'].includes(it.file) })) });
      assert.equal(added.body.errors, undefined, JSON.stringify(added.body.errors));
      assert.equal(added.body.data.addImages.count, 8);
    });
    after(async () => {
      await service?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
      await db?.drop();
    });

    it('ranks the images for each caption as its reference similarity row does, with its scores', async () => {
      assert.deepEqual(ref.images.map((i) => i.file), items.map((i) => i.file), 'the reference columns are the notebook files in order');
      for (let i = 0; i < items.length; i++) {
        const text = `It is ${items[i].caption}`;
        assert.equal(text, ref.texts[i]);
        const { body } = await gql(service.url, SEARCH, { c: 'notebook', text, k: 8 });
        assert.equal(body.errors, undefined, JSON.stringify(body.errors));
        const row = ref.similarity[i];
        const expected = row.map((s, j) => ({ file: ref.images[j].file, s })).sort((a, b) => b.s - a.s);
        const hits = body.data.search.hits as { id: string; rank: number; score: number }[];
        assert.deepEqual(hits.map((h) => h.id), expected.map((e) => e.file), `ranking for "${text}"`);
        hits.forEach((h, r) => {
          assert.equal(h.rank, r + 1);
          const j = ref.images.findIndex((im) => im.file === h.id);
          assert.ok(Math.abs(h.score - row[j]) <= 1e-5, `"${text}" × ${h.id}: score ${h.score}, reference ${row[j]}`);
        });
        assert.equal(body.data.search.hasNextPage, false);
      }
    });

    it('pages with cursors: 3 + 3 + 2 hits continue the single page', async () => {
      const text = `It is ${items[2].caption}`;
      const whole = (await gql(service.url, SEARCH, { c: 'notebook', text, k: 8 })).body.data.search.hits.map((h: { id: string }) => h.id);
      const seen: string[] = [];
      let after: string | null = null;
      const more: boolean[] = [];
      for (let p = 0; p < 3; p++) {
        const { body } = await gql(service.url, SEARCH, { c: 'notebook', text, k: 3, after });
        assert.equal(body.errors, undefined, JSON.stringify(body.errors));
        seen.push(...body.data.search.hits.map((h: { id: string }) => h.id));
        more.push(body.data.search.hasNextPage);
        after = body.data.search.endCursor;
      }
      assert.deepEqual(seen, whole);
      assert.deepEqual(more, [true, true, false]);
    });

    it('finds an image by itself first (cosine 1), with its metadata and a thumbnail', async () => {
      const astronaut = items.find((it) => it.file === 'astronaut.png')!;
      const { body } = await gql(service.url, SEARCH, { c: 'notebook', image: { base64: readFileSync(astronaut.path).toString('base64') }, k: 2 });
      assert.equal(body.errors, undefined, JSON.stringify(body.errors));
      const [top] = body.data.search.hits;
      assert.equal(top.id, 'astronaut.png');
      assert.ok(Math.abs(top.score - 1) < 1e-5, `${top.score}`);
      assert.deepEqual(top.metadata, { caption: astronaut.caption, grey: false });
      assert.deepEqual([top.width, top.height, top.format], [ref.images[2].width, ref.images[2].height, 'png']);
      const m = /^data:(image\/(?:jpeg|png));base64,(.+)$/.exec(top.thumbnail);
      assert.ok(m, String(top.thumbnail).slice(0, 40));
      const meta = await sharp(Buffer.from(m[2], 'base64')).metadata();
      assert.equal(Math.max(meta.width!, meta.height!), 96);
    });

    it('filters by metadata and replaces an item added again under its id', async () => {
      const text = `It is ${items[0].caption}`;
      const grey = (await gql(service.url, SEARCH, { c: 'notebook', text, k: 8, filter: { grey: true } })).body.data.search.hits.map((h: { id: string }) => h.id);
      assert.deepEqual([...grey].sort(), ['camera.png', 'page.png']);
      // page.png's id now holds the coffee image: searching by coffee finds two perfect matches.
      const coffee = items.find((it) => it.file === 'coffee.png')!;
      const b64 = readFileSync(coffee.path).toString('base64');
      const re = await gql(service.url, ADD, { c: 'notebook', images: [{ base64: b64 }], ids: ['page.png'], metadata: [null] });
      assert.equal(re.body.data.addImages.count, 8, 'replaced, not added');
      const hits = (await gql(service.url, SEARCH, { c: 'notebook', image: { base64: b64 }, k: 2 })).body.data.search.hits;
      assert.deepEqual(hits.map((h: { id: string }) => h.id).sort(), ['coffee.png', 'page.png']);
      assert.equal(hits.find((h: { id: string }) => h.id === 'page.png').metadata, null);
      // Put page.png back for the other tests' sake.
      await gql(service.url, ADD, { c: 'notebook', images: [{ base64: readFileSync(items[0].path).toString('base64') }], ids: ['page.png'], metadata: [{ caption: items[0].caption, grey: true }] });
    });
  });
}
