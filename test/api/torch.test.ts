/**
 * The torch backend end to end over HTTP: `CLIP_BACKEND=torch npm start` (a real child process
 * running PyTorch workers) answers the walkthrough query like the onnx backend (to 1e-4), and
 * compareBackends checks the two in one call.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { assertClose, tinyReference } from '../helpers/reference';
import { gql, startChildServer, type ChildServer } from '../helpers/server';
import { notebook } from '../helpers/shared';

let server: ChildServer;
before(async () => {
  server = await startChildServer({ CLIP_BACKEND: 'torch', CLIP_TORCH_DEVICES: 'cpu' }, 180_000);
});
after(async () => {
  await server?.stop();
});

const inputs = () => {
  const items = notebook();
  return { images: items.map((it) => ({ base64: readFileSync(it.path).toString('base64') })), captions: items.map((it) => `It is ${it.caption}`) };
};

test('CLIP_BACKEND=torch serves the reference matrix to 1e-4', async () => {
  const { body } = await gql(server.url, `query($images: [ImageInput!]!, $captions: [String!]!) { similarity(images: $images, captions: $captions) { scores backend { name device dtype } } }`, inputs());
  assert.equal(body.errors, undefined, JSON.stringify(body.errors));
  assert.equal(body.data.similarity.backend.name, 'torch');
  assert.equal(body.data.similarity.backend.dtype, 'float32');
  assertClose(body.data.similarity.scores, tinyReference().similarity, 1e-4, 'torch scores');
});

test('compareBackends(onnx, torch): every similarity within 1e-4, every best match equal', async () => {
  const { body } = await gql(
    server.url,
    `query($images: [ImageInput!]!, $captions: [String!]!) { compareBackends(images: $images, captions: $captions, backends: ["onnx", "torch"]) {
      reference maxAbsDifference bestMatchesAgree
      results { backend { name device } scores maxAbsDifference minEmbeddingCosine bestCaptionPerImage }
    } }`,
    inputs(),
  );
  assert.equal(body.errors, undefined, JSON.stringify(body.errors));
  const c = body.data.compareBackends;
  assert.equal(c.reference, 'onnx');
  assert.deepEqual(c.results.map((r: { backend: { name: string } }) => r.backend.name), ['onnx', 'torch']);
  assert.equal(c.results[0].maxAbsDifference, 0);
  assert.ok(c.maxAbsDifference < 1e-4, `max |onnx - torch| = ${c.maxAbsDifference}`);
  assert.ok(c.results[1].minEmbeddingCosine > 0.9999, `min embedding cosine ${c.results[1].minEmbeddingCosine}`);
  assert.equal(c.bestMatchesAgree, true);
  // The comparison's own numbers agree with an independent computation: the reference matrix.
  assertClose(c.results[1].scores, tinyReference().similarity, 1e-4, 'torch scores in comparison');
});

test('compareBackends refuses fewer than two backends and unknown ones', async () => {
  const one = await gql(server.url, `{ compareBackends(images: [{ url: "http://example.com/a.png" }], captions: ["x"], backends: ["onnx"]) { reference } }`);
  assert.equal(one.body.errors?.[0].extensions.code, 'BAD_USER_INPUT');
  const unknown = await gql(server.url, `{ compareBackends(images: [{ url: "http://example.com/a.png" }], captions: ["x"], backends: ["onnx", "tpu"]) { reference } }`);
  assert.equal(unknown.body.errors?.[0].extensions.code, 'BACKEND_UNAVAILABLE');
});
