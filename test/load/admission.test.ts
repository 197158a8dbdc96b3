/**
 * The admission gate (batch/admission.ts) and the preprocessing pool behind it
 * (preprocess/pool.ts): a bound on waiting work, OVERLOADED beyond it, and waiting work dropped
 * undone when its deadline passes or its request is aborted. The gate's contract is tested here
 * with plain promises; the pool's with real images on a real thread.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { AdmissionGate } from '../../src/control/admission';
import { ClipqlError } from '../../src/errors';
import { clipTransformConfig } from '../../src/preprocess/image';
import { PreprocessPool } from '../../src/preprocess/pool';
import { patternImage } from '../helpers/images';

/** A task that finishes when told to, and records that it started. */
function controlled(log: string[], name: string) {
  let finish!: () => void;
  const done = new Promise<string>((resolve) => (finish = () => resolve(name)));
  return { task: () => (log.push(name), done), finish };
}

const code = (e: unknown) => (e as ClipqlError).code;

test('the gate runs `concurrency` tasks, queues `maxQueue` in order, refuses the next with OVERLOADED', async () => {
  const log: string[] = [];
  const gate = new AdmissionGate({ concurrency: 2, maxQueue: 2, name: 'test' });
  const t = ['a', 'b', 'c', 'd'].map((n) => controlled(log, n));
  const runs = t.map((x) => gate.run(x.task));
  assert.deepEqual(log, ['a', 'b'], 'two running');
  assert.equal(gate.queueLength, 2);
  await assert.rejects(gate.run(async () => 'e'), (e: unknown) => code(e) === 'OVERLOADED' && /test: the queue is full \(2 waiting\)/.test((e as Error).message));
  assert.equal(gate.refused, 1);
  t[1].finish();
  await runs[1];
  await sleep(0);
  assert.deepEqual(log, ['a', 'b', 'c'], 'the first waiting task took the freed place');
  for (const x of t) x.finish();
  assert.deepEqual(await Promise.all(runs), ['a', 'b', 'c', 'd']);
  assert.equal(gate.queueLength + gate.running, 0);
});

test('a waiting task whose deadline passes or whose request is aborted leaves undone', async () => {
  const log: string[] = [];
  const gate = new AdmissionGate({ concurrency: 1, maxQueue: 4 });
  const busy = controlled(log, 'busy');
  const running = gate.run(busy.task);
  const late = gate.run(controlled(log, 'late').task, { deadline: Date.now() + 30 });
  const ac = new AbortController();
  const aborted = gate.run(controlled(log, 'aborted').task, { signal: ac.signal });
  const kept = controlled(log, 'kept');
  const keptRun = gate.run(kept.task, { deadline: Date.now() + 60_000 });
  await assert.rejects(late, (e: unknown) => code(e) === 'TIMEOUT');
  ac.abort(new ClipqlError('TIMEOUT', 'client went away'));
  await assert.rejects(aborted, /client went away/);
  assert.equal(gate.queueLength, 1, 'both left the queue');
  busy.finish();
  kept.finish();
  await Promise.all([running, keptRun]);
  assert.deepEqual(log, ['busy', 'kept'], 'the dropped tasks never ran');
  // Already past: refused before queueing.
  await assert.rejects(gate.run(async () => 1, { deadline: Date.now() - 1 }), (e: unknown) => code(e) === 'TIMEOUT');
  await assert.rejects(gate.run(async () => 1, { signal: AbortSignal.abort() }));
});

test('a task that throws synchronously frees its place', async () => {
  const gate = new AdmissionGate({ concurrency: 1, maxQueue: 0 });
  await assert.rejects(gate.run(() => {
    throw new Error('boom');
  }), /boom/);
  assert.equal(await gate.run(async () => 'next'), 'next');
});

test('gate options are checked', () => {
  assert.throws(() => new AdmissionGate({ concurrency: 0, maxQueue: 1 }), /concurrency must be an integer >= 1, got 0/);
  assert.throws(() => new AdmissionGate({ concurrency: 1, maxQueue: -1 }), /maxQueue must be an integer >= 0, got -1/);
});

test('the preprocessing pool: a burst beyond its bound gets OVERLOADED, deadlines drop waiting images, the rest are preprocessed', async () => {
  const pool = new PreprocessPool(1, { maxQueue: 3 });
  try {
    const cfg = clipTransformConfig(224);
    const images = await Promise.all(Array.from({ length: 12 }, (_, i) => patternImage(i + 1, 'png', 640, 480)));
    // 2 on the thread, 3 waiting, 7 refused
    const results = await Promise.allSettled(images.map((b) => pool.run(b, cfg, 'exact')));
    assert.deepEqual(results.map((r) => (r.status === 'fulfilled' ? 'ok' : code(r.reason))), [...Array(5).fill('ok'), ...Array(7).fill('OVERLOADED')]);
    assert.equal(pool.stats().refused, 7);
    // A deadline that passes while an image waits drops it; the others still come back.
    const settled = await Promise.allSettled(images.map((b) => pool.run(b, cfg, 'exact', undefined, { deadline: Date.now() + 5 })));
    assert.deepEqual(settled.map((r) => (r.status === 'fulfilled' ? 'ok' : code(r.reason))), ['ok', 'ok', 'TIMEOUT', 'TIMEOUT', 'TIMEOUT', ...Array(7).fill('OVERLOADED')]);
    assert.deepEqual(pool.stats(), { queued: 0, running: 0, refused: 14 });
    const ok = await pool.run(images[0], cfg, 'exact');
    assert.equal(ok.pixels.length, 224 * 224 * 3);
  } finally {
    await pool.close();
  }
});
