/**
 * The torch backend with real worker processes on the CPU (the project's venv, torch 2): the same
 * answers as the onnx backend on the tiny bundle, OpenAI-style checkpoints, calls split at the
 * worker's batch limit, and each start-up failure the issue names, with its message. A worker
 * killed mid-batch or hung is in test/load/worker-faults.test.ts (npm run test:load).
 */
import { parseConfig } from '../../src/config/config';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import type { Backend, BackendOptions, Embeddings, ImageBatch, TokenBatch } from '../../src/backends/backend';
import { defaultRegistry, type BackendRegistry } from '../../src/backends/registry';
import { TorchBackend } from '../../src/backends/torch/torch-backend';
import { loadBundle, type ModelBundle } from '../../src/bundle/bundle';
import { ClipqlError, ErrorCode } from '../../src/errors';
import { TINY_MODEL_DIR, defaultBpeVocab } from '../../src/paths';
import { cachedFixture } from '../helpers/fixture-cache';
import { venvPython } from '../helpers/python';
import { CPU_ENV, TOKEN_ROWS, randomCrops, rejection, tokenBatch, torchBackend as makeTorchBackend } from '../helpers/torch';

const run = promisify(execFile);
const PYTHON = process.env.CLIP_TORCH_PYTHON || venvPython();
/**
 * python3 -c OPENAI_STYLE_SCRIPT IN OUT: writes IN as OpenAI's released checkpoints look (float16
 * weights, float16 casts and "cuda" device constants traced into the graphs), prints how many
 * device constants and casts it changed.
 */
const OPENAI_STYLE_SCRIPT = `
import sys, torch
m = torch.jit.load(sys.argv[1], map_location="cpu")
g1, g2 = torch._C.Graph(), torch._C.Graph()
cuda, half = g1.insertConstant(torch.device("cuda")).node(), g2.insertConstant(5).node()
nd = nh = 0
for mod in [m] + [x for _, x in m.named_modules()][1:]:
    for name in mod._c._method_names():
        g = getattr(mod, name).graph
        for n in g.findAllNodes("prim::Constant"):
            if "value" in n.attributeNames() and str(n.output().type()) == "Device":
                n.copyAttributes(cuda); nd += 1
        for n in g.findAllNodes("aten::to"):
            ins = list(n.inputs())
            for i in (1, 2):
                c = ins[i].node() if i < len(ins) else None
                if c is not None and c.kind() == "prim::Constant" and "value" in c.attributeNames() and str(c.output().type()) == "int" and c.i("value") == 6:
                    c.copyAttributes(half); nh += 1
m.half()
m.save(sys.argv[2])
print(nd, nh)
`;

let bundle: ModelBundle;
let tmp: string;

/**
 * The default registry's backends on the CPU, started once for the file: each torch worker costs
 * seconds of CPU, and the plain one is the comparison of several suites below.
 */
let reg: BackendRegistry;
let onnx: Backend;
let torch: Backend;

before(async () => {
  bundle = await loadBundle(TINY_MODEL_DIR, { bpeVocab: defaultBpeVocab() });
  tmp = mkdtempSync(path.join(os.tmpdir(), 'clipql-torch-test-'));
  reg = defaultRegistry({ bundle, config: parseConfig(CPU_ENV).config });
  [onnx, torch] = await Promise.all([reg.get('onnx'), reg.get('torch')]);
});
after(async () => {
  await reg?.disposeAll();
  rmSync(tmp, { recursive: true, force: true });
});

/**
 * python -c SCRIPT <the tiny model.pt> DIR/model.pt, its stdout in DIR/stdout.txt: a checkpoint
 * derived from the committed one, made once per content of both (../helpers/fixture-cache.ts).
 */
const derived = (name: string, script: string) =>
  cachedFixture(`torch-${name}`, { pythons: [PYTHON], files: [bundle.files.torch!], args: [script] }, async (dir) => {
    mkdirSync(dir);
    const { stdout } = await run(PYTHON, ['-c', script, bundle.files.torch!, path.join(dir, 'model.pt')]);
    writeFileSync(path.join(dir, 'stdout.txt'), stdout);
  });

