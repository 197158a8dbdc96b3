/**
 * `npm run bench:torch`: the torch backend as a CPU peer of the onnx backend (issue 21), for each
 * benchmark bundle (models/bench-vit-b-32, models/bench-vit-l-14-336; `npm run bench:models`),
 * side by side in one run:
 *
 *   in process  torch_cpu.py: the worker's runner (float32, bfloat16, each with and without
 *               torch.compile) and onnxruntime (float32, int8) on the same pixels, same batch and
 *               threads, interleaved rounds, with each path's cosine to torch float32;
 *   end to end  one clipql server per path (CLIP_BACKEND=onnx; CLIP_BACKEND=torch with float32,
 *               bfloat16 [, compile]), all started first, then interleaved rounds of the load
 *               generator (load.ts: autocannon in its own process, one distinct uploaded image per
 *               request, the same concurrency for all).
 *
 * Writes its section of BENCHMARKS.md (between `<!-- section:torch-cpu -->` markers; `npm run
 * bench` keeps it) and prints it.
 *
 *   node dist/scripts/bench/backends/torch-cpu.js [--models vit-b-32,vit-l-14-336] [--quick] [--out BENCHMARKS.md]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { defaultPython } from '../../../src/paths';
import { args, log, median, REPO, runChild, runNode } from '../common';
import { makeVariants } from '../serving/inputs';
import { spliceSection } from '../serving/report';
import { startClipql, type RunningServer } from '../serving/server';

interface InProcessPath {
  readonly name: string;
  readonly ready: number;
  readonly cosine: { min: number; mean: number };
  readonly rates: number[];
  readonly median: number;
  readonly notes: string[];
}
interface InProcess {
  readonly batch: number;
  readonly threads: number;
  readonly seconds: number;
  readonly torch: string;
  readonly paths: InProcessPath[];
}
interface LoadFigure {
  readonly itemsPerSecond: number;
  readonly p50: number;
  readonly p99: number;
  readonly ok: number;
  readonly failed: number;
}
interface EndToEnd {
  readonly name: string;
  readonly env: Record<string, string>;
  readonly readyS: number;
  readonly rounds: LoadFigure[];
}
interface ModelRun {
  readonly name: string;
  readonly inProcess: InProcess;
  readonly e2e: EndToEnd[];
  readonly concurrency: number;
}

/** Per model: batch (in process), seconds per measurement, rounds, end-to-end seconds per round. */
const SIZES: Record<string, { batch: number; seconds: number; rounds: number; e2eSeconds: number }> = {
  'vit-b-32': { batch: 16, seconds: 6, rounds: 3, e2eSeconds: 20 },
  'vit-l-14-336': { batch: 4, seconds: 12, rounds: 2, e2eSeconds: 40 },
};

const TORCH = { CLIP_BACKEND: 'torch', CLIP_TORCH_DEVICES: 'cpu', CLIP_TORCH_THREADS: String(os.availableParallelism()) };
const SERVERS: Array<{ name: string; env: Record<string, string> }> = [
  { name: 'onnx float32', env: { CLIP_BACKEND: 'onnx' } },
  { name: 'torch float32', env: { ...TORCH, CLIP_TORCH_DTYPE: 'float32' } },
  { name: 'torch bfloat16', env: { ...TORCH, CLIP_TORCH_DTYPE: 'bfloat16' } },
];

async function model(name: string, quick: boolean, variants: string): Promise<ModelRun> {
  const dir = path.join(REPO, 'models', `bench-${name}`);
  const size = quick ? { batch: 4, seconds: 1, rounds: 1, e2eSeconds: 4 } : SIZES[name];
  log(`== ${name}: in process, batch ${size.batch}`);
  const inProcess = await runChild<InProcess>(defaultPython(), [path.join(REPO, 'scripts', 'bench', 'backends', 'torch_cpu.py'), '--model', dir, '--batch', String(size.batch), '--seconds', String(size.seconds), '--rounds', String(size.rounds)], { onLine: log });

  // End to end: every server up first (the torch ones take seconds to load), then rounds.
  const concurrency = 8;
  const timeouts = { CLIP_REQUEST_TIMEOUT_MS: '600000', CLIP_TORCH_CALL_TIMEOUT_MS: '600000', CLIP_CACHE_SIZE: '0' };
  const servers: Array<{ spec: (typeof SERVERS)[number]; server: RunningServer; readyS: number; rounds: LoadFigure[] }> = [];
  try {
    for (const spec of SERVERS) {
      const t = Date.now();
      const server = await startClipql(dir, { ...timeouts, ...spec.env });
      servers.push({ spec, server, readyS: (Date.now() - t) / 1000, rounds: [] });
      log(`${spec.name}: ready in ${servers[servers.length - 1].readyS.toFixed(1)} s`);
    }
    let start = 0;
    const load = (s: RunningServer, seconds: number) =>
      runNode<LoadFigure>('serving/load', ['--url', s.url, '--target', 'clipql', '--kind', 'image', '--concurrency', String(concurrency), '--seconds', String(seconds), '--variants', variants, '--start', String((start += 1000))], { onLine: log });
    for (const s of servers) await load(s.server, Math.max(2, size.e2eSeconds / 4)); // warm-up: first batches, thread pools
    for (let r = 0; r < size.rounds; r++) {
      for (const s of servers) {
        s.rounds.push(await load(s.server, size.e2eSeconds));
        log(`round ${r + 1}: ${s.spec.name} ${s.rounds[r].itemsPerSecond.toFixed(2)} images/s end to end`);
      }
    }
  } finally {
    await Promise.all(servers.map((s) => s.server.stop()));
  }
  return { name, inProcess, concurrency, e2e: servers.map((s) => ({ name: s.spec.name, env: s.spec.env, readyS: s.readyS, rounds: s.rounds })) };
}

