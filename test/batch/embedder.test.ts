/**
 * The Embedder's shared work (batch/embedder.ts) and the cancellation primitive under it
 * (control/cancel.ts): the same item asked for by several callers at once is computed once; a
 * caller that gives up never fails the others; the work itself is dropped only when the last
 * caller has given up.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Backend } from '../../src/backends/backend';
import { Embedder } from '../../src/batch/embedder';
import { alreadyCancelled, watch } from '../../src/control/cancel';
import { ClipqlError, ErrorCode } from '../../src/errors';

/** A backend whose image batches take `ms` and return each crop's first byte as a 1-D embedding. */
function slowBackend(ms: number) {
  const batches: number[] = [];
  const backend: Backend = {
    name: 'slow',
    init: async () => undefined,
    describe: () => ({ name: 'slow', device: 'cpu', model: 'm', dtype: 'float32', details: {}, maxBatch: { image: 8, text: 8 }, capacity: { devices: 1, perDevice: 1, hostThreads: 1, imageBatchSizes: [] } }),
    encodeImages: async (b) => {
      batches.push(b.pixels.length);
      await sleep(ms);
      return { data: Float32Array.from(b.pixels, (p) => p[0]), count: b.pixels.length, dim: 1 };
    },
    encodeTexts: async () => ({ data: new Float32Array(0), count: 0, dim: 1 }),
    health: async () => undefined,
    dispose: async () => undefined,
  };
  return { backend, batches };
}

const code = (e: unknown) => (e instanceof ClipqlError ? e.code : String(e));

test('two callers of one key share one computation', async () => {
  const { backend, batches } = slowBackend(30);
  const e = new Embedder(backend, { imageSize: 1, maxDelayMs: 0 });
  let preprocessed = 0;
  const pixels = async () => {
    preprocessed++;
    return Uint8Array.of(7, 0, 0);
  };
  const [a, b] = await Promise.all([e.embedImage('k', pixels), e.embedImage('k', pixels)]);
  assert.equal(preprocessed, 1, 'preprocessed once');
  assert.deepEqual(batches, [1], 'encoded once');
  assert.equal(a, b);
  assert.equal(a[0], 7);
  await e.embedImage('k', pixels);
  assert.deepEqual(batches, [1], 'then served from the cache');
});

test('a caller that gives up (abort or deadline) gets its error; the other still gets the result', async () => {
  const { backend, batches } = slowBackend(60);
  const e = new Embedder(backend, { imageSize: 1, maxDelayMs: 0 });
  const gone = new AbortController();
  const pixels = async () => Uint8Array.of(9, 0, 0);
  const leaver = e.embedImage('k', pixels, { signal: gone.signal });
  const late = e.embedImage('k', pixels, { deadline: Date.now() + 20 });
  const stayer = e.embedImage('k', pixels);
  setTimeout(() => gone.abort(new ClipqlError(ErrorCode.TIMEOUT, 'the client went away')), 5);
  const [l, d, s] = await Promise.allSettled([leaver, late, stayer]);
  assert.equal(l.status, 'rejected');
  assert.match(String((l as PromiseRejectedResult).reason.message), /the client went away/);
  assert.equal(d.status, 'rejected');
  assert.equal(code((d as PromiseRejectedResult).reason), ErrorCode.TIMEOUT);
  assert.equal(s.status, 'fulfilled');
  assert.equal((s as PromiseFulfilledResult<Float32Array>).value[0], 9);
  assert.deepEqual(batches, [1]);
});

test('when the last caller gives up, the shared work is cancelled: it leaves the queue undone', async () => {
  const { backend, batches } = slowBackend(80);
  const e = new Embedder(backend, { imageSize: 1, maxDelayMs: 0 });
  // Occupy the one slot in flight so that the next item waits in the batcher's queue.
  const blocker = e.embedImage('busy', async () => Uint8Array.of(1, 0, 0));
  await sleep(5);
  let workSignal: AbortSignal | undefined;
  const pixels = async (work: { signal?: AbortSignal }) => {
    workSignal = work.signal;
    return Uint8Array.of(2, 0, 0);
  };
  const a = new AbortController();
  const b = new AbortController();
  const p1 = e.embedImage('k', pixels, { signal: a.signal });
  const p2 = e.embedImage('k', pixels, { signal: b.signal });
  await sleep(5);
  a.abort(new Error('first gone'));
  await assert.rejects(p1, /first gone/);
  assert.equal(workSignal?.aborted, false, 'one caller is still waiting: the work goes on');
  b.abort(new Error('second gone'));
  await assert.rejects(p2, /second gone/);
  assert.equal(workSignal?.aborted, true, 'the last caller left: the work is cancelled');
  await blocker;
  await sleep(100);
  assert.deepEqual(batches, [1], "the cancelled item never reached the backend; only the blocker's batch ran");
  // The key is free again: a new caller computes it afresh.
  const again = await e.embedImage('k', async () => Uint8Array.of(3, 0, 0));
  assert.equal(again[0], 3);
});

test('watch: fires once at the deadline or on abort, at once when already aborted, never after stop', async () => {
  const fired: string[] = [];
  watch({ deadline: Date.now() + 10 }, 'stage', (e) => fired.push(`deadline ${code(e)} ${e.message}`));
  const c = new AbortController();
  watch({ signal: c.signal, deadline: Date.now() + 1000 }, 'stage', (e) => fired.push(`abort ${e.message}`));
  c.abort(new Error('bye'));
  c.abort(new Error('again'));
  const done = new AbortController();
  done.abort(new Error('before'));
  watch({ signal: done.signal }, 'stage', (e) => fired.push(`already ${e.message}`));
  const stop = watch({ deadline: Date.now() + 5 }, 'stage', () => fired.push('stopped one fired'));
  stop();
  stop();
  await sleep(40);
  assert.deepEqual(fired.sort(), ['abort bye', 'already before', "deadline TIMEOUT stage: the request's deadline passed before its work was done"]);
  assert.equal(alreadyCancelled({ deadline: Date.now() - 1 }, 'x')?.message, "x: the request's deadline passed before its work was done");
  assert.equal(alreadyCancelled({ deadline: Date.now() + 1000 }, 'x'), undefined);
});
