/**
 * One model identity (src/bundle/fingerprint.ts): a collection is bound to its model's weights
 * and preprocessing, not to a name, the same way in the CLI and in the server.
 *   - A collection indexed by `clipql index` (bound under the folder's name, tiny-clip-336) is
 *     searched through a server that serves the same weights under an alias (photos) and from a
 *     copy of the folder under another name: answered, each hit's score equal to the cosine of
 *     the server's own caption and image embeddings, computed here.
 *   - With no model named, a request on a collection encodes with the served model that holds
 *     the collection's weights (not the default).
 *   - Other weights under the same name (a copy of the folder with one weight tensor changed by
 *     Python's onnx package, served as tiny-clip-336): MODEL_MISMATCH in the server and in the
 *     CLI, naming both models and the command that re-indexes.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { main } from '../../src/cli/main';
import type { Io } from '../../src/cli/index-command';
import { TINY_MODEL_DIR } from '../../src/paths';
import type { Service } from '../../src/server/service';
import { cachedFixtureSync } from '../helpers/fixture-cache';
import { freshPgliteDir } from '../helpers/pglite';
import { runIndex } from '../helpers/index-run';
import { venvPython } from '../helpers/python';
import { gql, startTestService } from '../helpers/server';
import { BPE_VOCAB, notebook } from '../helpers/shared';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'clipql-identity-'));
const photos = path.join(tmp, 'photos');
const copy = path.join(tmp, 'copy-of-tiny'); // the same files under another folder name
const other = path.join(tmp, 'other', 'tiny-clip-336'); // other weights under the same folder name
let store: string;
let service: Service;
const files = notebook().slice(0, 4);

/** python -c SCALE_LARGEST IN OUT: IN with its largest initializer scaled by 1.5. */
const SCALE_LARGEST = `
import sys, onnx, numpy as np
from onnx import numpy_helper
m = onnx.load(sys.argv[1])
t = max(m.graph.initializer, key=lambda i: int(np.prod(i.dims)))
t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t) * np.float32(1.5), t.name))
onnx.save(m, sys.argv[2])
`;

before(async () => {
  process.env.CLIP_VOCAB = BPE_VOCAB();
  mkdirSync(photos);
  for (const f of files) cpSync(f.path, path.join(photos, f.file));
  cpSync(TINY_MODEL_DIR, copy, { recursive: true });
  cpSync(TINY_MODEL_DIR, other, { recursive: true });
  // Other weights, same shapes: the text tower's largest initializer scaled by 1.5 (made once per
  // content of the tower and the script: ../helpers/fixture-cache.ts).
  const textModel = path.join(TINY_MODEL_DIR, 'onnx', 'text_model.onnx');
  const changed = cachedFixtureSync('identity-other-text', { pythons: [venvPython()], files: [textModel], args: [SCALE_LARGEST] }, (dir) => {
    mkdirSync(dir);
    execFileSync(venvPython(), ['-c', SCALE_LARGEST, textModel, path.join(dir, 'text_model.onnx')]);
  });
  cpSync(path.join(changed, 'text_model.onnx'), path.join(other, 'onnx', 'text_model.onnx'));
  store = await freshPgliteDir('clipql-identity-store-');
  const indexed = await runIndex([photos, '--collection', 'trip', '--model', TINY_MODEL_DIR], ['--store', store]);
  assert.equal(indexed.code, 0, indexed.err);
  assert.equal(indexed.result.stored, files.length);
  service = await startTestService({ CLIP_MODELS: `photos=${TINY_MODEL_DIR},copy=${copy},tiny-clip-336=${other}`, CLIP_STORE: store });
});
after(async () => {
  await service?.stop();
  rmSync(tmp, { recursive: true, force: true });
  if (store) rmSync(store, { recursive: true, force: true });
});

const SEARCH = 'query($text: String!, $model: String) { search(collection: "trip", text: $text, k: 10, model: $model) { model hits { id score } } }';

const cosine = (a: number[], b: number[]) => {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) (ab += a[i] * b[i]), (aa += a[i] * a[i]), (bb += b[i] * b[i]);
  return ab / Math.sqrt(aa * bb);
};

