/**
 * Seeded SiglipModel checkpoints made by transformers 5 (test/reference/siglip_models.py: patch 16
 * with SigLIP's unigram tokenizer, patch 14 with a Gemma-style one; every parameter perturbed,
 * logit_scale 2.1 and logit_bias -3.7), exported by `npm run models -- export` (models/export.py
 * → export_siglip.py) and served by the onnx backend through ClipPipeline (the path every surface
 * serves: clipql's preprocessing, tokenizer, batcher, backend, similarity); and the Hugging Face
 * folder as it is served by the torch backend (src/backends/torch/siglip_model.py from
 * model.safetensors; logit_scale and logit_bias read from it). Against transformers' own answers:
 * tokens equal, every embedding's cosine >= 0.99999, every probability within 1e-5 of
 * sigmoid(SiglipModel.forward's logits_per_image).
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { before, describe, test, type TestContext } from 'node:test';
import { loadBundle } from '../../src/bundle/bundle';
import { ClipPipeline } from '../../src/pipeline';
import { venvPython } from '../helpers/python';
import { cosine } from '../helpers/reference';
import { SHARED } from '../helpers/shared';
import { SIGLIP_MODELS, sharedTokenizerCache, siglipModelAnswers, siglipModels } from '../helpers/siglip';

const COSINE = 0.99999;
const PROBABILITY_TOL = 1e-5;
let dir: string;
let cache: string;

before(async () => {
  dir = await siglipModels();
  cache = await sharedTokenizerCache();
});

function assertCosines(actual: ArrayLike<number>[], expected: number[][], what: string): number {
  assert.equal(actual.length, expected.length);
  let worst = 1;
  expected.forEach((row, i) => {
    const c = cosine(actual[i], row);
    assert.ok(c >= COSINE, `${what}[${i}]: cosine to transformers' ${c} < ${COSINE}`);
    worst = Math.min(worst, c);
  });
  return worst;
}

/** Every file under `dir` with its size and modification time: what "nothing written" compares. */
function listing(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => `${path.relative(dir, path.join(e.parentPath, e.name))} ${statSync(path.join(e.parentPath, e.name)).size} ${statSync(path.join(e.parentPath, e.name)).mtimeMs}`)
    .sort();
}

/** The checks through ClipPipeline, the path every surface serves. */
async function check(t: TestContext, name: string, modelDir: string, backend: string): Promise<void> {
  const a = siglipModelAnswers(dir, name);
  // a torch worker's start (imports, weights) has taken over 120 s on a loaded 2-core machine
  const env = { CLIP_CACHE_DIR: cache, CLIP_TORCH_PYTHON: venvPython(), CLIP_ONNX_THREADS: '1', CLIP_TORCH_DEVICES: 'cpu', CLIP_TORCH_THREADS: '1', CLIP_TORCH_START_TIMEOUT_MS: '300000' };
  const pipeline = await ClipPipeline.open({ modelDir, backend, preprocessThreads: 0, env });
  try {
    assert.equal(pipeline.bundle.family.name, 'siglip');
    assert.equal(pipeline.bundle.contextLength, 64);
    assert.deepEqual(a.captions.map((c) => Array.from(pipeline.tokenize(c))), a.tokens, 'ids equal to transformers\' (padding included)');
    const images = a.images.map((n) => readFileSync(path.join(SHARED, 'images', 'notebook', n)));
    const r = await pipeline.similarity(images, a.captions, backend);
    const ci = assertCosines(r.imageEmbeddings, a.image_embeds, 'image');
    const ct = assertCosines(r.textEmbeddings, a.text_embeds, 'text');
    let worst = 0;
    a.probabilities_per_image.forEach((row, img) =>
      row.forEach((p, cap) => {
        const got = r.probsPerImage[img][cap];
        assert.ok(Math.abs(got - p) <= PROBABILITY_TOL, `image ${img} caption ${cap}: probability ${got}, transformers ${p}`);
        worst = Math.max(worst, Math.abs(got - p));
      }),
    );
    // each pair on its own: a column need not sum to 1
    assert.ok(r.probsPerImage.some((col) => Math.abs(col.reduce((x, y) => x + y, 0) - 1) > 0.01), 'sigmoid, not softmax');
    t.diagnostic(`${backend}: min cosine image ${ci}, text ${ct}; max |probability diff| ${worst}`);
  } finally {
    await pipeline.close();
  }
}

describe('SigLIP checkpoints against transformers', () => {
  for (const name of SIGLIP_MODELS) {
    test(`${name}: exported, served by the onnx backend: tokens, embeddings, probabilities`, (t) => check(t, name, path.join(dir, `${name}-onnx`), 'onnx'));

    test(`${name}: the Hugging Face folder as it is, served by the torch backend (nothing written into it)`, async (t) => {
      const folder = path.join(dir, name);
      const before = listing(folder);
      await check(t, name, folder, 'torch');
      assert.deepEqual(listing(folder), before);
    });

    if (name === 'siglip-p16') {
      test(`${name} in Transformers.js' ONNX layout (towers answering last_hidden_state and pooler_output, logit_scale and logit_bias only in onnx/model.onnx), served by the onnx backend`, (t) =>
        check(t, name, path.join(dir, `${name}-tjs`), 'onnx'),
      );
    }

    test(`${name}: the Hugging Face folder as it is: logit_scale and logit_bias from model.safetensors`, async () => {
      const a = siglipModelAnswers(dir, name);
      const bundle = await loadBundle(path.join(dir, name), { cacheDir: cache, python: venvPython() });
      assert.equal(bundle.probability.kind, 'sigmoid');
      assert.ok(bundle.probability.kind === 'sigmoid' && Math.abs(bundle.probability.bias - a.logit_bias) < 1e-6 && Math.abs(bundle.probability.scale - Math.exp(a.logit_scale)) < 1e-5);
      assert.equal(bundle.files.weights, path.join(dir, name, 'model.safetensors'));
    });
  }
});