const f2 = (x: number) => x.toFixed(2);
const list = (xs: number[]) => xs.map(f2).join(', ');

function render(runs: ModelRun[], date: string, minutes: number, quick: boolean): string {
  const out = [
    '## The torch backend as a CPU peer (`npm run bench:torch`)',
    '',
    `Written by \`npm run bench:torch\` (scripts/bench/backends/torch-cpu.ts) on ${date}${quick ? ' with --quick (short runs: not for comparison)' : ''}, in ${minutes.toFixed(1)} minutes; torch ${runs[0]?.inProcess.torch} (the project's .venv), ${os.availableParallelism()} threads for every path. ` +
      '**In process**: the torch worker\'s own model code (runner.Runner: uint8 lookup-normalise + clipql\'s eager CLIP with SDPA, from the bundle\'s torch/model.pt) and onnxruntime (its Python binding, with the onnx backend\'s session options) on the same pixels at the same batch, interleaved rounds; images/s is the median, the rounds are listed; the ratio is to onnxruntime float32 in the same run; cosine is each embedding\'s to torch float32\'s (min over the batch). "Ready" is load plus warm-up (with torch.compile, the compile of that batch size). ' +
      '**End to end**: one clipql server per path, all started before the first round, then interleaved rounds of autocannon (its own process) uploading one distinct image per request at the same concurrency; the ratio is to the onnx backend\'s server in the same run.',
    '',
  ];
  for (const r of runs) {
    const ip = r.inProcess;
    const base = ip.paths.find((p) => p.name === 'onnxruntime float32')?.median ?? NaN;
    out.push(`### ${r.name}: in process, batch ${ip.batch}`, '', '| Path | images/s | × onnxruntime float32 | cosine to torch float32 (min) | ready | rounds |', '| --- | --- | --- | --- | --- | --- |');
    for (const p of ip.paths) out.push(`| ${p.name} | ${f2(p.median)} | ${f2(p.median / base)} × | ${p.cosine.min.toFixed(6)} | ${p.ready.toFixed(1)} s | ${list(p.rates)} |`);
    const e2eBase = median(r.e2e[0].rounds.map((x) => x.itemsPerSecond));
    out.push('', `### ${r.name}: end to end through GraphQL, concurrency ${r.concurrency}`, '', '| Server | images/s | × onnx backend | p50 / p99 | failed | ready | rounds |', '| --- | --- | --- | --- | --- | --- | --- |');
    for (const e of r.e2e) {
      const m = median(e.rounds.map((x) => x.itemsPerSecond));
      const last = e.rounds[e.rounds.length - 1];
      out.push(`| ${e.name} (${Object.entries(e.env).map(([k, v]) => `${k}=${v}`).join(' ')}) | ${f2(m)} | ${f2(m / e2eBase)} × | ${Math.round(last.p50)} / ${Math.round(last.p99)} ms | ${e.rounds.reduce((s, x) => s + x.failed, 0)} | ${e.readyS.toFixed(1)} s | ${list(e.rounds.map((x) => x.itemsPerSecond))} |`);
    }
    out.push('');
  }
  return out.join('\n');
}

async function main(): Promise<void> {
  const a = args();
  const started = Date.now();
  const wanted = (a.models ?? Object.keys(SIZES).join(',')).split(',');
  const variants = await makeVariants(path.join(os.tmpdir(), 'clipql-bench', 'variants'), 32);
  const runs: ModelRun[] = [];
  for (const name of wanted) {
    if (!fs.existsSync(path.join(REPO, 'models', `bench-${name}`, '.complete'))) {
      log(`models/bench-${name} is missing: run \`npm run bench:models\` first; skipped`);
      continue;
    }
    runs.push(await model(name, Boolean(a.quick), variants));
  }
  if (!runs.length) throw new Error('no benchmark model: run `npm run bench:models` first');
  const md = render(runs, new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC', (Date.now() - started) / 60_000, Boolean(a.quick));
  const out = path.resolve(REPO, a.out ?? 'BENCHMARKS.md');
  fs.writeFileSync(out, spliceSection(fs.existsSync(out) ? fs.readFileSync(out, 'utf8') : '# Benchmarks\n', 'torch-cpu', md));
  fs.writeFileSync(path.join(os.tmpdir(), 'clipql-bench', 'torch-cpu.json'), JSON.stringify(runs, null, 1));
  process.stdout.write(md + '\n');
  log(`wrote ${path.relative(REPO, out)} in ${((Date.now() - started) / 60_000).toFixed(1)} min`);
}

main().catch((e: Error) => {
  process.stderr.write(`error: ${e.stack ?? e.message}\n`);
  process.exit(1);
});
