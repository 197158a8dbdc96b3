/**
 * Benchmark (not a test): the CPU time each of a clipql server's threads spends per image
 * request, through the real HTTP server (`node dist/src/server/main.js`), optionally for several
 * builds side by side. CPU time, unlike wall time, does not depend on how busy the shared
 * machine is (a busy minute still makes each core-millisecond do a little less work).
 *
 *   node dist/scripts/bench/serving/cpu-per-request.js [--images cached|distinct] [--model DIR]
 *        [--requests N] [--rounds 3] [--concurrency C] [--servers MAIN.js,MAIN.js]
 *        [--cpu-prof DIR]   (each server runs with --cpu-prof: one .cpuprofile per thread)
 *
 *   cached     (default) one 640 × 480 JPEG (the notebook's rocket, resized) uploaded again and
 *              again, concurrency 1 by default: after the first request every answer comes from
 *              the embedding cache, so what is measured is the request path itself (HTTP, the
 *              multipart parse, Apollo, the resolvers, the hash and header check, the answer).
 *              Default model: the tiny test model (the model does no work here).
 *   distinct   bench.ts's image load: a distinct notebook variant (inputs.ts) uploaded per
 *              request, the embedding cache off (CLIP_CACHE_SIZE=0), concurrency 8 by default.
 *              Default model: models/bench-vit-b-32 (`npm run bench:models`).
 *
 * Requests are the load generator's (load.js: autocannon in its own process, one image a
 * request, `embedImages(images: [{ file }]) { embedding }`). `--servers` names the main.js of
 * other builds (e.g. a worktree of an older commit, built): all are started first, then each
 * round visits every server in a rotated order. Per round and server, the CPU time is read before
 * and after `--requests` requests: the main thread's from /proc/<pid>/task/<pid>/schedstat
 * (nanoseconds), the inference threads' (niceness > 0) and the others' from
 * /proc/<pid>/task/<tid>/stat (10 ms ticks: server.ts cpuSplit). Prints core-ms per request for
 * each round, the medians per server (with several servers, each one's main thread also as the
 * median of its per-round ratios to the first server's), and one JSON line.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { TINY_MODEL_DIR } from '../../../src/paths';
import { answer, args, DIST, log, median, NOTEBOOK, REPO, runNode } from '../common';
import { makeVariants } from './inputs';
import { cpuSplit, startClipql, type RunningServer } from './server';

/** Nanoseconds the thread has run on a core (the first field of schedstat). */
function threadCpuNs(pid: number, tid = pid): number {
  return Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
}

interface Round {
  /** core-ms per request: the main thread (the event loop), the inference threads, the rest. */
  readonly main: number;
  readonly inference: number;
  readonly other: number;
  readonly perSecond: number;
}

