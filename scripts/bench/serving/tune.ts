/**
 * Side-by-side runs of server settings (how the defaults of src/backends/onnx and the preprocessing
 * pool were chosen): for each round, the raw limit, then every configuration in turn (a fresh
 * server, a warm-up, image load at the given concurrencies with the liveness probe). Interleaved
 * rounds; medians printed as a markdown table.
 *
 *   node dist/scripts/bench/serving/tune.js --model models/bench-vit-b-32 --rounds 2 --seconds 15
 *        --concurrency 8,32 --configs 'default:;spin:CLIP_ONNX_SPIN=1;nice0:CLIP_ONNX_NICE=0'
 */
import os from 'node:os';
import path from 'node:path';
import { args, log, median, REPO, runNode, startNode } from '../common';
import { makeVariants } from './inputs';
import type { LoadFigure, RawResult } from './report';
import { startClipql } from './server';

async function main(): Promise<void> {
  const a = args();
  const dir = path.resolve(REPO, a.model ?? 'models/bench-vit-b-32');
  const rounds = Number(a.rounds ?? 2);
  const seconds = a.seconds ?? '15';
  const kind = a.kind ?? 'image';
  const cs = (a.concurrency ?? '8,32').split(',').map(Number);
  const configs = (a.configs ?? 'default:').split(';').map((c) => {
    const [name, envs] = c.split(':');
    const env: Record<string, string> = { CLIP_CACHE_SIZE: '0' };
    for (const kv of (envs ?? '').split(',').filter(Boolean)) env[kv.split('=')[0]] = kv.split('=')[1];
    return { name, env };
  });
  const variants = await makeVariants(path.join(os.tmpdir(), 'clipql-bench', 'variants'), 32);
  const limits: number[] = [];
  const figs = new Map<string, LoadFigure[]>();
  for (let r = 0; r < rounds; r++) {
    if (a['no-raw'] !== '1') {
      const raw = await runNode<RawResult>('serving/raw', ['--model', dir, '--tower', kind, '--batches', a.batches ?? '1,8', '--seconds', '4'], { onLine: log });
      limits.push(Math.max(...raw.results.map((x) => x.itemsPerSecond)));
    }
    for (const cfg of configs) {
      const server = await startClipql(dir, cfg.env);
      try {
        await runNode('serving/load', ['--url', server.url, '--target', 'clipql', '--kind', kind, '--concurrency', '8', '--amount', '16', '--variants', variants]);
        for (const c of cs) {
          const probe = startNode<{ p99: number }>('serving/liveness', ['--url', server.url]);
          const fig = await runNode<LoadFigure>('serving/load', ['--url', server.url, '--target', 'clipql', '--kind', kind, '--concurrency', String(c), '--seconds', seconds, '--variants', variants, '--start', String(r * 1000)], { onLine: (l) => log(`${cfg.name}: ${l}`) });
          probe.stop();
          const live = await probe.result;
          const key = `${cfg.name} c=${c}`;
          figs.set(key, [...(figs.get(key) ?? []), { ...fig, loopP99: live.p99 }]);
        }
      } finally {
        await server.stop();
      }
    }
  }
  const L = median(limits);
  const lines = ['| Configuration | items/s (rounds) | ratio to the limit | p50 / p99 | loop p99 |', '| --- | --- | --- | --- | --- |'];
  for (const [key, fs] of figs) {
    const ips = median(fs.map((x) => x.itemsPerSecond));
    lines.push(`| ${key} | ${ips.toFixed(2)} (${fs.map((x) => x.itemsPerSecond.toFixed(2)).join(', ')}) | ${(ips / L).toFixed(2)} | ${median(fs.map((x) => x.p50)).toFixed(0)} / ${median(fs.map((x) => x.p99)).toFixed(0)} ms | ${median(fs.map((x) => x.loopP99 ?? NaN)).toFixed(1)} ms |`);
  }
  process.stdout.write(`limit (median of ${limits.length} rounds, best batch): ${L.toFixed(2)}/s (${limits.map((x) => x.toFixed(2)).join(', ')})\n${lines.join('\n')}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
