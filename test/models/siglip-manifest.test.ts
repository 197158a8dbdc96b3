/**
 * The SigLIP entries of the real models/manifest.json, fetched from the local stand-in hub
 * (hub-server.ts) as `models download` fetches them, each served the files of a seeded checkpoint of
 * its layout (test/reference/siglip_models.py) under the paths the entry lists; then loaded as a
 * bundle: the entry names every file a model of its layout needs, from its repository, in the format
 * it is served in. The real files cannot be fetched here; their names are the repositories' own
 * (see docs/models.md).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadBundle } from '../../src/bundle/bundle';
import { loadManifest, type FormatSelection } from '../../src/download/manifest';
import { downloadModel } from '../../src/download/model-download';
import { silentProgress } from '../../src/download/progress';
import { ClipqlError } from '../../src/errors';
import { REPO_ROOT } from '../../src/paths';
import { ClipPipeline } from '../../src/pipeline';
import { venvPython } from '../helpers/python';
import { cosine } from '../helpers/reference';
import { sharedTokenizerCache, siglipModelAnswers, siglipModels } from '../helpers/siglip';
import { HubServer, tempDir } from './hub-server';

const MANIFEST = path.join(REPO_ROOT, 'models', 'manifest.json');

/** Each SigLIP entry: the fixture folder of its layout, the format it is fetched in, the checkpoint whose answers apply. */
const ENTRIES: Record<string, { fixture: string; format: FormatSelection; answers: string; repo: string }> = {
  'siglip-base-patch16-224': { fixture: 'siglip-p16-tjs', format: 'onnx', answers: 'siglip-p16', repo: 'Xenova/siglip-base-patch16-224' },
  'siglip2-base-patch16-224-onnx': { fixture: 'siglip2-p14-onnx', format: 'onnx', answers: 'siglip2-p14', repo: 'onnx-community/siglip2-base-patch16-224-ONNX' },
  'siglip2-base-patch16-224': { fixture: 'siglip2-p14', format: 'torch', answers: 'siglip2-p14', repo: 'google/siglip2-base-patch16-224' },
  'siglip-so400m-patch14-384': { fixture: 'siglip-p16', format: 'torch', answers: 'siglip-p16', repo: 'google/siglip-so400m-patch14-384' },
};

let models: string;
let cache: string;
before(async () => {
  models = await siglipModels();
  cache = await sharedTokenizerCache();
});

describe('the SigLIP entries of models/manifest.json, fetched from a local hub', () => {
  for (const [name, spec] of Object.entries(ENTRIES)) {
    describe(name, () => {
      let server: HubServer;
      let listed: { path: string; optional?: boolean; format?: string }[];
      before(async () => {
        const entry = (await loadManifest(MANIFEST)).models[name];
        assert.ok(entry, `${name} is in the manifest`);
        listed = [...entry.files];
        const source = entry.sources.hub;
        assert.ok(source?.type === 'hf' && source.repo === spec.repo, `${name} comes from ${spec.repo}`);
        // the fixture's file at each listed path; optional ones the fixture lacks are left out (the hub answers 404)
        const files = new Map<string, Buffer>();
        for (const f of entry.files) {
          const p = path.join(models, spec.fixture, f.path);
          if (existsSync(p)) files.set(f.path, readFileSync(p));
          else assert.ok(f.optional, `${f.path} is required by the entry but a model of this layout does not need it`);
        }
        server = await new HubServer(files).start();
      });
      after(() => server?.close());

      test(`--format ${spec.format}: every file from ${spec.repo}, a bundle of the SigLIP family with the checkpoint's numbers`, async () => {
        const modelsDir = tempDir('clipql-siglip-models-');
        const r = await downloadModel({ manifestPath: MANIFEST, modelsDir, name, format: spec.format, env: { HF_ENDPOINT: server.hubOrigin }, retries: 0, progress: silentProgress });
        assert.deepEqual(r.warnings, []);
        const want = listed.filter((f) => !f.format || f.format === spec.format).map((f) => f.path);
        assert.deepEqual([...r.files.map((f) => f.path), ...r.skipped].sort(), [...want].sort());
        assert.ok(server.requests.every((q) => q.path.startsWith(`/${spec.repo}/resolve/main/`)), server.requests.map((q) => q.path).join(', '));
        const a = siglipModelAnswers(models, spec.answers);
        const bundle = await loadBundle(r.dir, { cacheDir: cache, python: venvPython() });
        assert.equal(bundle.family.name, 'siglip');
        assert.equal(bundle.contextLength, 64);
        const p = bundle.probability;
        assert.ok(p.kind === 'sigmoid' && Math.abs(p.scale - Math.exp(a.logit_scale)) < 1e-5 && Math.abs(p.bias - a.logit_bias) < 1e-6, JSON.stringify(p));
        if (spec.format === 'onnx') {
          // the towers serve: a caption's embedding as transformers' (the torch worker is slow to start; siglip-models.test.ts serves those folders)
          const pipeline = await ClipPipeline.open({ modelDir: r.dir, backend: 'onnx', preprocessThreads: 0, env: { CLIP_CACHE_DIR: cache, CLIP_ONNX_THREADS: '1', CLIP_TORCH_PYTHON: venvPython() } });
          try {
            assert.deepEqual(Array.from(pipeline.tokenize(a.captions[1])), a.tokens[1]);
            assert.ok(cosine(await pipeline.embedText(a.captions[1]), a.text_embeds[1]) >= 0.99999);
          } finally {
            await pipeline.close();
          }
        }
      });

      if (spec.format === 'torch') {
        test('the default format (onnx) is refused, naming the one it has', async () => {
          const modelsDir = tempDir('clipql-siglip-models-');
          await assert.rejects(
            downloadModel({ manifestPath: MANIFEST, modelsDir, name, env: { HF_ENDPOINT: server.hubOrigin }, retries: 0, progress: silentProgress }),
            (e: unknown) => e instanceof ClipqlError && e.code === 'BAD_USER_INPUT' && e.message.includes(`${name} has no onnx files; its format is torch: fetch it with --format torch`),
          );
        });
      }
    });
  }
});
