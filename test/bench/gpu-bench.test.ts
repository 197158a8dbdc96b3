/**
 * The GPU benchmark and the GPU check in their CPU forms, so that CI runs the scripts themselves:
 * `scripts/gpu-bench.sh --cpu --small` (the tiny model on the torch CPU backend, every stage), its
 * rehearsal of a bad lease (a stage made to fail and one made to hang, the others' results on
 * disk) and `scripts/gpu-check.sh --devices cpu` (eager and TorchScript against the CPU
 * reference). They need Python with torch (CLIP_TORCH_PYTHON or the project's venv); the end-to-end
 * stages also need the built server (`npm run build`: dist/src/server/main.js,
 * dist/scripts/gpu-bench/e2e.js). The machine may be shared: the budget is wider than a GPU run's.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../helpers/temp';

const REPO = path.resolve(__dirname, '..', '..', '..');
const ENV = { ...process.env, CLIP_TORCH_DEVICES: '' };

interface Stage {
  status: 'pending' | 'running' | 'ok' | 'failed' | 'timeout' | 'skipped' | 'interrupted';
  seconds?: number;
  timeout?: number;
  result?: Record<string, unknown>;
  error?: string;
}
interface Part {
  imagesPerSecond?: number;
}
interface Result {
  plan: string[];
  complete: boolean;
  stages: Record<string, Stage>;
  models: Record<string, Record<string, Part> & { ratios: Record<string, number>; flopsPerImage: number; a: Part & { flopUtilisation: number; batch: number } }>;
}

/** Runs the benchmark, reading its results file every 100 ms: every distinct content seen. */
function bench(args: string[], timeoutMs: number): Promise<{ status: number | null; output: string; snapshots: Result[]; out: string }> {
  const out = path.join(tempDir('clipql-gpu-bench-'), 'result.json');
  // The node running this test is the one the end-to-end stages use.
  const child = spawn(path.join(REPO, 'scripts', 'gpu-bench.sh'), ['--cpu', '--small', '--node', process.execPath, '--out', out, ...args], { cwd: REPO, env: ENV, detached: true });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const snapshots: Result[] = [];
  let last = '';
  const poll = setInterval(() => {
    try {
      const text = fs.readFileSync(out, 'utf8');
      if (text !== last) snapshots.push(JSON.parse((last = text)) as Result);
    } catch {
      // not written yet
    }
  }, 100);
  const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), timeoutMs);
  return new Promise((resolve) => {
    child.on('close', (status) => {
      clearInterval(poll);
      clearTimeout(timer);
      resolve({ status, output, snapshots, out });
    });
  });
}

test('gpu-bench --cpu --small: every stage ok, parts (a)-(d) with positive rates, the graph/compile check, the ratios from the rates', { timeout: 600_000 }, async () => {
  const r = await bench(['--budget', '560'], 590_000);
  assert.equal(r.status, 0, r.output.slice(-3000));
  const res = JSON.parse(fs.readFileSync(r.out, 'utf8')) as Result;
  assert.deepEqual(res.plan, ['env', 'matmul', 'bundle:tiny', 'a:tiny', 'b:tiny', 'graphs:tiny', 'jpegs', 'd:tiny', 'ceiling:tiny', 'c:tiny'], 'torch stages first, then PIL and node');
  assert.ok(res.complete);
  for (const [name, s] of Object.entries(res.stages)) assert.equal(s.status, 'ok', `${name}: ${s.error}`);
  const flops = res.stages.matmul.result as { flopsPerSecond: Record<string, number> };
  assert.ok(flops.flopsPerSecond.float32 > 0, 'matmul rate');
  const tiny = res.models.tiny;
  assert.ok(tiny.flopsPerImage > 0);
  for (const part of ['a', 'b', 'c', 'd']) assert.ok(tiny[part]?.imagesPerSecond! > 0, `part (${part}): ${JSON.stringify(tiny[part])}`);
  const rate = (x: string) => tiny[x].imagesPerSecond!;
  for (const [x, base] of [['b', 'a'], ['c', 'a'], ['d', 'a'], ['a', 'd'], ['b', 'd'], ['c', 'd']]) {
    const got = tiny.ratios[`${x}/${base}`];
    assert.ok(Math.abs(got - rate(x) / rate(base)) < 1e-9, `${x}/${base}: ${got} vs ${rate(x) / rate(base)}`);
  }
  assert.ok(tiny.a.flopUtilisation > 0 && Number.isFinite(tiny.a.flopUtilisation));
  assert.ok(tiny.ratios['c/ceiling'] > 0, 'the preprocessing ceiling ratio');
  const graphs = tiny.graphs as unknown as { pass: boolean; batch: number; variants: Record<string, { imagesPerSecond: number; minCosine: number }> };
  assert.equal(graphs.batch, tiny.a.batch, "the graphs stage runs at (a)'s best batch");
  assert.deepEqual(Object.keys(graphs.variants), ['eager', 'compile'], 'on the CPU: eager and compile (no CUDA graphs)');
  for (const [k, v] of Object.entries(graphs.variants)) assert.ok(v.minCosine >= 0.9999 && v.imagesPerSecond > 0, `${k}: ${JSON.stringify(v)}`);
  assert.equal(graphs.pass, true);
  assert.match(r.output, /\(a\) in-process.*\n.*\(b\) worker.*\n.*\(c\) end to end.*\n.*\(d\) peer/, 'the table');
});

