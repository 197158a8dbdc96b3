/**
 * Query images over a real server with preprocessing inline (CLIP_PREPROCESS_THREADS=0: the
 * decodes run on this thread and are counted by work-counts.ts): an image embedded once is not
 * decoded again (its probe is remembered, the embedding cached); `embedImages` without
 * `embedding` decodes nothing; with `embedding` asked through a fragment, the unseen image is
 * decoded once, with its probe.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { imageWorkCounts } from '../../src/preprocess/image/work-counts';
import type { Service } from '../../src/server/service';
import { patternImage } from '../helpers/images';
import { gql, startTestService } from '../helpers/server';

let service: Service;
before(async () => {
  service = await startTestService({ CLIP_PREPROCESS_THREADS: '0' });
});
after(async () => {
  await service?.stop();
});

const url = () => service.url;
const decodes = () => imageWorkCounts().decodes;

test('facts only: no decode; embedding through a fragment: one decode; the same image again: none', async () => {
  const image = { base64: (await patternImage(21, 'jpeg', 90, 70)).toString('base64') };
  let before = decodes();
  const facts = await gql(url(), 'query($i:[ImageInput!]!){embedImages(images:$i){width height format}}', { i: [image] });
  assert.equal(facts.body.errors, undefined, JSON.stringify(facts.body.errors));
  assert.deepEqual(facts.body.data.embedImages, [{ width: 90, height: 70, format: 'jpeg' }]);
  assert.equal(decodes() - before, 0, 'no embedding asked: nothing decoded');

  before = decodes();
  const q = 'query($i:[ImageInput!]!){embedImages(images:$i){...E}} fragment E on Image { width embedding }';
  const first = await gql(url(), q, { i: [image] });
  assert.equal(first.body.errors, undefined, JSON.stringify(first.body.errors));
  assert.equal(decodes() - before, 1, 'one decode for the unseen image');
  before = decodes();
  const again = await gql(url(), q, { i: [image] });
  assert.deepEqual(again.body.data, first.body.data);
  assert.equal(decodes() - before, 0, 'seen before: no decode');
});