describe('a collection is bound to weights, not to a name', () => {
  it('the CLI-indexed collection, searched under an alias and from a copied folder: every item, scores = cosines computed here', async () => {
    const caption = files[1].caption;
    const images = files.map((f) => ({ base64: readFileSync(f.path).toString('base64') }));
    for (const model of ['photos', 'copy']) {
      const { body } = await gql(service.url, SEARCH, { text: caption, model });
      assert.equal(body.errors, undefined, JSON.stringify(body.errors));
      const e = await gql(service.url, 'query($i: [ImageInput!]!, $c: [String!]!, $m: String) { embedImages(images: $i, model: $m) { embedding } embedCaptions(captions: $c, model: $m) { embedding } }', { i: images, c: [caption], m: model });
      const text: number[] = e.body.data.embedCaptions[0].embedding;
      const expected = files.map((f, i) => ({ id: `${f.file}`, score: cosine(text, e.body.data.embedImages[i].embedding) })).sort((a, b) => b.score - a.score);
      const hits = body.data.search.hits as Array<{ id: string; score: number }>;
      assert.deepEqual(hits.map((h) => h.id), expected.map((x) => x.id), model);
      hits.forEach((h, i) => assert.ok(Math.abs(h.score - expected[i].score) < 1e-5, `${model} ${h.id}: ${h.score} vs ${expected[i].score}`));
    }
    const { body } = await gql(service.url, '{ collections { name model modelFingerprint } }');
    const trip = body.data.collections.find((c: { name: string }) => c.name === 'trip');
    assert.equal(trip.model, 'tiny-clip-336');
    assert.match(trip.modelFingerprint, /^[0-9a-f]{64}$/);
  });

  it('with no model named, a collection request encodes with the served model that holds its weights, not the default', async () => {
    const image = [{ base64: readFileSync(files[0].path).toString('base64') }];
    // made through the non-default model tiny-clip-336 (the other weights)
    const made = await gql(service.url, 'mutation { createCollection(name: "by-other", model: "tiny-clip-336") { model } }');
    assert.equal(made.body.errors, undefined, JSON.stringify(made.body.errors));
    const add = await gql(service.url, 'mutation($i: [ImageInput!]!) { addImages(collection: "by-other", images: $i, ids: ["a"]) { ids } }', { i: image });
    assert.equal(add.body.errors, undefined, JSON.stringify(add.body.errors));
    const other = await gql(service.url, 'query { search(collection: "by-other", text: "a cat", k: 1) { model hits { id } } }');
    assert.deepEqual(other.body.data?.search, { model: 'tiny-clip-336', hits: [{ id: 'a' }] }, JSON.stringify(other.body));
    // the CLI-indexed collection: the default (photos) holds its weights
    const trip = await gql(service.url, 'query { search(collection: "trip", text: "a cat", k: 1) { model } }');
    assert.equal(trip.body.data?.search.model, 'photos', JSON.stringify(trip.body));
    // a model named is still obeyed: the default against the other weights' collection
    const named = await gql(service.url, 'query { search(collection: "by-other", text: "a cat", k: 1, model: "photos") { model } }');
    assert.equal(named.body.errors?.[0]?.extensions?.code, 'MODEL_MISMATCH');
  });

  it('other weights under the same name: MODEL_MISMATCH naming both, with the command that re-indexes, in the server and the CLI', async () => {
    const { body } = await gql(service.url, SEARCH, { text: 'a cat', model: 'tiny-clip-336' });
    const e = body.errors?.[0];
    assert.equal(e?.extensions?.code, 'MODEL_MISMATCH', JSON.stringify(body));
    assert.match(e.message, /collection "trip" holds embeddings of model tiny-clip-336 \(D = 32\), weights [0-9a-f]{12}; this request's embedding is from model tiny-clip-336 \(D = 32\), weights [0-9a-f]{12}: other weights under the same name/);
    assert.match(e.message, /clipql index PATH\.\.\. --collection NEW_NAME --model tiny-clip-336/);
    assert.notEqual(e.extensions.collectionFingerprint, e.extensions.fingerprint);
    const add = await gql(service.url, 'mutation($i: [ImageInput!]!) { addImages(collection: "trip", images: $i, ids: ["x"], model: "tiny-clip-336") { ids } }', { i: [{ base64: readFileSync(files[0].path).toString('base64') }] });
    assert.equal(add.body.errors?.[0]?.extensions?.code, 'MODEL_MISMATCH');
    await service.store.close(); // PGlite: one process at a time on the folder; the CLI opens it next
    let out = '';
    let err = '';
    const io: Io = { out: (s) => (out += s), err: (s) => (err += s), tty: false };
    assert.equal(await main(['search', 'trip', 'a cat', '--model', other, '--store', store], undefined, io), 1, out);
    assert.match(err, /^error \[MODEL_MISMATCH\]: collection "trip" holds embeddings of model tiny-clip-336 .*other weights under the same name/);
    err = '';
    assert.equal(await main(['search', 'trip', 'a cat', '--model', copy, '--store', store, '--json'], undefined, io), 0, err);
    assert.equal((JSON.parse(out) as { hits: unknown[] }).hits.length, files.length);
  });
});
