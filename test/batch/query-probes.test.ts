/**
 * Query images' probes (batch/query-probes.ts): an image seen before makes no trip to a
 * preprocessing thread; an unseen image the request will embed makes one trip for its probe and
 * crop together; damage found only by decoding fails the crop, not the probe. The pool is a
 * counting fake for the trips, and the real inline pool for what probeAndCrop returns.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { MAIN_THREAD_HASH_BYTES, PendingCrop, QueryProbes, type CropSpec } from '../../src/batch/query-probes';
import { ClipqlError, ErrorCode } from '../../src/errors';
import { clipTransformConfig } from '../../src/preprocess/image/config';
import { DEFAULT_DECODE_LIMITS } from '../../src/preprocess/image/decode';
import type { ImageProbe, ProbedImage } from '../../src/preprocess/image/probe';
import { preprocessPixels } from '../../src/preprocess/image/transform';
import { PreprocessPool } from '../../src/preprocess/pool';
import { patternImage } from '../helpers/images';

const SPEC: CropSpec = { cfg: clipTransformConfig(32), mode: 'exact' };
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** A pool that counts its trips and answers fixed facts (and a 3-byte crop). */
function countingPool(fail = false) {
  const calls = { probe: [] as Array<string | undefined>, probeAndCrop: [] as Array<string | undefined> };
  const deadlines: Array<number | undefined> = [];
  const facts = (bytes: Uint8Array, sha256?: string): ImageProbe => ({ sha256: sha256 ?? sha(bytes), width: 4, height: 3, format: 'png', mode: 'RGB' });
  const pool = {
    probe: async (bytes: Uint8Array, _limits: unknown, sha256?: string): Promise<ImageProbe> => {
      calls.probe.push(sha256);
      if (fail) throw new ClipqlError(ErrorCode.BAD_IMAGE, 'bad header');
      return facts(bytes, sha256);
    },
    probeAndCrop: async (bytes: Uint8Array, _cfg: unknown, _mode: unknown, _limits: unknown, sha256?: string, opts?: { deadline?: number }): Promise<ProbedImage> => {
      calls.probeAndCrop.push(sha256);
      deadlines.push(opts?.deadline);
      await new Promise((r) => setTimeout(r, 5));
      return { ...facts(bytes, sha256), pixels: new Uint8Array([1, 2, 3]) };
    },
  } as unknown as PreprocessPool;
  return { pool, calls, deadlines };
}

test('cache on: an unseen image makes one trip for its probe and crop; seen again, none', async () => {
  const { pool, calls } = countingPool();
  const probes = new QueryProbes(pool, DEFAULT_DECODE_LIMITS, 10);
  const bytes = new Uint8Array(1000).fill(7);
  const first = await probes.probe(bytes, SPEC);
  assert.deepEqual(calls, { probe: [], probeAndCrop: [sha(bytes)] }, 'one combined trip, the hash given (made on this thread)');
  assert.deepEqual(await first.crop!.take(), new Uint8Array([1, 2, 3]));
  const again = await probes.probe(bytes, SPEC);
  assert.deepEqual(calls, { probe: [], probeAndCrop: [sha(bytes)] }, 'no trip for an image seen before');
  assert.equal(again.crop, undefined, 'no crop: the embedding cache answers (or pixels() decodes)');
  assert.deepEqual({ ...again }, { sha256: sha(bytes), width: 4, height: 3, format: 'png', mode: 'RGB' });
  // Without `crop` (facts only), an unseen image is probed alone.
  await probes.probe(new Uint8Array(10).fill(1));
  assert.equal(calls.probe.length, 1);
});

test('cache off: every image makes one combined trip, hashed on the thread, under the request\'s deadline', async () => {
  const { pool, calls, deadlines } = countingPool();
  const probes = new QueryProbes(pool, DEFAULT_DECODE_LIMITS, 0);
  const bytes = new Uint8Array(100).fill(3);
  await probes.probe(bytes, { ...SPEC, deadline: 12345 });
  await probes.probe(bytes, SPEC);
  assert.deepEqual(calls, { probe: [], probeAndCrop: [undefined, undefined] });
  assert.deepEqual(deadlines, [12345, undefined]);
});

