/**
 * Hostile files against the server as users run it (a child process, default limits): every file
 * of the crafted corpus (scripts/hostile/corpus.ts) gets one of the answers documented for it, in
 * bounded time, with the server's memory bounded while it works and back near where it was after;
 * then a fuzz run of seeded mutations of the notebook images and the corpus, where every answer is
 * well formed, no input causes an internal error, and the same server process is still up.
 * Short form: 300 mutations. Long form: 3,000.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { cachedCorpus } from '../../scripts/hostile/cache';
import type { CorpusEntry } from '../../scripts/hostile/corpus';
import { rng } from '../../scripts/hostile/bytes';
import { mutate } from '../../scripts/hostile/mutate';
import { startChildServer, type ChildServer } from '../helpers/server';
import { notebook } from '../helpers/shared';
import { graphql, latency, pick, report, rssMiB, tally, type Answer } from './harness';

const EMBED = 'query($images: [ImageInput!]!) { embedImages(images: $images) { width height format mode embedding } }';
/** Per file: answered within this, however hostile. */
const PER_FILE_MS = 20_000;
/** While one file is processed, the server's RSS may rise this much above where it started. */
const PEAK_MIB = 1024;

let server: ChildServer;
let corpus: CorpusEntry[];

before(async () => {
  [corpus, server] = await Promise.all([cachedCorpus(1), startChildServer()]);
});
after(async () => {
  await server?.stop();
});

/** Sends one image and samples the server's RSS every 20 ms while it is being handled. */
async function send(bytes: Buffer): Promise<Answer & { peakMiB: number }> {
  const pid = server.child.pid!;
  let peak = rssMiB(pid);
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, rssMiB(pid));
    } catch {
      // the server is gone; the answer says so
    }
  }, 20);
  try {
    const a = await graphql(server.url, { query: EMBED, variables: { images: [{ base64: bytes.toString('base64') }] } }, PER_FILE_MS + 10_000);
    return { ...a, peakMiB: peak };
  } finally {
    clearInterval(timer);
  }
}

test('every hostile file gets its documented answer, in bounded time and memory', { timeout: 600_000 }, async (t) => {
  const pid = server.child.pid!;
  // Two passes. The first raises the memory to a high-water mark (the largest images allowed are
  // decoded; the allocator keeps what it got); the second must not raise it further (no leak).
  const start = rssMiB(pid);
  let afterFirst = start;
  const rows: Array<{ name: string; outcome: string; ms: number; peakMiB: number; usual: string }> = [];
  const wrong: string[] = [];
  for (const [pass, e] of [...corpus.map((x) => [1, x] as const), ...corpus.map((x) => [2, x] as const)]) {
    if (pass === 2 && e === corpus[0]) afterFirst = rssMiB(pid);
    const before = rssMiB(pid);
    const a = await send(e.bytes);
    rows.push({ name: e.name, outcome: a.outcome, ms: Math.round(a.ms), peakMiB: a.peakMiB, usual: e.expect[0] });
    if (a.malformed) wrong.push(`${e.name}: malformed answer: ${a.malformed}`);
    else if (!(e.expect as readonly string[]).includes(a.outcome)) wrong.push(`${e.name}: expected ${e.expect.join(' or ')}, got ${a.outcome}: ${a.body?.errors?.[0]?.message ?? ''} (${e.note})`);
    if (a.ms > PER_FILE_MS) wrong.push(`${e.name}: answered after ${Math.round(a.ms)} ms`);
    if (a.peakMiB - before > PEAK_MIB) wrong.push(`${e.name}: RSS rose from ${before} to ${a.peakMiB} MiB`);
    if (a.outcome === 'ok' && !(a.body?.data?.embedImages?.[0]?.embedding?.length > 0)) wrong.push(`${e.name}: ok without an embedding`);
  }
  const end = rssMiB(pid);
  rows.splice(corpus.length); // figures of the first pass (the second gave the same answers, checked above)
  const slowest = [...rows].sort((a, b) => b.ms - a.ms).slice(0, 5);
  const hungriest = [...rows].sort((a, b) => b.peakMiB - a.peakMiB).slice(0, 3);
  report(t, 'hostile-corpus', {
    files: rows.length,
    outcomes: tally(rows, (r) => r.outcome),
    byGroup: tally(rows, (r) => `${r.name.split('-')[0]}: ${r.outcome}`),
    latencyMs: latency(rows.map((r) => r.ms)),
    slowest: slowest.map((r) => `${r.name} ${r.ms} ms`),
    rssMiB: { start, afterFirstPass: afterFirst, afterSecondPass: end, peak: Math.max(...rows.map((r) => r.peakMiB)), hungriest: hungriest.map((r) => `${r.name} ${r.peakMiB}`) },
    // answers that are allowed but not the first listed for the file (the one usually seen)
    unusual: rows.filter((r) => r.outcome !== r.usual).map((r) => `${r.name}: ${r.outcome}`),
  });
  assert.deepEqual(wrong, []);
  assert.equal(server.child.exitCode, null, 'the server is still running');
  assert.ok(end - afterFirst < 64, `RSS went from ${afterFirst} to ${end} MiB over the second pass (${start} at the start)`);
});

