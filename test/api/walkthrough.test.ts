/**
 * Done-when of the GraphQL issue: the server answers the walkthrough's query (eight images as
 * base64, eight captions prefixed "It is ") with the PyTorch reference's matrix, over real HTTP.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import type { Service } from '../../src/server/service';
import { assertClose, tinyReference } from '../helpers/reference';
import { gql, startTestService } from '../helpers/server';
import { notebook } from '../helpers/shared';

let service: Service;
before(async () => {
  service = await startTestService();
});
after(async () => {
  await service?.stop();
});

const QUERY = `query Walkthrough($images: [ImageInput!]!, $captions: [String!]!) {
  similarity(images: $images, captions: $captions) {
    images { id width height format mode sha256 }
    captions { id text tokens tokenCount truncated }
    scores
    probabilitiesOverCaptions
    bestCaptionPerImage { image caption score probability }
    bestImagePerCaption { image caption score }
    model { name imageSize randomWeights warning }
    backend { name device healthy }
    timings { totalMs }
  }
}`;

test('the walkthrough query over HTTP gives the PyTorch reference matrix within 1e-5', async () => {
  const ref = tinyReference();
  const items = notebook();
  const images = items.map((it) => ({ base64: readFileSync(it.path).toString('base64') }));
  const captions = items.map((it) => `It is ${it.caption}`);
  assert.deepEqual(captions, ref.texts, 'the reference was computed for the same captions');
  const { status, body } = await gql(service.url, QUERY, { images, captions });
  assert.equal(status, 200);
  assert.equal(body.errors, undefined, JSON.stringify(body.errors));
  const m = body.data.similarity;
  const maxDiff = assertClose(m.scores, ref.similarity, 1e-5, 'scores');
  assert.ok(maxDiff < 1e-5);
  m.captions.forEach((c: { tokens: number[] }, i: number) => assert.deepEqual(c.tokens, ref.tokens[i], `tokens of caption ${i}`));
  m.images.forEach((im: { width: number; height: number; mode: string }, i: number) => {
    assert.equal(im.width, ref.images[i].width, `width of ${items[i].file}`);
    assert.equal(im.height, ref.images[i].height, `height of ${items[i].file}`);
    assert.equal(im.mode, ref.images[i].mode, `mode of ${items[i].file}`);
  });
  // Best caption per image = argmax over each column of the reference.
  const refBest = ref.similarity[0].map((_, j) => ref.similarity.reduce((b, row, i) => (row[j] > ref.similarity[b][j] ? i : b), 0));
  assert.deepEqual(m.bestCaptionPerImage.map((x: { caption: number }) => x.caption), refBest);
  for (let j = 0; j < images.length; j++) {
    const col = m.probabilitiesOverCaptions.map((row: number[]) => row[j]);
    assert.ok(Math.abs(col.reduce((a: number, b: number) => a + b, 0) - 1) < 1e-9, `probabilities of image ${j} sum to 1`);
  }
  assert.equal(m.model.randomWeights, true);
  assert.match(m.model.warning, /random weights/);
  assert.equal(m.backend.name, 'onnx');
});