test('gpu-bench rehearsal: a failing and a hanging stage leave the other stages’ results on disk, each written as it ended', { timeout: 400_000 }, async () => {
  const stages = ['env', 'matmul', 'bundle:tiny', 'b:tiny', 'jpegs', 'ceiling:tiny'];
  const r = await bench(['--stages', stages.join(','), '--inject', 'matmul=fail', '--inject', 'b:tiny=hang', '--timeout', 'b=8', '--budget', '380'], 390_000);
  assert.equal(r.status, 1, `a failed stage makes the exit status 1: ${r.output.slice(-2000)}`);
  const res = JSON.parse(fs.readFileSync(r.out, 'utf8')) as Result;
  assert.deepEqual(Object.keys(res.stages), stages);
  const status = Object.fromEntries(Object.entries(res.stages).map(([k, s]) => [k, s.status]));
  assert.deepEqual(status, { env: 'ok', matmul: 'failed', 'bundle:tiny': 'ok', 'b:tiny': 'timeout', jpegs: 'ok', 'ceiling:tiny': 'ok' });
  assert.match(res.stages.matmul.error!, /injected failure/);
  assert.ok(res.stages['b:tiny'].seconds! >= 8 && res.stages['b:tiny'].seconds! < 40, `the hang was cut at its own timeout: ${res.stages['b:tiny'].seconds} s`);
  assert.ok((res.stages['ceiling:tiny'].result as { perThread: number }).perThread > 0, 'a stage after both kept going');
  assert.equal(res.complete, true);
  // The hanging stage's own child process went with it.
  const pid = Number(/hanging as injected .* child pid (\d+)/.exec(r.output)?.[1]);
  assert.ok(pid > 0, 'the hanging stage logged its child');
  assert.throws(() => process.kill(pid, 0), /ESRCH/, `process ${pid} of the hung stage is still alive`);
  // Written as each stage ended: a snapshot where bundle was done and b was running.
  assert.ok(r.snapshots.some((s) => s.stages['bundle:tiny']?.status === 'ok' && s.stages['b:tiny']?.status === 'running'), `snapshots: ${r.snapshots.length}`);
  assert.ok(r.snapshots.some((s) => s.stages.matmul?.status === 'failed' && s.stages.jpegs?.status === 'pending'));
});

test('gpu-check --devices cpu exits 0 (eager and TorchScript against the CPU reference)', { timeout: 300_000 }, () => {
  const p = spawnSync(path.join(REPO, 'scripts', 'gpu-check.sh'), ['--devices', 'cpu', '--seconds', '0.5'], { cwd: REPO, encoding: 'utf8', timeout: 290_000, env: ENV });
  const output = `${p.stdout}\n${p.stderr}`;
  assert.equal(p.status, 0, output.slice(-3000));
  assert.match(output, /cpu +float32 +eager .* ok/);
  assert.match(output, /cpu +float32 +torchscript .* ok/);
  assert.match(output, /gpu-check: all within tolerance/);
});
