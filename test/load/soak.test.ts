/**
 * Soak: the request mix (mix.ts) at concurrency 32 against the server as users run it (a child
 * process). Every request gets exactly one well-formed answer, every valid request succeeds, every
 * invalid one gets its code, and the server's resident memory stays flat once warm.
 * Short form: 600 warm-up + 300 requests (after 200, RSS was still climbing: +53 and +79 MiB over
 * the next 300 in two runs of 29 November). Long form (LOAD_LONG=1): 1,000 warm-up + 5,000.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startChildServer, type ChildServer } from '../helpers/server';
import { graphql, latency, LONG, loadRun, pick, report, rssMiB, tally } from './harness';
import { buildMix } from './mix';

let server: ChildServer;
before(async () => {
  server = await startChildServer();
});
after(async () => {
  await server?.stop();
});

test(`soak: ${pick(300, 5000)} mixed requests at concurrency 32, one well-formed answer each, RSS flat`, { timeout: pick(180_000, 1_800_000) }, async (t) => {
  const pid = server.child.pid!;
  const mix = await buildMix(7);
  const warm = await loadRun(server.url, { count: pick(600, 1000), concurrency: 32, maxMs: 300_000, make: (i) => mix.shot(i) });
  assert.equal(warm.skipped, 0, 'the warm-up finished in time');
  const rssStart = rssMiB(pid);
  const samples: number[] = [rssStart];
  const count = pick(300, 5000);
  const run = await loadRun(server.url, {
    count,
    concurrency: 32,
    maxMs: pick(120_000, 1_500_000),
    make: (i) => mix.shot(100_000 + i),
    onProgress: (n) => {
      if (n % 50 === 0) samples.push(rssMiB(pid));
    },
  });
  const rssEnd = rssMiB(pid);
  const { answers } = run;
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
    rssMiB: { start: rssStart, end: rssEnd, max: Math.max(...samples, rssEnd), every1000: samples.filter((_, i) => i % 20 === 0) },
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
  // Flat memory: once warm, RSS grows by less than 64 MiB (short form) or 15% + 64 MiB (long form).
  const allowed = LONG ? rssStart * 0.15 + 64 : 64;
  assert.ok(rssEnd - rssStart < allowed, `RSS grew from ${rssStart} to ${rssEnd} MiB (allowed +${Math.round(allowed)}); samples ${samples.join(', ')}`);
  // Still serving.
  assert.equal((await fetch(`${server.url}/healthz/ready`)).status, 200);
  const after = await graphql(server.url, { query: '{ models { name } }' });
  assert.equal(after.outcome, 'ok');
});
