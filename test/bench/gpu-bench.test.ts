/**
 * The GPU benchmark and the GPU check in their CPU forms, so that CI runs the scripts themselves:
 * `scripts/gpu-bench.sh --cpu --small` (the tiny model on the torch CPU backend, every part) and
 * `scripts/gpu-check.sh --devices cpu` (eager and TorchScript against the CPU reference). Both
 * need Python with torch (CLIP_TORCH_PYTHON or /usr/bin/python3); part (c) of the benchmark
 * also needs the built server (`npm run build`: dist/src/server/main.js, dist/scripts/gpu-bench/e2e.js).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

const REPO = path.resolve(__dirname, '..', '..', '..');

function run(script: string, args: string[], timeoutMs: number): { status: number | null; output: string } {
  const p = spawnSync(path.join(REPO, 'scripts', script), args, { cwd: REPO, encoding: 'utf8', timeout: timeoutMs, env: { ...process.env, CLIP_TORCH_DEVICES: '' } });
  return { status: p.status, output: `${p.stdout}\n${p.stderr}` };
}

interface Part {
  imagesPerSecond?: number;
  skipped?: string;
}

test('gpu-bench --cpu --small: every part (a)-(d) with a positive rate, and the ratios computed from them', { timeout: 180_000 }, () => {
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'clipql-gpu-bench-')), 'result.json');
  // The node running this test is the one the benchmark's end-to-end part uses.
  const r = run('gpu-bench.sh', ['--cpu', '--small', '--node', process.execPath, '--out', out], 170_000);
  assert.equal(r.status, 0, r.output.slice(-3000));
  const res = JSON.parse(fs.readFileSync(out, 'utf8')) as {
    matmul: { flopsPerSecond: Record<string, number> };
    models: Record<string, Record<string, Part> & { ratios: Record<string, number>; flopsPerImage: number; a: Part & { flopUtilisation: number } }>;
    targets: { target: string; met: boolean }[];
  };
  assert.ok(res.matmul.flopsPerSecond.float32 > 0, 'matmul rate');
  const tiny = res.models.tiny;
  assert.ok(tiny, `models: ${Object.keys(res.models).join(', ')}`);
  assert.ok(tiny.flopsPerImage > 0);
  for (const part of ['a', 'b', 'c', 'd']) {
    const p = tiny[part];
    assert.ok(p && !p.skipped, `part (${part}) ran: ${JSON.stringify(p)}`);
    assert.ok(p.imagesPerSecond! > 0, `part (${part}) rate ${p.imagesPerSecond}`);
  }
  const rate = (x: string) => tiny[x].imagesPerSecond!;
  for (const [x, base] of [['b', 'a'], ['c', 'a'], ['d', 'a'], ['a', 'd'], ['b', 'd'], ['c', 'd']]) {
    const got = tiny.ratios[`${x}/${base}`];
    assert.ok(Math.abs(got - rate(x) / rate(base)) < 1e-9, `${x}/${base}: ${got} vs ${rate(x) / rate(base)}`);
  }
  assert.ok(tiny.a.flopUtilisation > 0 && Number.isFinite(tiny.a.flopUtilisation));
  assert.ok(tiny.ratios['c/ceiling'] > 0, 'the preprocessing ceiling ratio');
  assert.match(r.output, /\(a\) in-process.*\n.*\(b\) worker.*\n.*\(c\) end to end.*\n.*\(d\) peer/, 'the table');
});

test('gpu-check --devices cpu exits 0 (eager and TorchScript against the CPU reference)', { timeout: 180_000 }, () => {
  const r = run('gpu-check.sh', ['--devices', 'cpu', '--seconds', '0.5'], 170_000);
  assert.equal(r.status, 0, r.output.slice(-3000));
  assert.match(r.output, /cpu +float32 +eager .* ok/);
  assert.match(r.output, /cpu +float32 +torchscript .* ok/);
  assert.match(r.output, /gpu-check: all within tolerance/);
});
