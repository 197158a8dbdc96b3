/**
 * The torch worker's failure paths that only a GPU meets, driven on the CPU by
 * test/reference/worker_faults.py with the CUDA and HIP runtimes' own messages injected as
 * exceptions: out of memory (the failed batch's memory must be unreferenced when the cache is
 * emptied), sticky device errors seen by the compute thread and by the writer thread (the worker
 * must stop, so that the backend restarts it), the staging buffer on the error path, and the
 * patch embedding as a matrix product against the float64 convolution.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { before, test } from 'node:test';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../../src/paths';
import { venvPython } from '../helpers/python';

const run = promisify(execFile);
const SCRIPT = path.join(REPO_ROOT, 'test', 'reference', 'worker_faults.py');

interface Served {
  message: string;
  raised: string | null;
  computed: number;
  answers: [number, string][];
}
interface Faults {
  oom: { freed: boolean; queued: number; oom: boolean; sticky: boolean; failureType: string; secondOk: boolean; controlAlive: boolean };
  compute: Served[];
  writer: Served[];
  staging: Record<'ok' | 'failing', { synchronized: string[]; returned: boolean; slots: number; cleared: boolean }>;
  patches: { size: number; patch: number; shape: number[]; refShape: number[]; maxAbs: number; convMaxAbs: number; refMaxAbs: number }[];
  tinyImage: { maxAbs: number; refMaxAbs: number };
}

let r: Faults;
before(async () => {
  const { stdout } = await run(venvPython(), [SCRIPT, REPO_ROOT], { timeout: 120_000, maxBuffer: 1 << 22 });
  r = JSON.parse(stdout) as Faults;
});

test('out of memory: the failed batch frees its memory before the cache is emptied, and the next batch runs', () => {
  // The control shows the check can fail: the exception itself (what was queued before) keeps the frame's tensor.
  assert.equal(r.oom.controlAlive, true, 'control: a kept exception holds the failed call’s tensors');
  assert.equal(r.oom.freed, true, 'the failed call’s tensor is unreferenced while its failure waits for the writer');
  assert.equal(r.oom.failureType, 'Failure');
  assert.deepEqual([r.oom.oom, r.oom.sticky, r.oom.queued, r.oom.secondOk], [true, false, 2, true]);
});

const STICKY = new Set([
  'CUDA error: an illegal memory access was encountered',
  'CUDA error: an illegal instruction was encountered',
  'CUDA error: the launch timed out and was terminated',
  'CUDA error: unknown error',
  'CUDA error: uncorrectable ECC error encountered',
  'CUDA error: unspecified launch failure',
  'HIP error: hipErrorIllegalAddress',
]);

test('compute thread: a sticky device error fails its batch and stops the worker; any other fails its batch only', () => {
  assert.equal(r.compute.length, 10);
  for (const c of r.compute) {
    if (STICKY.has(c.message)) {
      assert.deepEqual({ raised: c.raised, computed: c.computed, answers: c.answers }, { raised: 'DeviceError', computed: 1, answers: [[1, 'failed']] }, c.message);
    } else {
      assert.deepEqual({ raised: c.raised, computed: c.computed, answers: c.answers }, { raised: null, computed: 3, answers: [[1, 'failed'], [2, 'result'], [3, 'result']] }, c.message);
    }
  }
});

test('writer thread: a sticky error at the completion event stops the compute loop (no later batch runs); another fails its batch only', () => {
  const [timedOut, unknown, other] = r.writer;
  for (const c of [timedOut, unknown]) {
    assert.deepEqual({ raised: c.raised, computed: c.computed, answers: c.answers }, { raised: 'DeviceError', computed: 1, answers: [[1, 'failed']] }, c.message);
  }
  assert.deepEqual({ raised: other.raised, computed: other.computed, answers: other.answers }, { raised: null, computed: 3, answers: [[1, 'failed'], [2, 'result'], [3, 'result']] });
});

test('error path: the staging buffer returns only after its upload event; when that wait fails, a fresh slot replaces it', () => {
  assert.deepEqual(r.staging.ok, { synchronized: ['synchronized'], returned: true, slots: 0, cleared: true });
  assert.deepEqual(r.staging.failing, { synchronized: ['synchronized'], returned: false, slots: 1, cleared: true });
});

test('patch embedding as reshape + matrix product: the float64 convolution’s values within 1e-6 of their scale, no worse than float32’s convolution', () => {
  assert.equal(r.patches.length, 3);
  for (const p of r.patches) {
    const what = `S ${p.size}, patch ${p.patch}`;
    assert.deepEqual(p.shape, p.refShape, what);
    assert.ok(p.maxAbs <= 1e-6 * p.refMaxAbs, `${what}: max |Δ| ${p.maxAbs} > 1e-6 × ${p.refMaxAbs}`);
    assert.ok(p.maxAbs <= p.convMaxAbs, `${what}: matmul ${p.maxAbs} vs float32 conv ${p.convMaxAbs}, both against float64`);
  }
  // Through the whole (tiny) image tower: float32 reordering only.
  assert.ok(r.tinyImage.maxAbs <= 1e-5 * Math.max(1, r.tinyImage.refMaxAbs), `tiny tower: ${r.tinyImage.maxAbs}`);
});
