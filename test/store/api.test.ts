/**
 * Bad input to the collection API over HTTP, each with its code and the argument it names; a
 * collection of another model; a drop during searches; a store that cannot be reached.
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { Service } from '../../src/server/service';
import { patternImage } from '../helpers/images';
import { gql, startTestService } from '../helpers/server';
import { notebook } from '../helpers/shared';
import { freshPgliteDir } from '../helpers/pglite';

const ADD = `mutation($c: String!, $images: [ImageInput!]!, $ids: [ID!]!, $metadata: [JSON]) { addImages(collection: $c, images: $images, ids: $ids, metadata: $metadata) { ids count } }`;
const SEARCH = `query($c: String!, $text: String, $image: ImageInput, $k: Int, $after: String, $filter: JSON) { search(collection: $c, text: $text, image: $image, k: $k, after: $after, filter: $filter) { hits { id score } } }`;

let service: Service;
let dir: string;
const b64 = async (seed: number) => ({ base64: (await patternImage(seed)).toString('base64') });

/** The single error of a response: its code, argument and message. */
async function failure(query: string, variables: Record<string, unknown> = {}): Promise<{ code: string; argument?: string; message: string }> {
  const { body } = await gql(service.url, query, variables);
  assert.ok(body.errors?.length, `expected an error, got ${JSON.stringify(body.data)}`);
  const e = body.errors![0];
  return { code: e.extensions?.code, argument: e.extensions?.argument, message: e.message };
}

