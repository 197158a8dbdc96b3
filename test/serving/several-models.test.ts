/**
 * Done-when of issue 17 item 1: two models served at once (CLIP_MODELS): the committed tiny model
 * (D = 32, 336 px) and tiny-224 (D = 16, 224 px), generated here with its PyTorch references.
 * Each query's matrix equals THAT model's reference; an unknown `model` is MODEL_NOT_FOUND;
 * embeddings of two models never meet (a collection bound to one refuses the other's); each
 * model has its own caches; one preprocessing pool serves both.
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TINY_MODEL_DIR } from '../../src/paths';
import type { Service } from '../../src/server/service';
import { assertClose, tinyReference, type TinyReference } from '../helpers/reference';
import { generateSecondModel, type SecondModel } from '../helpers/second-model';
import { gql, startTestService } from '../helpers/server';
import { notebook } from '../helpers/shared';
import { freshPgliteDir } from '../helpers/pglite';

let service: Service;
let second: SecondModel;
let storeDir: string;
const items = notebook();
const images = items.map((it) => ({ base64: readFileSync(it.path).toString('base64') }));
const captions = items.map((it) => `It is ${it.caption}`);

before(async () => {
  second = generateSecondModel();
  storeDir = await freshPgliteDir('clipql-models-store-');
  // CLIP_COLLECTION_PREPROCESS=exact: addImages' stored embeddings are compared with PyTorch's
  // reference below (1e-5), which only the PIL-identical path reproduces (the default, shrink,
  // decodes large images at a reduced scale: cosine ≥ 0.9995, not 1e-5).
  service = await startTestService({ CLIP_MODELS: `tiny=${TINY_MODEL_DIR},small=${second.dir}`, CLIP_STORE: storeDir, CLIP_COLLECTION_PREPROCESS: 'exact' });
});
after(async () => {
  await service?.stop();
  rmSync(storeDir, { recursive: true, force: true });
});

async function ok(query: string, variables: Record<string, unknown> = {}): Promise<any> {
  const { status, body } = await gql(service.url, query, variables);
  assert.equal(body.errors, undefined, JSON.stringify(body.errors));
  assert.equal(status, 200);
  return body.data;
}

async function failure(query: string, variables: Record<string, unknown> = {}): Promise<{ code: string; message: string; argument?: string }> {
  const { body } = await gql(service.url, query, variables);
  assert.ok(body.errors?.length, `expected an error, got ${JSON.stringify(body.data)}`);
  return { code: body.errors![0].extensions?.code, message: body.errors![0].message, argument: body.errors![0].extensions?.argument };
}

const SIMILARITY = `query($images: [ImageInput!]!, $captions: [String!]!, $model: String) {
  similarity(images: $images, captions: $captions, model: $model) { scores captions { tokens } model { name bundle embedDim imageSize isDefault } }
}`;

describe('two models in one server', () => {
  it('Query.models lists both, the default first, with dimension, input size, backends, start-up time and memory', async () => {
    const { models } = await ok('{ models { name bundle isDefault embedDim imageSize contextLength backends startupMs memoryBytes fileBytes } }');
    assert.deepEqual(models.map((m: any) => [m.name, m.bundle, m.isDefault, m.embedDim, m.imageSize]), [
      ['tiny', 'tiny-clip-336', true, 32, 336],
      ['small', 'tiny-224', false, 16, 224],
    ]);
    const size = (dir: string) => ['vision_model.onnx', 'text_model.onnx'].reduce((n, f) => n + statSync(path.join(dir, 'onnx', f)).size, 0);
    assert.equal(models[0].fileBytes, size(TINY_MODEL_DIR));
    assert.equal(models[1].fileBytes, size(second.dir));
    for (const m of models) {
      assert.ok(m.backends.includes('onnx'), JSON.stringify(m.backends));
      assert.ok(m.startupMs > 0, `startupMs of ${m.name}: ${m.startupMs}`);
      assert.ok(m.memoryBytes >= 0, `memoryBytes of ${m.name}: ${m.memoryBytes}`);
    }
  });

  const cases: Array<[string, string | undefined, () => TinyReference, number]> = [
    ['the default (no model)', undefined, tinyReference, 32],
    ['model: "tiny"', 'tiny', tinyReference, 32],
    ['model: "small"', 'small', () => second.reference, 16],
  ];
  for (const [what, model, reference, dim] of cases) {
    it(`similarity with ${what} equals that model's PyTorch reference within 1e-5`, async () => {
      const ref = reference();
      assert.deepEqual(captions, ref.texts);
      const m = (await ok(SIMILARITY, { images, captions, model })).similarity;
      assert.equal(m.model.embedDim, dim);
      const max = assertClose(m.scores, ref.similarity, 1e-5, `scores of ${model ?? 'the default'}`);
      assert.ok(max < 1e-5);
      m.captions.forEach((c: { tokens: number[] }, i: number) => assert.deepEqual(c.tokens, ref.tokens[i]));
    });
  }

  it("the two references differ: a matrix of the wrong model would fail the comparison", () => {
    assert.throws(() => assertClose(second.reference.similarity, tinyReference().similarity, 1e-5, 'small vs tiny'));
  });

  it('embedImages / embedCaptions / classify / compareBackends encode with the named model; one request may use both (caches per model)', async () => {
    const two = images.slice(0, 2);
    const d = await ok(
      `query($images: [ImageInput!]!, $captions: [String!]!) {
        a: embedImages(images: $images) { embedding(normalize: false) }
        b: embedImages(images: $images, model: "small") { embedding(normalize: false) }
        c: embedCaptions(captions: $captions, model: "small") { embedding(normalize: false) }
        k: classify(image: { base64: "${images[0].base64}" }, labels: ["x", "y"], model: "small") { model { name embedDim } }
      }`,
      { images: two, captions: captions.slice(0, 2) },
    );
    assertClose(d.a.map((x: any) => x.embedding), tinyReference().image_embeds.slice(0, 2), 1e-4, 'tiny image_embeds');
    assertClose(d.b.map((x: any) => x.embedding), second.reference.image_embeds.slice(0, 2), 1e-4, 'small image_embeds');
    assertClose(d.c.map((x: any) => x.embedding), second.reference.text_embeds.slice(0, 2), 1e-4, 'small text_embeds');
    assert.deepEqual(d.k.model, { name: 'small', embedDim: 16 });
    const cmp = await failure(`{ compareBackends(images: [{ base64: "${images[0].base64}" }], captions: ["a"], backends: ["onnx", "torch"], model: "nope") { reference } }`);
    assert.equal(cmp.code, 'MODEL_NOT_FOUND');
  });

  it('an unknown model is MODEL_NOT_FOUND, naming it and the served ones, wherever `model` is taken', async () => {
    const queries = [
      [SIMILARITY, { images: images.slice(0, 1), captions: ['a'], model: 'ViT-B-32' }],
      ['{ embedCaptions(captions: ["a"], model: "ViT-B-32") { tokens } }', {}],
      ['{ backends(model: "ViT-B-32") { name } }', {}],
      ['mutation { createCollection(name: "nope", model: "ViT-B-32") { name } }', {}],
    ] as const;
    for (const [q, v] of queries) {
      const f = await failure(q, v);
      assert.equal(f.code, 'MODEL_NOT_FOUND', q);
      assert.equal(f.argument, 'model');
      assert.match(f.message, /"ViT-B-32"/);
      assert.match(f.message, /"tiny", "small"/);
    }
  });

  it('a collection is bound to its model: the other model, named, adds or searches with MODEL_MISMATCH naming both; unnamed, the collection\'s own is used', async () => {
    const c = (await ok('mutation { createCollection(name: "small-photos", model: "small") { name model dimension } }')).createCollection;
    assert.deepEqual(c, { name: 'small-photos', model: 'small', dimension: 16 });
    const add = `mutation($images: [ImageInput!]!, $ids: [ID!]!, $model: String) { addImages(collection: "small-photos", images: $images, ids: $ids, model: $model) { count } }`;
    assert.equal((await ok(add, { images: images.slice(0, 3), ids: ['a', 'b', 'c'], model: 'small' })).addImages.count, 3);
    const search = `query($text: String!, $model: String) { search(collection: "small-photos", text: $text, k: 3, model: $model) { model hits { id score } } }`;
    const found = (await ok(search, { text: captions[1], model: 'small' })).search;
    assert.equal(found.model, 'small');
    assert.equal(found.hits.length, 3);
    // The hit scores are the small model's similarities (reference row 1, columns 0..2).
    for (const h of found.hits) assert.ok(Math.abs(h.score - second.reference.similarity[1]['abc'.indexOf(h.id)]) < 1e-5, JSON.stringify(h));
    // Named, the other model is refused; with no model named the collection's own is used.
    for (const f of [await failure(search, { text: 'a cat', model: 'tiny' }), await failure(add, { images: images.slice(0, 1), ids: ['d'], model: 'tiny' })]) {
      assert.equal(f.code, 'MODEL_MISMATCH');
      assert.match(f.message, /small \(D = 16\)/);
      assert.match(f.message, /tiny \(D = 32\)/);
    }
    assert.equal((await ok(search, { text: 'a cat' })).search.model, 'small');
  });

  it('each model has its own pipeline (backends, batchers, caches) and both share one preprocessing pool', () => {
    const [tiny, small] = service.models.list();
    assert.notEqual(tiny.pipeline, small.pipeline);
    assert.equal(small.pipeline.preprocessPool, tiny.pipeline.preprocessPool);
    assert.equal(service.pipeline, tiny.pipeline);
  });

  it('/healthz/ready asks every model\'s default backend', async () => {
    const res = await fetch(`${service.url}/healthz/ready`);
    assert.equal(res.status, 200);
    const small = service.models.resolve('small').pipeline;
    const backend = (await small.embedder()).backend;
    const health = backend.health;
    backend.health = () => Promise.reject(new Error('small is down'));
    try {
      const down = await fetch(`${service.url}/healthz/ready`);
      assert.equal(down.status, 503);
      assert.match(((await down.json()) as { error: string }).error, /small is down/);
    } finally {
      backend.health = health;
    }
  });

  it('/metrics shows every model\'s batches, queues and cache under its own name', async () => {
    // Two captions per model, then the first again: one text batch and one cache hit each.
    for (const model of ['tiny', 'small']) {
      await ok('query($c: [String!]!, $m: String) { embedCaptions(captions: $c, model: $m) { embedding } }', { c: ['a metrics probe', 'another metrics probe'], m: model });
      await ok('query($c: [String!]!, $m: String) { embedCaptions(captions: $c, model: $m) { embedding } }', { c: ['a metrics probe'], m: model });
    }
    const text = await (await fetch(`${service.url}/metrics`)).text();
    const value = (series: string) => {
      const line = text.split('\n').find((l) => l.startsWith(`${series} `));
      assert.ok(line, `${series} in /metrics`);
      return Number(line.slice(series.length + 1));
    };
    for (const model of ['tiny', 'small']) {
      const labels = `model="${model}",backend="onnx",tower="text"`;
      assert.ok(value(`clipql_batch_size_count{${labels}}`) >= 1, `${model}: text batches`);
      assert.equal(value(`clipql_queue_length{${labels}}`), 0, `${model}: text queue`);
      assert.ok(value(`clipql_cache_hits{${labels}}`) >= 1, `${model}: the repeated caption came from its cache`);
      assert.equal(value(`clipql_worker_restarts{model="${model}",backend="onnx"}`), 0);
    }
  });

  it('/v1/embeddings serves the second model too, equal to GraphQL', async () => {
    const res = await fetch(`${service.url}/v1/embeddings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'small', input: [captions[0]] }) });
    assert.equal(res.status, 200);
    const v1 = ((await res.json()) as { data: { embedding: number[] }[] }).data[0].embedding;
    const g = (await ok(`{ embedCaptions(captions: [${JSON.stringify(captions[0])}], model: "small") { embedding } }`)).embedCaptions[0].embedding;
    assert.equal(v1.length, 16);
    assertClose([v1], [g], 1e-6, 'v1 vs GraphQL');
  });
});
