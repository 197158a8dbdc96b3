/**
 * The one conformance suite every backend runs (the contract in src/backends/backend.ts), on the
 * tiny bundle, on the CPU: shape [count, D] and float32, rows in input order (a batch equals the
 * rows computed one by one), determinism, one shared start for concurrent init() calls, and
 * dispose: calls in flight settle, later calls reject with BACKEND_UNAVAILABLE.
 *
 * A backend added to defaultRegistry() must be added to FACTORIES below (a test checks it).
 */
import { rng } from '../../scripts/hostile/bytes';
import { parseConfig } from '../../src/config/config';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Backend, BackendOptions, ImageBatch, TokenBatch } from '../../src/backends/backend';
import { createOnnxBackend } from '../../src/backends/onnx/onnx-backend';
import { defaultRegistry, type BackendRegistry } from '../../src/backends/registry';
import { createTorchBackend } from '../../src/backends/torch/torch-backend';
import { loadBundle, type ModelBundle } from '../../src/bundle/bundle';
import { ClipqlError, ErrorCode } from '../../src/errors';
import { TINY_MODEL_DIR, defaultBpeVocab } from '../../src/paths';

const FACTORIES: Record<string, (o: BackendOptions) => Backend> = { onnx: createOnnxBackend, torch: createTorchBackend };

/** Settings that keep every backend on the CPU, whatever the environment says. */
const CPU_ENV = { ...process.env, CLIP_ONNX_EP: 'cpu', CLIP_TORCH_DEVICES: 'cpu', CLIP_TORCH_DTYPE: 'float32' };


/** `count` random RGB crops (uint8 S × S × 3), fresh buffers each call. */
function images(bundle: ModelBundle, count: number, seed = 1): ImageBatch {
  const s = bundle.imageSize;
  const next = rng(seed);
  const pixels = Array.from({ length: count }, () => {
    const t = new Uint8Array(3 * s * s);
    for (let i = 0; i < t.length; i++) t[i] = Math.floor(next() * 256);
    return t;
  });
  return { pixels, size: s };
}

/** Token rows: start 49406, a few ids, end 49407, zeros. */
const TOKEN_ROWS = [[320, 1125, 539, 320, 2368], [320, 1929], [550, 2441, 786, 12, 320, 896, 1374], [2368]];

function texts(bundle: ModelBundle, rows: number[][] = TOKEN_ROWS): TokenBatch {
  const n = bundle.contextLength;
  const ids = new BigInt64Array(rows.length * n);
  rows.forEach((row, r) => [49406, ...row, 49407].forEach((t, i) => (ids[r * n + i] = BigInt(t))));
  return { ids, count: rows.length, contextLength: n };
}

/** Rows `from`..`from+count` of an image batch, as a batch of their own (a copy). */
function imageRows(batch: ImageBatch, from: number, count: number): ImageBatch {
  return { pixels: batch.pixels.slice(from, from + count).map((t) => t.slice()), size: batch.size };
}

function assertRowsClose(actual: Float32Array, expected: Float32Array, dim: number, tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    if (!(d <= tol)) assert.fail(`${what}: row ${Math.floor(i / dim)} column ${i % dim}: ${actual[i]} vs ${expected[i]} (|diff| ${d} > ${tol})`);
  }
}

async function rejectsWith(p: Promise<unknown>, code: ErrorCode, what: string): Promise<ClipqlError> {
  const e = await p.then(
    () => assert.fail(`${what}: expected a ${code} rejection, it resolved`),
    (err: unknown) => err,
  );
  assert.ok(e instanceof ClipqlError, `${what}: expected a ClipqlError, got ${String(e)}`);
  assert.equal(e.code, code, `${what}: ${e.message}`);
  return e;
}

let bundle: ModelBundle;
let options: BackendOptions;

before(async () => {
  bundle = await loadBundle(TINY_MODEL_DIR, { bpeVocab: defaultBpeVocab() });
  options = { bundle, config: parseConfig(CPU_ENV).config };
});

test('every registered backend runs this suite', () => {
  assert.deepEqual(defaultRegistry(options).names().sort(), Object.keys(FACTORIES).sort());
});

