/**
 * CLIP_ONNX_INSTANCES: the onnx backend runs that many session pairs, each on a worker thread of
 * its own, and gives each batch to the instance with the fewest calls in flight, so that two
 * batches run side by side (BENCHMARKS.md: two single-threaded sessions against one with two
 * threads). Checked here: what describe() reports, that two batches in flight go to two instances,
 * that the answers equal one instance's, and that an instance that dies fails its own calls and
 * stops the backend (health), as the one-instance backend did.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { setImmediate as tick } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import type { ImageBatch } from '../../src/backends/backend';
import { bulkOnnxInstances, OnnxBackend } from '../../src/backends/onnx/onnx-backend';
import type { ExitRequest } from '../../src/backends/onnx/protocol';
import os from 'node:os';
import { loadBundle } from '../../src/bundle/bundle';
import { parseConfig } from '../../src/config/config';
import { ClipqlError, ErrorCode } from '../../src/errors';
import { TINY_MODEL_DIR, defaultBpeVocab } from '../../src/paths';
import { randomCrops } from '../helpers/torch';
import { assertClose } from '../helpers/reference';

const made: OnnxBackend[] = [];
after(() => Promise.all(made.map((b) => b.dispose())));

let size = 0;
async function backend(instances?: number): Promise<OnnxBackend> {
  const bundle = await loadBundle(TINY_MODEL_DIR, { bpeVocab: defaultBpeVocab() });
  size = bundle.imageSize;
  const env: Record<string, string> = instances === undefined ? {} : { CLIP_ONNX_INSTANCES: String(instances), CLIP_ONNX_THREADS: '1' };
  const b = new OnnxBackend({ bundle, config: parseConfig(env).config });
  made.push(b);
  await b.init();
  return b;
}

const crops = (count: number, seed: number): ImageBatch => randomCrops(size, count, seed);
const rows = (data: Float32Array, dim: number) => Array.from({ length: data.length / dim }, (_, i) => data.subarray(i * dim, (i + 1) * dim));

test('two instances: described, two batches in flight run on two instances, the same numbers as one instance', async () => {
  const one = await backend(1);
  const two = await backend(2);
  const info = two.describe();
  assert.equal(info.capacity.perDevice, 2, 'two batches in flight');
  assert.equal(info.capacity.hostThreads, 2, 'two instances of one thread');
  assert.equal(info.details?.instances, 2);
  assert.equal(one.describe().capacity.perDevice, 1);

  const a = two.encodeImages(crops(4, 1));
  const b = two.encodeImages(crops(4, 2));
  await tick(); // encodeImages awaits init() before it dispatches
  assert.deepEqual(two.inFlight(), [1, 1], 'one batch on each instance, not two queued on one');
  const [ra, rb] = await Promise.all([a, b]);
  const [oa, ob] = [await one.encodeImages(crops(4, 1)), await one.encodeImages(crops(4, 2))];
  assertClose(rows(ra.data, ra.dim), rows(oa.data, oa.dim), 1e-5, 'batch a, two instances against one');
  assertClose(rows(rb.data, rb.dim), rows(ob.data, ob.dim), 1e-5, 'batch b, two instances against one');
  assert.deepEqual(two.inFlight(), [0, 0]);
});

test('defaults: one instance with every core in a server; two for clipql index on a CPU with 2+ cores; a setting wins', async () => {
  const info = (await backend()).describe();
  assert.equal(info.capacity.perDevice, 1);
  assert.equal(info.details?.intraOpThreads, os.availableParallelism());
  const cpu = parseConfig({}).config;
  assert.equal(bulkOnnxInstances(cpu), os.availableParallelism() >= 2 ? 2 : 1);
  assert.equal(bulkOnnxInstances(parseConfig({ CLIP_ONNX_INSTANCES: '3' }).config), 3);
  assert.equal(bulkOnnxInstances(parseConfig({ CLIP_ONNX_EP: 'cuda' }).config), 1, 'one device: no second instance');
});

test('an instance that dies fails its own calls with BACKEND_UNAVAILABLE, and the backend stops serving', async () => {
  const two = await backend(2);
  // Fault injection: the first instance's thread ends as a crash would, at its next message (a
  // thread terminated from outside inside session.run aborts the whole process: onnx-backend's
  // stop()). The first call goes to it, the least busy; the second to the other instance.
  const first = (two as unknown as { workers: { worker: Worker }[] }).workers[0].worker;
  const exited = new Promise<number>((r) => first.once('exit', r));
  first.postMessage({ type: 'exit', code: 1 } satisfies ExitRequest);
  const calls = [two.encodeImages(crops(8, 3)), two.encodeImages(crops(8, 4))];
  assert.equal(await exited, 1);
  const settled = await Promise.allSettled(calls);
  const failed = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected');
  assert.ok(failed.length >= 1, 'the call on the dead instance failed');
  for (const f of failed) assert.ok(f.reason instanceof ClipqlError && f.reason.code === ErrorCode.BACKEND_UNAVAILABLE, String(f.reason));
  await assert.rejects(two.health(), (e: unknown) => e instanceof ClipqlError && e.code === ErrorCode.BACKEND_UNAVAILABLE);
  await assert.rejects(two.encodeImages(crops(1, 5)), (e: unknown) => e instanceof ClipqlError && e.code === ErrorCode.BACKEND_UNAVAILABLE);
});