test('cache on, a large image: probed alone (it may be cached), not hashed on the main thread', async () => {
  const { pool, calls } = countingPool();
  const probes = new QueryProbes(pool, DEFAULT_DECODE_LIMITS, 10);
  const big = new Uint8Array(MAIN_THREAD_HASH_BYTES + 1);
  const p = await probes.probe(big, SPEC);
  assert.deepEqual(calls, { probe: [undefined], probeAndCrop: [] });
  assert.equal(p.crop, undefined);
});

test('the same unseen image at once: one trip, one crop taken once', async () => {
  const { pool, calls } = countingPool();
  const probes = new QueryProbes(pool, DEFAULT_DECODE_LIMITS, 10);
  const bytes = new Uint8Array(500).fill(9);
  const [a, b] = await Promise.all([probes.probe(bytes, SPEC), probes.probe(bytes, SPEC)]);
  assert.equal(calls.probeAndCrop.length, 1);
  assert.equal(a.crop, b.crop, 'one shared crop');
  assert.ok(await a.crop!.take());
  assert.equal(b.crop!.take(), undefined, 'taken once: its buffer goes to the backend');
});

test('a failed probe is not remembered', async () => {
  const { pool, calls } = countingPool(true);
  const probes = new QueryProbes(pool, DEFAULT_DECODE_LIMITS, 10);
  const bytes = new Uint8Array(20).fill(5);
  await assert.rejects(probes.probe(bytes), /bad header/);
  await assert.rejects(probes.probe(bytes), /bad header/);
  assert.equal(calls.probe.length, 2);
});

test('PendingCrop: a decode error rejects with its code, once', async () => {
  const c = new PendingCrop({ pixelError: { code: 'BAD_IMAGE', message: 'truncated', details: { at: 1 } } });
  await assert.rejects(c.take()!, (e: unknown) => e instanceof ClipqlError && e.code === ErrorCode.BAD_IMAGE && /truncated/.test(e.message));
  assert.equal(c.take(), undefined);
});

test('probeAndCrop (inline pool): the crop equals the separate decode; damage past the header fails the crop alone', async () => {
  const pool = new PreprocessPool(0);
  const cfg = clipTransformConfig(32);
  const jpeg = await patternImage(3, 'jpeg', 96, 80);
  const both = await pool.probeAndCrop(jpeg, cfg, 'exact', DEFAULT_DECODE_LIMITS);
  const alone = await preprocessPixels(jpeg, cfg, { mode: 'exact', limits: DEFAULT_DECODE_LIMITS });
  assert.deepEqual(both.pixels, alone.pixels);
  // the fast mode too (its header decides whether sharp resizes), on an image it shrinks
  const large = await patternImage(4, 'jpeg', 400, 300);
  const fast = await pool.probeAndCrop(large, cfg, 'fast', DEFAULT_DECODE_LIMITS);
  assert.deepEqual(fast.pixels, (await preprocessPixels(large, cfg, { mode: 'fast', limits: DEFAULT_DECODE_LIMITS })).pixels);
  assert.deepEqual({ sha256: both.sha256, width: both.width, height: both.height, format: both.format, mode: both.mode }, { sha256: sha(jpeg), width: 96, height: 80, format: 'jpeg', mode: 'RGB' });
  const truncated = jpeg.subarray(0, Math.floor(jpeg.length / 2));
  const t = await pool.probeAndCrop(truncated, cfg, 'exact', DEFAULT_DECODE_LIMITS);
  assert.equal(t.pixels, undefined);
  assert.equal(t.pixelError?.code, 'BAD_IMAGE');
  assert.equal(t.width, 96, 'the header still reads');
  await assert.rejects(pool.probeAndCrop(Buffer.from('not an image at all'), cfg, 'exact', DEFAULT_DECODE_LIMITS), (e: unknown) => e instanceof ClipqlError && e.code === ErrorCode.BAD_IMAGE);
  await pool.close();
});
