/**
 * A torch worker's start, through the fork server (CLIP_TORCH_FORK_SERVER=1, the default) against
 * a python of its own (=0), interleaved rounds in one process: the wall time of TorchBackend.init()
 * for one CPU worker (launch, model load, warm-up, ready) and the CPU time the whole machine spent
 * meanwhile (/proc/stat: it counts the worker and the fork server, which are not this process's
 * children; run it on an otherwise idle machine). The fork server's own start is in the first
 * forked round only; the others are what every later start and every restart cost.
 *
 *   node dist/scripts/bench/backends/torch-start.js [--model models/tiny-clip-336] [--rounds 5]
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { TorchBackend } from '../../../src/backends/torch/torch-backend';
import { loadBundle } from '../../../src/bundle/bundle';
import { parseConfig } from '../../../src/config/config';
import { defaultBpeVocab } from '../../../src/paths';
import { args, log, median, REPO } from '../common';

/** Busy CPU seconds of the whole machine (user, nice, system, irq, softirq) since boot. */
function machineCpu(): number {
  const [, user, nice, system, , , irq, softirq] = readFileSync('/proc/stat', 'utf8').split('\n')[0].split(/\s+/).map(Number);
  return (user + nice + system + irq + softirq) / 100; // USER_HZ
}

async function main(): Promise<void> {
  const a = args();
  const model = path.resolve(REPO, a.model ?? 'models/tiny-clip-336');
  const rounds = Number(a.rounds ?? 5);
  const bundle = await loadBundle(model, { bpeVocab: defaultBpeVocab() });
  const modes = { forked: '1', direct: '0' } as const;
  const seen: Record<keyof typeof modes, { wall: number; cpu: number }[]> = { forked: [], direct: [] };
  for (let r = 0; r < rounds; r++) {
    for (const mode of Object.keys(modes) as (keyof typeof modes)[]) {
      const config = parseConfig({ ...process.env, CLIP_TORCH_DEVICES: 'cpu', CLIP_TORCH_DTYPE: 'float32', CLIP_TORCH_FORK_SERVER: modes[mode] }).config;
      const backend = new TorchBackend({ bundle, config });
      const [t0, c0] = [performance.now(), machineCpu()];
      await backend.init();
      const [t1, c1] = [performance.now(), machineCpu()];
      await backend.dispose();
      seen[mode].push({ wall: (t1 - t0) / 1000, cpu: c1 - c0 });
      log(`round ${r + 1} ${mode}: ${((t1 - t0) / 1000).toFixed(2)} s, machine CPU ${(c1 - c0).toFixed(2)} s`);
    }
  }
  const later = (xs: { wall: number; cpu: number }[]) => xs.slice(1);
  const f = (xs: number[]) => median(xs).toFixed(2);
  console.log(`model ${path.relative(REPO, model)}, ${rounds} rounds, medians of rounds 2-${rounds}:`);
  for (const mode of Object.keys(modes) as (keyof typeof modes)[]) {
    const xs = later(seen[mode]);
    console.log(`  ${mode.padEnd(6)} start ${f(xs.map((x) => x.wall))} s, machine CPU ${f(xs.map((x) => x.cpu))} s (round 1: ${seen[mode][0].wall.toFixed(2)} s, ${seen[mode][0].cpu.toFixed(2)} s)`);
  }
}

void main();
