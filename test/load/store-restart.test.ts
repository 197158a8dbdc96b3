/**
 * The embedded store survives its server: items added through one server process are found by
 * the next one on the same CLIP_STORE folder, after a graceful stop (SIGTERM) and after a crash
 * (SIGKILL) that follows acknowledged writes.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { patternImage } from '../helpers/images';
import { gql, startChildServer } from '../helpers/server';

const dir = mkdtempSync(path.join(os.tmpdir(), 'clipql-restart-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const ADD = `mutation($images: [ImageInput!]!, $ids: [ID!]!, $metadata: [JSON]) { addImages(collection: "kept", images: $images, ids: $ids, metadata: $metadata) { count } }`;
const SEARCH = `query($image: ImageInput) { search(collection: "kept", image: $image, k: 1) { hits { id score metadata } } }`;

test('a collection outlives a SIGTERM and a SIGKILL of its server', async () => {
  const img = async (seed: number) => ({ base64: (await patternImage(seed)).toString('base64') });
  let server = await startChildServer({ CLIP_STORE: dir });
  try {
    assert.equal((await gql(server.url, 'mutation { createCollection(name: "kept") { name } }')).body.errors, undefined);
    const r = await gql(server.url, ADD, { images: [await img(1), await img(2)], ids: ['one', 'two'], metadata: [{ n: 1 }, { n: 2 }] });
    assert.equal(r.body.errors, undefined, JSON.stringify(r.body.errors));
  } finally {
    assert.equal(await server.stop('SIGTERM'), 0);
  }

  server = await startChildServer({ CLIP_STORE: dir });
  try {
    const { body } = await gql(server.url, 'query { collections { name count } }');
    assert.deepEqual(body.data.collections, [{ name: 'kept', count: 2 }]);
    const hit = (await gql(server.url, SEARCH, { image: await img(2) })).body.data.search.hits[0];
    assert.equal(hit.id, 'two');
    assert.ok(Math.abs(hit.score - 1) < 1e-5);
    assert.deepEqual(hit.metadata, { n: 2 });
    const r = await gql(server.url, ADD, { images: [await img(3)], ids: ['three'], metadata: [null] });
    assert.equal(r.body.data.addImages.count, 3);
  } finally {
    await server.stop('SIGKILL');
  }

  server = await startChildServer({ CLIP_STORE: dir });
  try {
    const { body } = await gql(server.url, 'query { collections { name count } }');
    assert.deepEqual(body.data.collections, [{ name: 'kept', count: 3 }], 'the write acknowledged before the SIGKILL is there');
    assert.equal((await gql(server.url, SEARCH, { image: await img(3) })).body.data.search.hits[0].id, 'three');
  } finally {
    await server.stop('SIGTERM');
  }
});
