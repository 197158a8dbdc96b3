/**
 * Soak: the request mix (mix.ts) at concurrency 32 against the server as users run it (a child
 * process). Every request gets exactly one well-formed answer, every valid request succeeds, every
 * invalid one gets its code, and the server's resident memory stays flat once warm.
 * Short form: a warm-up (1,500 to 10,000 requests, below) + 1,200 requests. Long form (LOAD_LONG=1):
 * the same warm-up + 5,000.
 *
 * Memory, and why it is measured this way (BENCHMARKS.md, "Soak memory"): RSS rises over the
 * first requests of this mix and then stays within a band: on Node 20 from ~600 requests on; on
 * Node 24 it rises faster to ~1,500 requests and then slowly to ~6,000 (V8's heap settles at
 * ~175 MiB instead of ~80, and the native part, RSS less heap and external buffers, grows by
 * ~70 MiB more), then stays flat for the next 24,000 requests of a 30,000-request run. One RSS
 * reading moves by ±30 MiB with GC timing (heap garbage and image buffers not yet freed), so
 * comparing two single readings 300 requests after a 600-request warm-up failed at random on
 * Node 24; after a fixed 3,000-request warm-up one run of three on Node 24 still rose by 47 MiB
 * (a bound of 48) while another rose by 3. So the warm-up runs until RSS
 * has stopped rising (the medians of two 500-request chunks in a row within 6 MiB of the chunk
 * before), and the check fits a least-squares line through a reading every 25 requests of the
 * measured window and bounds the growth that line projects over it: GC noise averages out, a
 * leak (RSS growing with the request count) does not. A leak of more than ~15 KiB a request
 * fails at the warm-up already (RSS still rising after 10,000 requests); one too small for that
 * may end it by chance and then meets the window's bound (41 KiB a request).
 * SOAK_LEAK_KB=N preloads leak.ts into the server, which keeps N KiB per request: the check must
 * then fail (BENCHMARKS.md lists the runs).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import path from 'node:path';
import { startChildServer, type ChildServer } from '../helpers/server';
import { graphql, latency, LONG, loadRun, pick, report, rssMiB, tally } from './harness';
import { buildMix } from './mix';

let server: ChildServer;
before(async () => {
  const leak = Number(process.env.SOAK_LEAK_KB ?? '0');
  server = await startChildServer(leak > 0 ? { NODE_OPTIONS: `--require ${path.join(__dirname, 'leak.js')}`, SOAK_LEAK_KB: String(leak) } : {});
});

/** Least-squares slope of y over x. */
function slope(xs: readonly number[], ys: readonly number[]): number {
  const n = xs.length;
  const mx = xs.reduce((s, x) => s + x, 0) / n;
  const my = ys.reduce((s, y) => s + y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i] - mx) * (ys[i] - my);
    sxx += (xs[i] - mx) ** 2;
  }
  return sxy / sxx;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const WARM_CHUNK = 500;
const WARM_MAX = 10_000;
after(async () => {
  await server?.stop();
});

test(`soak: ${pick(1200, 5000)} mixed requests at concurrency 32, one well-formed answer each, RSS flat`, { timeout: pick(600_000, 1_800_000) }, async (t) => {
  const pid = server.child.pid!;
  const mix = await buildMix(7);
  // Warm-up: chunks of 500 requests until the median RSS of two chunks in a row rose by less than
  // 6 MiB each (12 KiB a request), at most 10,000 requests.
  const medians: number[] = [];
  let warmed = 0;
  let flat = 0;
  for (; flat < 2 && warmed < WARM_MAX; warmed += WARM_CHUNK) {
    const rss: number[] = [];
    const warm = await loadRun(server.url, { count: WARM_CHUNK, concurrency: 32, maxMs: 120_000, make: (i) => mix.shot(warmed + i), onProgress: (n) => void (n % 25 === 0 && rss.push(rssMiB(pid))) });
    assert.equal(warm.skipped, 0, 'the warm-up finished in time');
    medians.push(median(rss));
    flat = medians.length > 1 && medians.at(-1)! - medians.at(-2)! < 6 ? flat + 1 : 0;
  }
  // A leak of more than ~15 KiB a request never gets two flat chunks in a row.
  assert.ok(flat >= 2, `RSS was still rising after ${warmed} requests: medians of each 500, MiB: ${medians.join(', ')}`);
  const rssStart = rssMiB(pid);
  const samples: number[] = [rssStart];
  const sampledAt: number[] = [0];
  const count = pick(1200, 5000);
  const run = await loadRun(server.url, {
    count,
    concurrency: 32,
    maxMs: pick(120_000, 1_500_000),
    make: (i) => mix.shot(100_000 + i),
    onProgress: (n) => {
      if (n % 25 === 0) {
        samples.push(rssMiB(pid));
        sampledAt.push(n);
      }
    },
  });
  const rssEnd = rssMiB(pid);
  const { answers } = run;
  const projected = Math.round(slope(sampledAt, samples) * count * 10) / 10;
  const failures = answers.filter((a) => a.outcome !== 'ok');
  const lat = latency(answers.map((a) => a.ms));
  const figures = {
    requests: answers.length,
    wallSeconds: Math.round(run.wallMs / 100) / 10,
    perSecond: Math.round((answers.length / run.wallMs) * 10_000) / 10,
    outcomes: tally(answers, (a) => a.outcome),
    failuresByCode: tally(failures, (a) => a.outcome),
    kinds: tally(answers, (a) => a.kind),
    latencyMs: lat,
    warmUp: { requests: warmed, chunkMedianRssMiB: medians },
    rssMiB: { start: rssStart, end: rssEnd, max: Math.max(...samples, rssEnd), projectedGrowth: projected, every250: samples.filter((_, i) => i % 10 === 0) },
  };
  report(t, 'soak', figures);

  assert.equal(run.skipped, 0, `${run.skipped} requests were not sent within the time cap`);
  assert.equal(answers.length, count, 'one answer per request');
  const malformed = answers.filter((a) => a.malformed);
  assert.deepEqual(malformed.slice(0, 5).map((a) => `${a.kind}: ${a.malformed}`), [], `${malformed.length} malformed answers`);
  const wrong = answers.filter((a) => a.outcome !== a.expect);
  assert.deepEqual(
    wrong.slice(0, 5).map((a) => `${a.kind}: expected ${a.expect}, got ${a.outcome} (HTTP ${a.status}) ${JSON.stringify(a.body?.errors?.[0]?.message ?? '')}`),
    [],
    `${wrong.length} answers differ from what they should be; valid requests failed: ${answers.filter((a) => a.expect === 'ok' && a.outcome !== 'ok').length}`,
  );
  for (const a of answers) if (a.outcome === 'ok') assert.equal(a.status, 200);
  // Flat memory: once warm, the fitted line rises by less than 48 MiB over the short window
  // (41 KiB a request) or 15% + 64 MiB over the long one.
  const allowed = LONG ? rssStart * 0.15 + 64 : 48;
  assert.ok(projected < allowed, `RSS rose by ${projected} MiB over ${count} requests by its fitted line (allowed +${Math.round(allowed)}); from ${rssStart} to ${rssEnd} MiB; samples ${samples.join(', ')}`);
  // Still serving.
  assert.equal((await fetch(`${server.url}/healthz/ready`)).status, 200);
  const after = await graphql(server.url, { query: '{ models { name } }' });
  assert.equal(after.outcome, 'ok');
});