const torchBackend = (env: Record<string, string> = {}, b: ModelBundle = bundle) => makeTorchBackend(b, env);
const images = (count: number, seed = 1): ImageBatch => randomCrops(bundle.imageSize, count, seed);
const texts = (rows: number[][] = TOKEN_ROWS): TokenBatch => tokenBatch(bundle.contextLength, rows);

function rows(e: Embeddings): Float32Array[] {
  return Array.from({ length: e.count }, (_, i) => e.data.subarray(i * e.dim, (i + 1) * e.dim));
}

function normalise(v: Float32Array): number[] {
  const n = Math.hypot(...v);
  return Array.from(v, (x) => x / n);
}

const dot = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i], 0);

/** text @ image.T of the L2-normalised rows. */
function similarity(txt: Embeddings, img: Embeddings): number[][] {
  const t = rows(txt).map(normalise);
  const im = rows(img).map(normalise);
  return t.map((tr) => im.map((ir) => dot(tr, ir)));
}

const argmax = (r: number[]) => r.indexOf(Math.max(...r));

describe('torch on the CPU against onnx on the CPU', () => {
  test('every embedding has cosine >= 0.9999; similarities within 1e-4; every best match equal', async () => {
    const [oi, ti, ot, tt] = [await onnx.encodeImages(images(8)), await torch.encodeImages(images(8)), await onnx.encodeTexts(texts()), await torch.encodeTexts(texts())];
    for (const [what, a, b] of [['image', oi, ti], ['text', ot, tt]] as const) {
      assert.equal(a.dim, b.dim, `${what} D`);
      rows(a).forEach((r, i) => {
        const cos = dot(normalise(r), normalise(rows(b)[i]));
        assert.ok(cos >= 0.9999, `${what} ${i}: cosine ${cos} < 0.9999`);
      });
    }
    const so = similarity(ot, oi);
    const st = similarity(tt, ti);
    so.forEach((r, i) =>
      r.forEach((v, j) => {
        const d = Math.abs(v - st[i][j]);
        assert.ok(d <= 1e-4, `similarity[${i}][${j}]: onnx ${v}, torch ${st[i][j]}: |diff| ${d} > 1e-4`);
      }),
    );
    assert.deepEqual(st.map(argmax), so.map(argmax), 'best image per caption');
    const transpose = (m: number[][]) => m[0].map((_, j) => m.map((r) => r[j]));
    assert.deepEqual(transpose(st).map(argmax), transpose(so).map(argmax), 'best caption per image');
  });

  test('describe() shows the device, dtype, batch limits and the worker', () => {
    const info = torch.describe();
    assert.equal(info.name, 'torch');
    assert.equal(info.device, 'cpu');
    assert.equal(info.dtype, 'float32');
    assert.deepEqual(info.maxBatch, { image: 32, text: 128 });
    assert.equal(info.details['worker0.device'], 'cpu');
    assert.equal(info.details['worker0.state'], 'ready');
    assert.ok(Number(info.details['worker0.pid']) > 0);
    assert.equal(info.details['worker0.restarts'], 0);
  });

  /** Made once for both implementations (and for later runs: a Python start-up with torch). */
  let made: Promise<{ quirky: string; devices: number; casts: number }> | undefined;
  const openaiStyle = () =>
    (made ??= (async () => {
      const dir = await derived('openai-style', OPENAI_STYLE_SCRIPT);
      const [devices, casts] = readFileSync(path.join(dir, 'stdout.txt'), 'utf8').trim().split(/\s+/).map(Number);
      return { quirky: path.join(dir, 'model.pt'), devices, casts };
    })());

  for (const impl of ['eager', 'torchscript'] as const)
  test(`an OpenAI-style checkpoint (float16 weights, casts to float16 and 'cuda' device constants in the graph) runs on the CPU: CLIP_TORCH_IMPL=${impl}`, async () => {
    // Made from the tiny model the way OpenAI's released files look: what clip.load(jit=True) patches.
    const { quirky, devices, casts } = await openaiStyle();
    assert.ok(devices > 0, `the tiny model has device constants to move (${devices})`);

    const openai = torchBackend({ CLIP_TORCH_MODEL: quirky, CLIP_TORCH_IMPL: impl });
    try {
      await openai.init();
      const notes = String(openai.describe().details['worker0.notes']);
      if (impl === 'eager') {
        // The eager model takes the weights only (as float32): no graph to patch.
        assert.match(notes, /eager model, sdpa attention/);
      } else {
        assert.match(notes, /device constant\(s\) moved to cpu/);
        if (casts > 0) assert.match(notes, /float16 checkpoint converted to float32/);
      }
      for (const [a, b] of [
        [await torch.encodeImages(images(3, 2)), await openai.encodeImages(images(3, 2))],
        [await torch.encodeTexts(texts()), await openai.encodeTexts(texts())],
      ]) {
        rows(a).forEach((r, i) => {
          const cos = dot(normalise(r), normalise(rows(b)[i]));
          assert.ok(cos >= 0.999, `row ${i}: cosine ${cos} (float16-rounded weights) < 0.999`);
        });
      }
    } finally {
      await openai.dispose();
    }
  });
});

