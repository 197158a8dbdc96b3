/**
 * A SigLIP 2-shaped model (test/reference/siglip_models.py's siglip2-p14: Gemma-style tokenizer,
 * exported by models/export.py) served over GraphQL by the onnx backend, against transformers'
 * own answers (siglip2-p14.json):
 * - the API says the family and what its probabilities are; similarity's probabilities are
 *   transformers' sigmoid(logits_per_image) within 1e-5, its tokens transformers' ids;
 * - multilingual search: the eight notebook images indexed into a collection, searched with
 *   six captions in several scripts (German and French with accents, Chinese, Arabic, Cyrillic, emoji): every hit's
 *   score within 1e-5 of the cosine of transformers' embeddings, the hits in that order.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Service } from '../../src/server/service';
import { freshPgliteDir } from '../helpers/pglite';
import { venvPython } from '../helpers/python';
import { cosine } from '../helpers/reference';
import { gql, startTestService } from '../helpers/server';
import { SHARED } from '../helpers/shared';
import { siglipModelAnswers, siglipModels, type SiglipModelAnswers } from '../helpers/siglip';

const TOL = 1e-5;
let service: Service;
let store: string;
let cache: string;
let a: SiglipModelAnswers;
let images: { base64: string }[];

async function ok(query: string, variables: Record<string, unknown> = {}) {
  const { body } = await gql(service.url, query, variables);
  assert.equal(body.errors, undefined, JSON.stringify(body.errors));
  return body.data;
}

const unit = (v: number[]) => {
  const n = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  return v.map((x) => x / n);
};

before(async () => {
  const dir = await siglipModels();
  a = siglipModelAnswers(dir, 'siglip2-p14');
  images = a.images.map((n) => ({ base64: readFileSync(path.join(SHARED, 'images', 'notebook', n)).toString('base64') }));
  store = await freshPgliteDir('clipql-siglip-api-');
  cache = mkdtempSync(path.join(os.tmpdir(), 'clipql-siglip-api-cache-'));
  // CLIP_COLLECTION_PREPROCESS=exact: the stored embeddings are compared with transformers' own,
  // which decodes as PIL does (the collections' default, shrink-on-load, is within 0.9995).
  service = await startTestService({ CLIP_STORE: store, CLIP_CACHE_DIR: cache, CLIP_COLLECTION_PREPROCESS: 'exact', CLIP_TORCH_PYTHON: venvPython(), CLIP_BACKEND: 'onnx', CLIP_ONNX_THREADS: '1' }, path.join(dir, 'siglip2-p14-onnx'));
});
after(async () => {
  await service?.stop();
  for (const d of [store, cache]) if (d) rmSync(d, { recursive: true, force: true });
});

describe('a SigLIP model over GraphQL', () => {
  it('says its family and its probability rule; similarity gives transformers\' probabilities and ids', async () => {
    const data = await ok(
      `query S($images: [ImageInput!]!, $captions: [String!]!) {
        models { name family probability contextLength }
        similarity(images: $images, captions: $captions) { probabilitiesOverCaptions captions { tokens } model { family } }
      }`,
      { images, captions: a.captions },
    );
    assert.deepEqual([data.models[0].family, data.models[0].contextLength, data.similarity.model.family], ['siglip', 64, 'siglip']);
    assert.match(data.models[0].probability, /^sigmoid\([\d.]+ × cosine \+ -3\.7\) per pair$/);
    assert.deepEqual(data.similarity.captions.map((c: { tokens: number[] }) => c.tokens), a.tokens);
    const p: number[][] = data.similarity.probabilitiesOverCaptions; // [caption][image]
    a.probabilities_per_image.forEach((row, img) => row.forEach((want, cap) => assert.ok(Math.abs(p[cap][img] - want) <= TOL, `image ${img} caption ${cap}: ${p[cap][img]} vs transformers' ${want}`)));
  });

  it('multilingual search: the notebook images indexed, found with captions in several scripts, in transformers\' order', async () => {
    await ok('mutation { createCollection(name: "notebook") { name } }');
    await ok('mutation A($ids: [ID!]!, $images: [ImageInput!]!) { addImages(collection: "notebook", ids: $ids, images: $images) { count } }', { ids: a.images, images });
    const imageUnits = a.image_embeds.map(unit);
    const scripts = [1, 2, 3, 4, 5, 6]; // German, Chinese, Arabic, Cyrillic, emoji, French with accents
    for (const c of scripts) {
      const caption = a.captions[c];
      const data = await ok('query Q($text: String!) { search(collection: "notebook", text: $text, k: 8, exact: true) { exact hits { id score } } }', { text: caption });
      const want = imageUnits.map((v, i) => ({ id: a.images[i], score: cosine(unit(a.text_embeds[c]), v) })).sort((x, y) => y.score - x.score);
      const hits: { id: string; score: number }[] = data.search.hits;
      assert.equal(data.search.exact, true);
      assert.equal(hits.length, 8);
      hits.forEach((h, r) => {
        const ref = want.find((w) => w.id === h.id)!;
        assert.ok(Math.abs(h.score - ref.score) <= TOL, `${caption}: ${h.id} scored ${h.score}, transformers' cosine ${ref.score}`);
        // the order is transformers' wherever two cosines are not within the tolerance of each other
        if (Math.abs(want[r].score - h.score) > TOL) assert.equal(h.id, want[r].id, `${caption}: rank ${r + 1}`);
      });
    }
  });
});