async function main(): Promise<void> {
  const a = args();
  const cached = (a.images ?? 'cached') === 'cached';
  const modelDir = path.resolve(a.model ?? (cached ? TINY_MODEL_DIR : path.join(REPO, 'models', 'bench-vit-b-32')));
  const requests = Number(a.requests ?? (cached ? 1000 : 160));
  const rounds = Number(a.rounds ?? 3);
  const concurrency = Number(a.concurrency ?? (cached ? 1 : 8));
  const mains = a.servers ? a.servers.split(',').map((s) => path.resolve(s)) : [path.join(DIST, 'src', 'server', 'main.js')];
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'clipql-cpu-per-request-'));
  try {
    let variants: string;
    if (cached) {
      const jpeg = await sharp(fs.readFileSync(path.join(NOTEBOOK, 'rocket.jpg'))).resize(640, 480, { fit: 'fill' }).jpeg({ quality: 90 }).toBuffer();
      fs.writeFileSync(path.join(tmp, 'photo.jpg'), jpeg);
      variants = tmp;
      log(`cached: one 640 × 480 JPEG of ${jpeg.length} bytes, concurrency ${concurrency}; model ${modelDir}`);
    } else {
      // Enough variants that no server sees an image twice (each server has its own offset).
      variants = await makeVariants(path.join(os.tmpdir(), 'clipql-bench', 'variants'), 32);
      log(`distinct: notebook variants, cache off, concurrency ${concurrency}; model ${modelDir}`);
    }
    const env: Record<string, string> = cached ? {} : { CLIP_CACHE_SIZE: '0', CLIP_REQUEST_TIMEOUT_MS: '600000' };
    const servers: RunningServer[] = [];
    try {
      for (const [i, m] of mains.entries()) {
        const prof = a['cpu-prof'] ? path.join(path.resolve(a['cpu-prof']), `server-${i}`) : undefined;
        servers.push(await startClipql(modelDir, env, { main: m, nodeArgs: prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : [] }));
        log(`server ${i}: ${m} (pid ${servers[i].pid})`);
      }
      const offsets = servers.map(() => 0);
      const load = async (i: number, amount: number, c: number) => {
        const extra = cached ? ['--repeat-one'] : ['--start', String(offsets[i])];
        const r = await runNode<{ ok: number; failed: number; firstError: string; itemsPerSecond: number }>('serving/load', ['--url', servers[i].url, '--target', 'clipql', '--kind', 'image', '--concurrency', String(c), '--amount', String(amount), '--variants', variants, ...extra]);
        offsets[i] += amount + c;
        if (r.failed > 0 || r.ok !== amount) throw new Error(`server ${i}: ${r.ok} ok, ${r.failed} failed: ${r.firstError}`);
        return r;
      };
      // Warm-up: the first request encodes (cached) or the first batches allocate (distinct); the JIT warms.
      for (let i = 0; i < servers.length; i++) await load(i, cached ? 100 : 2 * concurrency, concurrency);
      const results: Round[][] = servers.map(() => []);
      for (let r = 0; r < rounds; r++) {
        for (let k = 0; k < servers.length; k++) {
          const i = (r + k) % servers.length;
          const pid = servers[i].pid;
          const [ns0, s0] = [threadCpuNs(pid), cpuSplit(pid)];
          const res = await load(i, requests, concurrency);
          const [ns1, s1] = [threadCpuNs(pid), cpuSplit(pid)];
          const round = { main: (ns1 - ns0) / 1e6 / requests, inference: (s1.inference - s0.inference) / requests, other: (s1.other - s0.other) / requests, perSecond: res.itemsPerSecond };
          results[i].push(round);
          log(`round ${r + 1}, server ${i}: main ${round.main.toFixed(3)} + inference ${round.inference.toFixed(2)} + other ${round.other.toFixed(2)} core-ms per request (${round.perSecond.toFixed(1)} requests/s)`);
        }
      }
      // The machine's load moves a core-ms from round to round: each server's main-thread figure is
      // also given as a ratio to the first server's in the same round (the median of those).
      const summary = servers.map((_, i) => {
        const m = (k: keyof Round) => median(results[i].map((x) => x[k]));
        const mainRatio = median(results[i].map((x, r) => x.main / results[0][r].main));
        return { server: path.relative(REPO, mains[i]) || mains[i], main: m('main'), inference: m('inference'), other: m('other'), perSecond: m('perSecond'), mainRatio, rounds: results[i] };
      });
      for (const s of summary) {
        const ratio = servers.length > 1 ? `; main thread ${s.mainRatio.toFixed(2)} × the first server's (median of per-round ratios)` : '';
        process.stdout.write(`${s.server}: main thread ${s.main.toFixed(3)}, inference ${s.inference.toFixed(2)}, other threads ${s.other.toFixed(2)} core-ms per request (median of ${rounds} rounds of ${requests}); ${s.perSecond.toFixed(1)} requests/s${ratio}\n`);
      }
      answer({ images: cached ? 'cached' : 'distinct', concurrency, requests, model: modelDir, servers: summary });
    } finally {
      for (const s of servers) await s.stop();
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