/**
 * python -c RENAMED_SCRIPT IN OUT: IN's graphs inside a traced wrapper, so that OUT has
 * encode_image / encode_text but parameter names OpenAI's layout does not have ("clip.visual...").
 */
const RENAMED_SCRIPT = `
import sys, torch
class Wrapper(torch.nn.Module):
    def __init__(self, clip):
        super().__init__()
        self.clip = clip
    def encode_image(self, x):
        return self.clip.encode_image(x)
    def encode_text(self, ids):
        return self.clip.encode_text(ids)
inner = torch.jit.load(sys.argv[1], map_location="cpu")
ids = torch.zeros(2, 77, dtype=torch.int64); ids[:, 0] = 49406; ids[:, 1] = 49407
m = torch.jit.trace_module(Wrapper(inner), {"encode_image": torch.zeros(2, 3, 336, 336), "encode_text": ids}, check_trace=False)
m.save(sys.argv[2])
print(sorted(m.state_dict())[0])
`;

describe('a TorchScript file whose weights the eager model cannot read', () => {
  test('is served through its own graphs, says so, and answers as the bundle does', async () => {
    const dir = await derived('renamed', RENAMED_SCRIPT);
    const renamed = path.join(dir, 'model.pt');
    assert.match(readFileSync(path.join(dir, 'stdout.txt'), 'utf8'), /^clip\./, 'the parameter names are not OpenAI\'s');
    const logged: string[] = [];
    const log = { info: () => undefined, warn: (_o: unknown, msg: string) => logged.push(msg), error: () => undefined, debug: () => undefined };
    const fallback = new TorchBackend({ bundle, config: parseConfig({ ...CPU_ENV, CLIP_TORCH_MODEL: renamed }).config, log: log as never });
    const plain = torch; // the registry's, as torchBackend() would make it
    try {
      await fallback.init();
      const info = fallback.describe();
      assert.equal(info.details.impl, 'torchscript', 'CLIP_TORCH_IMPL=eager fell back to the graphs');
      assert.match(String(info.details['worker0.notes']), /the eager model cannot read its weights \(not a CLIP ViT state dict: no visual\.proj.*serving the file's own TorchScript graphs/);
      assert.ok(logged.some((m) => /served through its own TorchScript graphs/.test(m)), `a warning was logged: ${JSON.stringify(logged)}`);
      for (const [a, b] of [
        [await plain.encodeImages(images(3, 4)), await fallback.encodeImages(images(3, 4))],
        [await plain.encodeTexts(texts()), await fallback.encodeTexts(texts())],
      ]) {
        rows(a).forEach((r, i) => r.forEach((v, j) => assert.ok(Math.abs(v - rows(b)[i][j]) <= 1e-5, `row ${i}[${j}]: ${v} vs ${rows(b)[i][j]}`)));
      }
    } finally {
      await fallback.dispose();
    }
  });
});

describe('calls larger than a worker batch (CLIP_TORCH_MAX_BATCH=2)', () => {
  let b: TorchBackend;

  before(async () => {
    b = torchBackend({ CLIP_TORCH_MAX_BATCH: '2' });
    await b.init();
  });
  after(() => b.dispose());

  test('calls above CLIP_TORCH_MAX_BATCH are split and joined in order', async () => {
    assert.deepEqual(b.describe().maxBatch, { image: 2, text: 8 });
    const whole = await b.encodeImages(images(5, 11));
    const all = images(5, 11);
    for (let i = 0; i < 5; i++) {
      const one = await b.encodeImages({ pixels: [all.pixels[i]], size: all.size });
      one.data.forEach((v, j) => assert.ok(Math.abs(v - whole.data[i * whole.dim + j]) <= 1e-5, `image ${i} column ${j}: ${v} vs ${whole.data[i * whole.dim + j]}`));
    }
    const twice = await b.encodeTexts(texts([...TOKEN_ROWS, ...TOKEN_ROWS])); // 12 rows: 8 + 4
    assert.deepEqual(twice.data.subarray(0, 6 * twice.dim), twice.data.subarray(6 * twice.dim));
  });
});

describe('start-up failures name their cause', { concurrency: true }, () => {
  test('missing python', async () => {
    const reg = defaultRegistry({ bundle, config: parseConfig({ ...CPU_ENV, CLIP_TORCH_PYTHON: '/nonexistent/python3' }).config });
    const e = await rejection(reg.get('torch'), ErrorCode.BACKEND_UNAVAILABLE, 'missing python');
    assert.match(e.message, /\/nonexistent\/python3/);
    assert.match(e.message, /CLIP_TORCH_PYTHON/);
    assert.match(e.message, /ENOENT/);
    await reg.disposeAll();
  });

  test('missing torch: says so and how to install it', async () => {
    const fake = path.join(tmp, 'no-torch');
    await run('mkdir', ['-p', fake]);
    writeFileSync(path.join(fake, 'torch.py'), 'raise ImportError("No module named \'torch\' (simulated)")\n');
    const b = torchBackend({ PYTHONPATH: fake });
    const e = await rejection(b.init(), ErrorCode.BACKEND_UNAVAILABLE, 'missing torch');
    assert.match(e.message, /PyTorch is not importable/);
    assert.match(e.message, /apt-get install python3-torch/);
    assert.match(e.message, /pip install torch --index-url https:\/\/download\.pytorch\.org\/whl\/rocm/);
    await b.dispose();
  });

  test('a GPU asked for on a machine without one: torch.cuda is not available, install the ROCm build', async () => {
    const b = torchBackend({ CLIP_TORCH_DEVICES: '0', CLIP_TORCH_DTYPE: '' });
    assert.equal(b.describe().dtype, 'float16', 'float16 is the GPU default');
    const e = await rejection(b.init(), ErrorCode.BACKEND_UNAVAILABLE, 'no GPU');
    assert.match(e.message, /torch\.cuda\.is_available\(\) is False/);
    assert.match(e.message, /ROCm build/);
    assert.match(e.message, /whl\/rocm/);
    assert.match(e.message, /CLIP_TORCH_DEVICES=cpu/);
    await b.dispose();
  });

  test('float16 on the CPU is refused', () => {
    assert.throws(() => torchBackend({ CLIP_TORCH_DTYPE: 'float16' }), (e: unknown) => e instanceof ClipqlError && e.code === ErrorCode.BAD_CONFIG && /float16 needs a GPU/.test(e.message));
  });

  test('a corrupt model file: BAD_MODEL naming the file', async () => {
    const file = path.join(tmp, 'corrupt-model.pt');
    writeFileSync(file, randomBytes(4096));
    for (const impl of ['eager', 'torchscript']) {
      const b = torchBackend({ CLIP_TORCH_IMPL: impl }, { ...bundle, files: { ...bundle.files, torch: file } });
      const e = await rejection(b.init(), ErrorCode.BAD_MODEL, `corrupt model (${impl})`);
      assert.ok(e.message.includes(file), e.message);
      assert.match(e.message, impl === 'eager' ? /neither a TorchScript archive .* nor a torch.save'd state_dict/ : /not a TorchScript archive/);
      await b.dispose();
    }
  });

  test('a bundle without weights for it: BAD_MODEL naming the bundle and the files it reads', () => {
    const { torch: _omitted, ...files } = bundle.files;
    const options: BackendOptions = { bundle: { ...bundle, files }, config: parseConfig(CPU_ENV).config };
    assert.throws(
      () => new TorchBackend(options),
      (e: unknown) => e instanceof ClipqlError && e.code === ErrorCode.BAD_MODEL && e.message.startsWith(bundle.dir) && /torch\/model\.pt.*model\.safetensors.*pytorch_model\.bin/.test(e.message),
    );
  });
});
