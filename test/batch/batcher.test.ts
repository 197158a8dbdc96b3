import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Batcher, cutSize } from '../../src/batch/batcher';
import { Embedder } from '../../src/batch/embedder';
import { ClipqlError } from '../../src/errors';

function recorder(delayMs = 5) {
  const calls: number[][] = [];
  const run = async (items: number[]) => {
    calls.push([...items]);
    await sleep(delayMs);
    return items.map((x) => x * 10);
  };
  return { calls, run };
}

test('concurrent submissions are merged up to maxBatch, results in order', async () => {
  const { calls, run } = recorder();
  const b = new Batcher<number, number>({ maxBatch: 4, maxDelayMs: 20, run });
  const out = await Promise.all(Array.from({ length: 10 }, (_, i) => b.submit(i)));
  assert.deepEqual(out, Array.from({ length: 10 }, (_, i) => i * 10));
  assert.deepEqual(calls.flat(), Array.from({ length: 10 }, (_, i) => i), 'order kept');
  assert.deepEqual(calls.map((c) => c.length), [4, 4, 2], `10 items in batches of 4: ${JSON.stringify(calls)}`);
});

test('a full batch leaves at once; a partial one waits at most maxDelayMs', async () => {
  const { calls, run } = recorder(0);
  const b = new Batcher<number, number>({ maxBatch: 2, maxDelayMs: 1000, run });
  const t0 = Date.now();
  await Promise.all([b.submit(1), b.submit(2)]);
  assert.ok(Date.now() - t0 < 500, 'full batch did not wait for the delay');
  const b2 = new Batcher<number, number>({ maxBatch: 8, maxDelayMs: 30, run });
  const t1 = Date.now();
  await b2.submit(3);
  const waited = Date.now() - t1;
  assert.ok(waited >= 25 && waited < 500, `partial batch waited ${waited} ms`);
  assert.deepEqual(calls, [[1, 2], [3]]);
});

test('items arriving while a batch runs leave together in the next one', async () => {
  const { calls, run } = recorder(40);
  const b = new Batcher<number, number>({ maxBatch: 16, maxDelayMs: 0, run });
  const first = b.submit(0);
  await sleep(5);
  const rest = Array.from({ length: 7 }, (_, i) => b.submit(i + 1));
  await Promise.all([first, ...rest]);
  assert.deepEqual(calls, [[0], [1, 2, 3, 4, 5, 6, 7]]);
});

test('an Error in a slot fails only that item; a rejected run fails only its batch', async () => {
  const b = new Batcher<number, number>({
    maxBatch: 3,
    maxDelayMs: 10_000, // both batches are full: they never wait
    run: async (items) => {
      if (items.includes(99)) throw new Error('batch broke');
      return items.map((x) => (x === 2 ? new Error(`bad ${x}`) : x));
    },
  });
  const r = await Promise.allSettled([b.submit(1), b.submit(2), b.submit(3), b.submit(99), b.submit(5), b.submit(6)]);
  assert.deepEqual(r.map((x) => x.status), ['fulfilled', 'rejected', 'fulfilled', 'rejected', 'rejected', 'rejected']);
  assert.match(String((r[1] as PromiseRejectedResult).reason), /bad 2/);
  assert.match(String((r[3] as PromiseRejectedResult).reason), /batch broke/);
  assert.deepEqual(await Promise.all([b.submit(7), b.submit(8), b.submit(9)]), [7, 8, 9], 'the batcher still works afterwards');
});

test('a wrong-length result is an error for the batch, not a hang', async () => {
  const b = new Batcher<number, number>({ maxBatch: 2, maxDelayMs: 10_000, run: async () => [1] }); // full: leaves at once
  const r = await Promise.allSettled([b.submit(1), b.submit(2)]);
  assert.ok(r.every((x) => x.status === 'rejected'));
  assert.match(String((r[0] as PromiseRejectedResult).reason), /returned 1 results for 2 items/);
});

test('beyond maxQueue, submit rejects at once with OVERLOADED', async () => {
  const { run } = recorder(50);
  const b = new Batcher<number, number>({ maxBatch: 1, maxDelayMs: 0, maxQueue: 3, run });
  const accepted = [b.submit(0)]; // dispatched at once
  for (let i = 1; i <= 3; i++) accepted.push(b.submit(i));
  const t0 = Date.now();
  await assert.rejects(b.submit(4), (e: unknown) => e instanceof ClipqlError && e.code === 'OVERLOADED');
  assert.ok(Date.now() - t0 < 20, 'rejected without waiting');
  assert.deepEqual(await Promise.all(accepted), [0, 10, 20, 30]);
});