before(async () => {
  dir = await freshPgliteDir('clipql-api-');
  service = await startTestService({ CLIP_STORE: dir });
  const r = await gql(service.url, 'mutation { createCollection(name: "c1") { name } }');
  assert.equal(r.body.errors, undefined, JSON.stringify(r.body.errors));
});
after(async () => {
  await service?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('collection API bad input', () => {
  it('names, models and duplicates', async () => {
    assert.deepEqual(await failure('mutation { createCollection(name: "bad name") { name } }').then((f) => [f.code, f.argument]), ['BAD_USER_INPUT', 'name']);
    assert.equal((await failure(`mutation { createCollection(name: "${'x'.repeat(65)}") { name } }`)).code, 'BAD_USER_INPUT');
    assert.deepEqual(await failure('mutation { createCollection(name: "c1") { name } }').then((f) => [f.code, f.argument]), ['COLLECTION_EXISTS', 'name']);
    // A model the server does not serve is unknown (served-models.ts), as everywhere `model` is taken.
    const m = await failure('mutation { createCollection(name: "c2", model: "ViT-L-14-336") { name } }');
    assert.equal(m.code, 'MODEL_NOT_FOUND');
    assert.match(m.message, /tiny-clip-336/);
    assert.match(m.message, /ViT-L-14-336/);
    assert.equal((await failure('query { search(collection: "nope", text: "a cat") { hits { id } } }')).code, 'COLLECTION_NOT_FOUND');
    assert.equal((await failure('mutation { deleteItems(collection: "nope", ids: ["a"]) { count } }')).code, 'COLLECTION_NOT_FOUND');
    assert.equal((await failure(ADD, { c: 'nope', images: [await b64(1)], ids: ['a'] })).code, 'COLLECTION_NOT_FOUND');
  });

  it('search arguments', async () => {
    const image = await b64(1);
    assert.deepEqual(await failure(SEARCH, { c: 'c1', text: 'a cat', image }).then((f) => [f.code, f.argument]), ['BAD_USER_INPUT', 'text']);
    assert.equal((await failure(SEARCH, { c: 'c1' })).code, 'BAD_USER_INPUT');
    for (const k of [0, 101, -3]) assert.deepEqual(await failure(SEARCH, { c: 'c1', text: 'a', k }).then((f) => [f.code, f.argument]), ['BAD_USER_INPUT', 'k'], `k = ${k}`);
    for (const cursor of ['garbage', Buffer.from('{"o":-1}').toString('base64url'), 'x'.repeat(100)]) assert.deepEqual(await failure(SEARCH, { c: 'c1', text: 'a', after: cursor }).then((f) => [f.code, f.argument]), ['BAD_USER_INPUT', 'after']);
    assert.deepEqual(await failure(SEARCH, { c: 'c1', text: 'a', filter: [1, 2] }).then((f) => [f.code, f.argument]), ['BAD_USER_INPUT', 'filter']);
    assert.equal((await failure(SEARCH, { c: 'c1', text: 'a', filter: { s: 'x'.repeat(3000) } })).code, 'METADATA_TOO_LARGE');
    assert.equal((await failure(SEARCH, { c: 'c1', text: 'a'.repeat(2001) })).code, 'TOO_MANY_INPUTS');
    assert.deepEqual(await failure(SEARCH, { c: 'c1', image: { base64: 'bm90IGFuIGltYWdl' } }).then((f) => [f.code, f.argument]), ['BAD_IMAGE', 'image']);
  });

  it('index parameters and recall settings: stored, answered, bounded', async () => {
    const made = await gql(service.url, 'mutation { createCollection(name: "tuned", m: 8, efConstruction: 32) { name m efConstruction } }');
    assert.deepEqual(made.body.data?.createCollection, { name: 'tuned', m: 8, efConstruction: 32 });
    const listed = await gql(service.url, '{ collections { name m efConstruction } }');
    assert.deepEqual((listed.body.data?.collections as { name: string }[]).find((c) => c.name === 'c1'), { name: 'c1', m: 16, efConstruction: 64 });
    for (const [args, argument] of [['m: 1', 'm'], ['m: 101', 'm'], ['m: 20, efConstruction: 30', 'efConstruction'], ['efConstruction: 2000', 'efConstruction']]) {
      assert.deepEqual(await failure(`mutation { createCollection(name: "refused", ${args}) { name } }`).then((f) => [f.code, f.argument]), ['BAD_USER_INPUT', argument], args);
    }
    const q = (args: string) => gql(service.url, `{ search(collection: "tuned", text: "a cat", ${args}) { exact ef hits { id } } }`);
    assert.deepEqual((await q('k: 5')).body.data?.search, { exact: true, ef: 40, hits: [] }, 'a small collection: an exact scan');
    assert.deepEqual((await q('k: 5, exact: false')).body.data?.search, { exact: false, ef: 40, hits: [] });
    assert.deepEqual((await q('k: 5, exact: true, ef: 200')).body.data?.search, { exact: true, ef: 200, hits: [] });
    for (const ef of [0, 1001]) assert.deepEqual(await failure(`{ search(collection: "tuned", text: "a cat", ef: ${ef}) { ef } }`).then((f) => [f.code, f.argument]), ['BAD_USER_INPUT', 'ef']);
    assert.equal((await gql(service.url, 'mutation { dropCollection(name: "tuned") }')).body.data?.dropCollection, true);
  });

  it('addImages arguments; a failed call stores nothing', async () => {
    const [a, b] = [await b64(1), await b64(2)];
    assert.deepEqual(await failure(ADD, { c: 'c1', images: [a, b], ids: ['a'] }).then((f) => [f.code, f.argument]), ['BAD_USER_INPUT', 'ids']);
    assert.deepEqual(await failure(ADD, { c: 'c1', images: [a, b], ids: ['a', 'a'] }).then((f) => [f.code, f.argument]), ['BAD_USER_INPUT', 'ids[1]']);
    assert.deepEqual(await failure(ADD, { c: 'c1', images: [a], ids: [''] }).then((f) => [f.code, f.argument]), ['BAD_USER_INPUT', 'ids[0]']);
    assert.deepEqual(await failure(ADD, { c: 'c1', images: [a], ids: ['x'.repeat(257)] }).then((f) => [f.code, f.argument]), ['BAD_USER_INPUT', 'ids[0]']);
    assert.deepEqual(await failure(ADD, { c: 'c1', images: [a, b], ids: ['a', 'b'], metadata: [null] }).then((f) => [f.code, f.argument]), ['BAD_USER_INPUT', 'metadata']);
    assert.deepEqual(await failure(ADD, { c: 'c1', images: [a, b], ids: ['a', 'b'], metadata: [null, { s: 'x'.repeat(9000) }] }).then((f) => [f.code, f.argument]), ['METADATA_TOO_LARGE', 'metadata[1]']);
    assert.deepEqual(await failure(ADD, { c: 'c1', images: [a, { base64: 'bm90IGFuIGltYWdl' }], ids: ['a', 'b'] }).then((f) => [f.code, f.argument]), ['BAD_IMAGE', 'images[1]']);
    assert.equal((await failure(ADD, { c: 'c1', images: Array.from({ length: 65 }, () => a), ids: Array.from({ length: 65 }, (_, i) => `i${i}`) })).code, 'TOO_MANY_INPUTS');
    const { body } = await gql(service.url, 'query { collections { name count } }');
    assert.deepEqual(body.data.collections, [{ name: 'c1', count: 0 }]);
  });

  it('a collection of another model: MODEL_MISMATCH naming both models', async () => {
    const store = await service.store.get();
    await store.createCollection('foreign', { name: 'ViT-B-32', dim: 512 });
    for (const f of [await failure(SEARCH, { c: 'foreign', text: 'a cat' }), await failure(ADD, { c: 'foreign', images: [await b64(3)], ids: ['a'] })]) {
      assert.equal(f.code, 'MODEL_MISMATCH');
      assert.match(f.message, /ViT-B-32 \(D = 512\)/);
      assert.match(f.message, /tiny-clip-336 \(D = 32\)/);
    }
    await store.dropCollection('foreign');
  });

  it('drop during searches: each search succeeds whole or finds no collection', async () => {
    const files = notebook().slice(0, 4);
    await gql(service.url, 'mutation { createCollection(name: "doomed") { name } }');
    const added = await gql(service.url, ADD, { c: 'doomed', images: files.map((f) => ({ base64: readFileSync(f.path).toString('base64') })), ids: files.map((f) => f.file) });
    assert.equal(added.body.errors, undefined, JSON.stringify(added.body.errors));
    const outcomes: string[] = [];
    const searches = Array.from({ length: 30 }, (_, i) =>
      new Promise((r) => setTimeout(r, i * 3)).then(async () => {
        const { body } = await gql(service.url, SEARCH, { c: 'doomed', text: `It is ${files[i % 4].caption}`, k: 4 });
        if (body.errors) outcomes.push(body.errors[0].extensions.code);
        else outcomes.push(body.data.search.hits.length === 4 ? 'ok' : `partial ${body.data.search.hits.length}`);
      }),
    );
    await new Promise((r) => setTimeout(r, 30));
    const dropped = await gql(service.url, 'mutation { dropCollection(name: "doomed") }');
    assert.equal(dropped.body.data.dropCollection, true);
    await Promise.all(searches);
    assert.deepEqual(outcomes.filter((o) => o !== 'ok' && o !== 'COLLECTION_NOT_FOUND'), [], outcomes.join(' '));
    assert.equal((await gql(service.url, 'mutation { dropCollection(name: "doomed") }')).body.data.dropCollection, false);
  });
});

describe('an unreachable store', () => {
  it('fails start-up with STORE_UNAVAILABLE when CLIP_STORE names a server that is not there', async () => {
    await assert.rejects(startTestService({ CLIP_STORE: 'postgres://nobody:secret@127.0.0.1:1/none' }), (e: { code?: string; message: string }) => {
      assert.equal(e.code, 'STORE_UNAVAILABLE');
      return true;
    });
  });
});