for (const name of Object.keys(FACTORIES)) {
  describe(`backend conformance: ${name}`, () => {
    let registry: BackendRegistry;
    let backend: Backend;

    before(async () => {
      registry = defaultRegistry(options);
      backend = await registry.get(name);
    });
    after(() => registry.disposeAll());

    test('describe() names the backend, the model and the CPU', () => {
      const info = backend.describe();
      assert.equal(info.name, name);
      assert.equal(info.model, bundle.name);
      assert.match(info.device, /^cpu/);
      assert.equal(info.dtype, 'float32');
      assert.ok(info.maxBatch.image >= 1 && info.maxBatch.text >= 1);
    });

    test('shape [count, D], float32, finite', async () => {
      const img = await backend.encodeImages(images(bundle, 3));
      const txt = await backend.encodeTexts(texts(bundle));
      assert.ok(img.data instanceof Float32Array && txt.data instanceof Float32Array);
      assert.equal(img.count, 3);
      assert.equal(txt.count, TOKEN_ROWS.length);
      assert.equal(img.dim, txt.dim, 'both towers give the same D');
      if (bundle.embedDim !== undefined) assert.equal(img.dim, bundle.embedDim);
      assert.equal(img.data.length, 3 * img.dim);
      assert.equal(txt.data.length, TOKEN_ROWS.length * txt.dim);
      assert.ok([...img.data, ...txt.data].every(Number.isFinite));
    });

    test('order: a batch equals its rows computed one by one', async () => {
      const batch = images(bundle, 4, 7);
      const whole = await backend.encodeImages(imageRows(batch, 0, 4));
      for (let i = 0; i < 4; i++) {
        const one = await backend.encodeImages(imageRows(batch, i, 1));
        assertRowsClose(one.data, whole.data.subarray(i * whole.dim, (i + 1) * whole.dim), whole.dim, 1e-5, `image ${i}`);
      }
      const t = await backend.encodeTexts(texts(bundle));
      for (let i = 0; i < TOKEN_ROWS.length; i++) {
        const one = await backend.encodeTexts(texts(bundle, [TOKEN_ROWS[i]]));
        assertRowsClose(one.data, t.data.subarray(i * t.dim, (i + 1) * t.dim), t.dim, 1e-5, `text ${i}`);
      }
    });

    test('determinism: the same input twice gives identical rows', async () => {
      const a = await backend.encodeImages(images(bundle, 2, 3));
      const b = await backend.encodeImages(images(bundle, 2, 3));
      assert.deepEqual(a.data, b.data);
      const ta = await backend.encodeTexts(texts(bundle));
      const tb = await backend.encodeTexts(texts(bundle));
      assert.deepEqual(ta.data, tb.data);
    });

    test('batches of different sizes at once (a backend that reuses its input buffer must not mix them)', async () => {
      const sizes = [3, 1, 5, 2];
      const alone: Array<Awaited<ReturnType<Backend['encodeImages']>>> = [];
      for (const [k, n] of sizes.entries()) alone.push(await backend.encodeImages(images(bundle, n, 20 + k)));
      const together = await Promise.all(sizes.map((n, k) => backend.encodeImages(images(bundle, n, 20 + k))));
      together.forEach((r, k) => assertRowsClose(r.data, alone[k].data, r.dim, 1e-5, `batch ${k}`));
    });

    test('concurrent init() calls share one start; dispose settles calls in flight and refuses later ones', async () => {
      const fresh = FACTORIES[name](options);
      const starts = [fresh.init(), fresh.init(), fresh.init()];
      assert.ok(starts.every((p) => p === starts[0]), 'init() returns one shared promise');
      await Promise.all(starts);
      assert.equal(fresh.init(), starts[0], 'and the same one after it settled');
      await fresh.health();

      // A call in flight at dispose either completes or rejects with BACKEND_UNAVAILABLE: it never hangs.
      const inFlight = fresh.encodeImages(images(bundle, 8, 5)).then(
        (e) => ({ ok: true as const, count: e.count }),
        (e: unknown) => ({ ok: false as const, e }),
      );
      await fresh.dispose();
      const settled = await inFlight;
      if (settled.ok) assert.equal(settled.count, 8);
      else assert.ok(settled.e instanceof ClipqlError && settled.e.code === ErrorCode.BACKEND_UNAVAILABLE, String(settled.e));

      await rejectsWith(fresh.encodeImages(images(bundle, 1)), ErrorCode.BACKEND_UNAVAILABLE, 'encodeImages after dispose');
      await rejectsWith(fresh.encodeTexts(texts(bundle)), ErrorCode.BACKEND_UNAVAILABLE, 'encodeTexts after dispose');
    });
  });
}
