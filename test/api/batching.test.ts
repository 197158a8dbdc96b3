/**
 * Batching across requests: 32 concurrent single-image requests reach the backend in far fewer
 * than 32 calls, and a repeated image never reaches it at all (the embedding cache).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Service } from '../../src/server/service';
import { patternImage } from '../helpers/images';
import { gql, startTestService } from '../helpers/server';

let service: Service;
before(async () => {
  service = await startTestService({ CLIP_BATCH_DELAY_MS: '5' });
});
after(async () => {
  await service?.stop();
});

const Q = `query($images: [ImageInput!]!, $captions: [String!]!) { similarity(images: $images, captions: $captions) { scores } }`;

test('32 concurrent single-image requests are merged into far fewer backend calls', async () => {
  const embedder = await service.pipeline.embedder();
  const images = await Promise.all(Array.from({ length: 32 }, (_, i) => patternImage(i + 1)));
  const before = embedder.stats().imageBatches;
  const answers = await Promise.all(images.map((img) => gql(service.url, Q, { images: [{ base64: img.toString('base64') }], captions: ['It is a pattern'] })));
  for (const a of answers) assert.equal(a.body.errors, undefined, JSON.stringify(a.body.errors));
  const calls = embedder.stats().imageBatches - before;
  assert.ok(calls <= 10, `32 requests took ${calls} backend calls`);
  // Distinct images give distinct scores: each request got its own row back, not a neighbour's.
  const scores = new Set(answers.map((a) => a.body.data.similarity.scores[0][0]));
  assert.equal(scores.size, 32);

  const cached = await gql(service.url, Q, { images: [{ base64: images[7].toString('base64') }], captions: ['It is a pattern'] });
  assert.equal(embedder.stats().imageBatches - before, calls, 'a repeated image did not reach the backend');
  assert.equal(cached.body.data.similarity.scores[0][0], answers[7].body.data.similarity.scores[0][0]);
});

test('duplicates inside one request are encoded once', async () => {
  const embedder = await service.pipeline.embedder();
  const img = (await patternImage(99)).toString('base64');
  const before = embedder.stats();
  const a = await gql(service.url, Q, { images: [{ base64: img }, { base64: img }, { base64: `data:image/png;base64,${img}` }], captions: ['It is x', 'It is x', 'IT IS   X'] });
  assert.equal(a.body.errors, undefined, JSON.stringify(a.body.errors));
  const s = a.body.data.similarity.scores;
  assert.equal(s[0][0], s[0][1]);
  assert.equal(s[0][0], s[2][2], 'case and spacing do not change the tokens, so not the embedding');
  const after = embedder.stats();
  assert.equal(after.imageBatches - before.imageBatches, 1, 'one image batch');
  assert.equal(after.textBatches - before.textBatches, 1, 'one text batch');
});

test("a request's new items reach the Embedder in one call per tower, and its captions leave in one batch", async () => {
  const embedder = await service.pipeline.embedder();
  const images = await Promise.all([201, 202, 203].map((s) => patternImage(s)));
  const captions = ['It is one', 'It is two', 'It is three', 'It is four', 'It is five'];
  const calls = { ...embedder.calls };
  const before = embedder.stats();
  const a = await gql(service.url, Q, { images: images.map((i) => ({ base64: i.toString('base64') })), captions });
  assert.equal(a.body.errors, undefined, JSON.stringify(a.body.errors));
  assert.equal(embedder.calls.images - calls.images, 1, 'the three new images in one embedImages call');
  assert.equal(embedder.calls.texts - calls.texts, 1, 'the five new captions in one embedTokensMany call');
  assert.equal(embedder.stats().textBatches - before.textBatches, 1, 'the five captions in one backend batch');
});