test(`fuzz: ${pick(300, 3000)} seeded mutations of the notebook images and the corpus, every answer well formed, the server stays up`, { timeout: pick(240_000, 1_800_000) }, async (t) => {
  const pid = server.child.pid!;
  const random = rng(20261128);
  // Half the inputs from the eight notebook images (real photos), half from the corpus's small files.
  const photos = notebook().map((it) => ({ name: it.file, bytes: readFileSync(it.path) }));
  const crafted = corpus.filter((e) => e.bytes.length < 64 * 1024 && !e.name.startsWith('svg-')).map((e) => ({ name: e.name, bytes: e.bytes }));
  const count = pick(300, 3000);
  const start = rssMiB(pid);
  const results: Array<{ name: string; op: string; outcome: string; ms: number; malformed?: string; message?: string }> = [];
  let next = 0;
  const inputs = Array.from({ length: count }, () => {
    const from = random() < 0.5 ? photos : crafted;
    const s = from[Math.floor(random() * from.length)];
    const m = mutate(s.bytes, random);
    return { name: s.name, ...m };
  });
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      for (let i = next++; i < count; i = next++) {
        const input = inputs[i];
        const a = await graphql(server.url, { query: EMBED, variables: { images: [{ base64: input.bytes.toString('base64') }] } }, PER_FILE_MS + 10_000);
        results.push({ name: input.name, op: input.op, outcome: a.outcome, ms: a.ms, malformed: a.malformed, message: a.body?.errors?.[0]?.message });
      }
    }),
  );
  const end = rssMiB(pid);
  report(t, 'fuzz', { inputs: results.length, seeds: photos.length + crafted.length, outcomes: tally(results, (r) => r.outcome), latencyMs: latency(results.map((r) => r.ms)), rssMiB: { start, end } });
  const allowed = new Set(['ok', 'BAD_IMAGE', 'UNSUPPORTED_FORMAT', 'IMAGE_TOO_LARGE']);
  const bad = results.filter((r) => r.malformed || !allowed.has(r.outcome) || r.ms > PER_FILE_MS);
  assert.deepEqual(bad.slice(0, 5).map((r) => `${r.name} (${r.op}): ${r.outcome} in ${Math.round(r.ms)} ms ${r.malformed ?? r.message ?? ''}`), [], `${bad.length} of ${results.length} fuzz inputs were answered badly`);
  assert.equal(results.length, count);
  assert.equal(server.child.exitCode, null, 'the server is still running');
  assert.equal(server.child.pid, pid);
  assert.equal((await fetch(`${server.url}/healthz/ready`)).status, 200);
  assert.ok(end - start < 200, `RSS went from ${start} to ${end} MiB over the fuzz run`);
});
