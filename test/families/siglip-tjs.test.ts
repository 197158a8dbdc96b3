/**
 * Transformers.js' SigLIP layout served as it is by the onnx backend, over GraphQL: the seeded
 * siglip-p16 checkpoint (test/reference/siglip_models.py) exported as optimum lays out
 * Xenova/siglip-* (towers answering last_hidden_state and pooler_output; onnx/model.onnx, the whole
 * model, where alone logit_scale and logit_bias are; tokenizer.json beside spiece.model), with
 * nothing of clipql's added. Against transformers' SiglipModel on the same checkpoint:
 * - "tjs": ids equal, embeddings cosine >= 0.99999, probabilities within 1e-5 of
 *   sigmoid(logits_per_image);
 * - "towers" (the same folder without onnx/model.onnx): the same similarities; probabilities
 *   refused with PROBABILITY_UNAVAILABLE, and the models list says so.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Service } from '../../src/server/service';
import { venvPython } from '../helpers/python';
import { cosine } from '../helpers/reference';
import { gql, startTestService } from '../helpers/server';
import { SHARED } from '../helpers/shared';
import { siglipModelAnswers, siglipModels, type SiglipModelAnswers } from '../helpers/siglip';

const COSINE = 0.99999;
const TOL = 1e-5;
let service: Service;
let cache: string;
let a: SiglipModelAnswers;
let images: { base64: string }[];

before(async () => {
  const dir = await siglipModels();
  a = siglipModelAnswers(dir, 'siglip-p16');
  images = a.images.map((n) => ({ base64: readFileSync(path.join(SHARED, 'images', 'notebook', n)).toString('base64') }));
  cache = mkdtempSync(path.join(os.tmpdir(), 'clipql-siglip-tjs-'));
  const models = `tjs=${path.join(dir, 'siglip-p16-tjs')},towers=${path.join(dir, 'siglip-p16-tjs-towers')}`;
  service = await startTestService({ CLIP_MODELS: models, CLIP_CACHE_DIR: cache, CLIP_TORCH_PYTHON: venvPython(), CLIP_BACKEND: 'onnx', CLIP_ONNX_THREADS: '1' });
});
after(async () => {
  await service?.stop();
  if (cache) rmSync(cache, { recursive: true, force: true });
});

const SIMILARITY = `query S($images: [ImageInput!]!, $captions: [String!]!, $model: String) {
  similarity(images: $images, captions: $captions, model: $model) { scores probabilitiesOverCaptions bestCaptionPerImage { probability } }
}`;

describe('a Transformers.js SigLIP folder served as it is', () => {
  it('the models say their family and where their probabilities stand', async () => {
    const { body } = await gql(service.url, '{ models { name family probability probabilitiesAvailable contextLength } }');
    assert.equal(body.errors, undefined, JSON.stringify(body.errors));
    const [tjs, towers] = body.data.models;
    assert.deepEqual([tjs.name, tjs.family, tjs.probabilitiesAvailable, tjs.contextLength], ['tjs', 'siglip', true, 64]);
    assert.match(tjs.probability, /^sigmoid\(8\.16617 × cosine \+ -3\.7\) per pair$/, 'exp(2.1) and -3.7, read from onnx/model.onnx');
    assert.deepEqual([towers.name, towers.family, towers.probabilitiesAvailable], ['towers', 'siglip', false]);
    assert.match(towers.probability, /^unavailable: .*no onnx\/model\.onnx/);
  });

  it('tokens, embeddings and probabilities as transformers\' SiglipModel', async () => {
    const q = `query E($images: [ImageInput!]!, $captions: [String!]!) {
      embedImages(images: $images, model: "tjs") { embedding }
      embedCaptions(captions: $captions, model: "tjs") { tokens embedding }
    }`;
    const { body } = await gql(service.url, q, { images, captions: a.captions });
    assert.equal(body.errors, undefined, JSON.stringify(body.errors));
    assert.deepEqual(body.data.embedCaptions.map((c: { tokens: number[] }) => c.tokens), a.tokens, "ids equal to transformers' (padding included)");
    const check = (got: { embedding: number[] }[], want: number[][], what: string) =>
      want.forEach((w, i) => {
        const c = cosine(got[i].embedding, w);
        assert.ok(c >= COSINE, `${what}[${i}]: cosine ${c} < ${COSINE}`);
      });
    check(body.data.embedImages, a.image_embeds, 'image');
    check(body.data.embedCaptions, a.text_embeds, 'text');

    const s = await gql(service.url, SIMILARITY, { images, captions: a.captions, model: 'tjs' });
    assert.equal(s.body.errors, undefined, JSON.stringify(s.body.errors));
    const p: number[][] = s.body.data.similarity.probabilitiesOverCaptions; // [caption][image]
    a.probabilities_per_image.forEach((row, img) => row.forEach((want, cap) => assert.ok(Math.abs(p[cap][img] - want) <= TOL, `image ${img} caption ${cap}: ${p[cap][img]} vs transformers' ${want}`)));
  });

  it('without onnx/model.onnx: the same scores; probabilities refused with PROBABILITY_UNAVAILABLE, never made up', async () => {
    const [withLogits, scoresOnly] = await Promise.all([
      gql(service.url, SIMILARITY, { images, captions: a.captions, model: 'tjs' }),
      gql(service.url, 'query S($images: [ImageInput!]!, $captions: [String!]!) { similarity(images: $images, captions: $captions, model: "towers") { scores } }', { images, captions: a.captions }),
    ]);
    assert.equal(scoresOnly.body.errors, undefined, JSON.stringify(scoresOnly.body.errors));
    // the same weights (batches may differ: float32 rounding apart, equal)
    const want: number[][] = withLogits.body.data.similarity.scores;
    scoresOnly.body.data.similarity.scores.forEach((row: number[], i: number) => row.forEach((v, j) => assert.ok(Math.abs(v - want[i][j]) <= TOL, `score [${i}][${j}]: ${v} vs ${want[i][j]}`)));

    const refused = await gql(service.url, SIMILARITY, { images, captions: a.captions, model: 'towers' });
    assert.equal(refused.body.data, null);
    const errors = refused.body.errors ?? [];
    assert.ok(errors.length >= 1);
    for (const e of errors) {
      assert.equal(e.extensions.code, 'PROBABILITY_UNAVAILABLE', JSON.stringify(e));
      assert.match(e.message, /serves similarities but no probabilities: .*onnx\/model\.onnx/);
    }
    const classify = await gql(service.url, 'query C($image: ImageInput!) { classify(image: $image, labels: ["cat", "dog"], model: "towers") { labels { label score probability } } }', { image: images[0] });
    assert.equal(classify.body.errors?.[0]?.extensions?.code, 'PROBABILITY_UNAVAILABLE', JSON.stringify(classify.body));
    const scores = await gql(service.url, 'query C($image: ImageInput!) { classify(image: $image, labels: ["cat", "dog"], model: "towers") { labels { label score rank } } }', { image: images[0] });
    assert.equal(scores.body.errors, undefined, JSON.stringify(scores.body.errors));
    assert.equal(scores.body.data.classify.labels.length, 2);
  });
});