test('a deadline that passes while queued removes the item: its work is never done', async () => {
  const { calls, run } = recorder(60);
  const b = new Batcher<number, number>({ maxBatch: 1, maxDelayMs: 0, run });
  const first = b.submit(1);
  const late = b.submit(2, { deadline: Date.now() + 10 });
  await assert.rejects(late, (e: unknown) => e instanceof ClipqlError && e.code === 'TIMEOUT');
  assert.equal(b.queueLength, 0);
  await first;
  await sleep(80);
  assert.deepEqual(calls, [[1]], 'the timed-out item never reached the backend');
});

test('an aborted signal removes a queued item', async () => {
  const { calls, run } = recorder(40);
  const b = new Batcher<number, number>({ maxBatch: 1, maxDelayMs: 0, run });
  const first = b.submit(1);
  const ac = new AbortController();
  const gone = b.submit(2, { signal: ac.signal });
  ac.abort(new Error('client went away'));
  await assert.rejects(gone, /client went away/);
  await first;
  await sleep(60);
  assert.deepEqual(calls, [[1]]);
  await assert.rejects(b.submit(3, { signal: ac.signal }), /client went away/, 'already-aborted signals are refused');
});

test('maxInFlight batches run concurrently', async () => {
  let running = 0;
  let peak = 0;
  const b = new Batcher<number, number>({
    maxBatch: 1,
    maxDelayMs: 0,
    maxInFlight: 3,
    run: async (items) => {
      peak = Math.max(peak, ++running);
      await sleep(20);
      running--;
      return items;
    },
  });
  await Promise.all(Array.from({ length: 6 }, (_, i) => b.submit(i)));
  assert.equal(peak, 3);
});

test('abuse: bad options are refused with precise TypeErrors; close() refuses new work', async () => {
  assert.throws(() => new Batcher({ maxBatch: 0, run: async () => [] }), /maxBatch must be a number >= 1/);
  assert.throws(() => new Batcher({ maxBatch: 1, maxDelayMs: -1, run: async () => [] }), /maxDelayMs/);
  assert.throws(() => new Batcher({ maxBatch: 1, run: undefined as never }), /run must be a function/);
  const b = new Batcher<number, number>({ maxBatch: 1, run: async (x) => x });
  b.close();
  await assert.rejects(b.submit(1), (e: unknown) => e instanceof ClipqlError && e.code === 'BACKEND_UNAVAILABLE');
});

test('preferred sizes: a batch is cut at the size below when padding up would waste more than a quarter', () => {
  // Hand-checked against the policy in batcher.ts (sizes 8, 16, 32, 64).
  const sizes = [8, 16, 32, 64];
  const cases: Array<[number, number]> = [
    [32, 32], // a preferred size leaves whole
    [40, 32], // 40 -> 64 wastes 24 > 10: cut to 32 (8 remain)
    [60, 60], // 60 -> 64 wastes 4 <= 15: one batch, padded
    [13, 13], // 13 -> 16 wastes 3 <= 3.25
    [9, 8], // 9 -> 16 wastes 7 > 2.25: cut to 8
    [5, 5], // below the smallest size: nothing to cut to
    [100, 64], // above the largest: cut to it
  ];
  for (const [n, want] of cases) assert.equal(cutSize(n, sizes), want, `cutSize(${n})`);
  assert.equal(cutSize(40), 40, 'no preferred sizes: any size');
});

test('preferred sizes: 40 queued items with sizes 16, 32 leave as 32 + 8', async () => {
  const { calls, run } = recorder(5);
  const b = new Batcher<number, number>({ maxBatch: 64, maxDelayMs: 30, maxInFlight: 2, preferredSizes: [16, 32], run });
  await Promise.all(Array.from({ length: 40 }, (_, i) => b.submit(i)));
  assert.deepEqual(calls.map((c) => c.length), [32, 8]);
});

test("the Embedder keeps the backend's capacity in flight (devices x perDevice batches)", async () => {
  let running = 0;
  let peak = 0;
  const fake = {
    name: 'fake',
    init: async () => undefined,
    describe: () => ({ name: 'fake', device: 'cpu', model: 'm', dtype: 'float32', details: {}, maxBatch: { image: 1, text: 1 }, capacity: { devices: 2, perDevice: 2, hostThreads: 1, imageBatchSizes: [] } }),
    encodeImages: async (batch: { pixels: readonly Uint8Array[] }) => {
      peak = Math.max(peak, ++running);
      await sleep(20);
      running--;
      return { data: new Float32Array(batch.pixels.length * 2), count: batch.pixels.length, dim: 2 };
    },
    encodeTexts: async () => ({ data: new Float32Array(0), count: 0, dim: 2 }),
    health: async () => undefined,
    dispose: async () => undefined,
  };
  const e = new Embedder(fake, { imageSize: 1, cacheSize: 0, maxDelayMs: 0 });
  await Promise.all(Array.from({ length: 12 }, (_, i) => e.embedImage(`k${i}`, async () => new Uint8Array(3))));
  assert.equal(peak, 4, 'four single-image batches ran at once');
});
