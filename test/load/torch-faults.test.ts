/**
 * Worker faults and graceful shutdown under load, with the torch backend (PyTorch worker
 * processes; CLIP_TORCH_DEVICES=cpu runs one on the CPU with the tiny bundle's torch/model.pt).
 *
 * 1. The worker is killed (SIGKILL) while requests run: the calls it had in flight fail with
 *    BACKEND_UNAVAILABLE, /healthz/ready answers 503 until a new worker is up, requests sent after
 *    that succeed, and /metrics counts the restart.
 * 2. SIGTERM while requests run: new requests are refused, every request in flight is answered
 *    successfully, the workers are stopped (no process of the server's is left), the server exits
 *    0 within its shutdown deadline.
 * The two share one server (a torch worker takes seconds to start); they run in this order.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { patternImage } from '../helpers/images';
import { startChildServer, type ChildServer } from '../helpers/server';
import { alive, descendants, graphql, latency, pick, report, tally, type Answer } from './harness';

const SHUTDOWN_TIMEOUT_MS = 15_000;
let server: ChildServer;

before(async () => {
  server = await startChildServer({ CLIP_BACKEND: 'torch', CLIP_TORCH_DEVICES: 'cpu', CLIP_SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS) }, 180_000);
});
after(async () => {
  if (server && server.child.exitCode === null) await server.stop();
});

/** The torch worker's pid and state, from Query.backends. */
async function worker(): Promise<{ pid: number; state: string; restarts: number }> {
  const a = await graphql(server.url, { query: '{ backends { name details } }' });
  const torch = a.body?.data?.backends?.find((b: { name: string }) => b.name === 'torch');
  assert.ok(torch, `no torch backend in ${JSON.stringify(a.body)}`);
  const d = JSON.parse(torch.details) as Record<string, unknown>;
  return { pid: Number(d['worker0.pid']), state: String(d['worker0.state']), restarts: Number(d['worker0.restarts']) };
}

const CAPTIONS = 'query($captions: [String!]!) { embedCaptions(captions: $captions) { embedding } }';
const SIM = 'query($images: [ImageInput!]!, $captions: [String!]!) { similarity(images: $images, captions: $captions) { scores } }';

type Timed = Answer & { sentAt: number; at: number };

/** Requests with new captions (so every one reaches the worker) from `concurrency` clients until `stop()`. */
function captionLoad(concurrency: number, tag: string) {
  const answers: Timed[] = [];
  let running = true;
  let n = 0;
  const t0 = performance.now();
  const clients = Array.from({ length: concurrency }, async () => {
    while (running && n < 20_000) {
      const i = n++;
      const sentAt = performance.now() - t0;
      const a = await graphql(server.url, { query: CAPTIONS, variables: { captions: Array.from({ length: 8 }, (_, k) => `${tag} caption ${i} part ${k}`) } }, 90_000);
      answers.push({ ...a, sentAt, at: performance.now() - t0 });
    }
  });
  return {
    now: () => performance.now() - t0,
    answers,
    async stop() {
      running = false;
      await Promise.all(clients);
      return answers;
    },
  };
}

test('killing the torch worker under load: in-flight calls get BACKEND_UNAVAILABLE, ready is 503 until the restart, later requests succeed', { timeout: 180_000 }, async (t) => {
  const before = await worker();
  assert.equal(before.state, 'ready');
  assert.ok(alive(before.pid), `worker pid ${before.pid} is alive`);
  const load = captionLoad(8, 'fault');
  await sleep(pick(1500, 5000));
  const killedAt = load.now();
  process.kill(before.pid, 'SIGKILL');
  // Watch readiness until a new worker is up.
  const readiness: number[] = [];
  let readyAt = NaN;
  let now = before;
  for (const end = Date.now() + 120_000; Date.now() < end; ) {
    readiness.push((await fetch(`${server.url}/healthz/ready`)).status);
    now = await worker();
    if (now.state === 'ready' && now.pid !== before.pid && alive(now.pid)) {
      readyAt = load.now();
      break;
    }
    await sleep(20);
  }
  assert.ok(Number.isFinite(readyAt), `no new worker within 120 s: ${JSON.stringify(now)}`);
  await sleep(pick(1500, 5000));
  const answers = await load.stop();

  const afterRestart = answers.filter((a) => a.sentAt > readyAt);
  report(t, 'worker-fault', {
    requests: answers.length,
    outcomes: tally(answers, (a) => a.outcome),
    restartMs: Math.round(readyAt - killedAt),
    readiness: tally(readiness, String),
    failedSentAtMs: answers.filter((a) => a.outcome !== 'ok').map((a) => Math.round(a.sentAt - killedAt)),
    afterRestart: tally(afterRestart, (a) => a.outcome),
    latencyMs: latency(answers.map((a) => a.ms)),
  });
  for (const a of answers) assert.equal(a.malformed, undefined, a.malformed);
  const outcomes = tally(answers, (a) => a.outcome);
  assert.ok(outcomes.BACKEND_UNAVAILABLE >= 1, `no call failed with BACKEND_UNAVAILABLE: ${JSON.stringify(outcomes)}`);
  assert.deepEqual(Object.keys(outcomes).sort(), ['BACKEND_UNAVAILABLE', 'ok'], JSON.stringify(outcomes));
  for (const a of answers.filter((x) => x.outcome === 'BACKEND_UNAVAILABLE')) {
    // In flight at the kill, or sent before the server saw the worker's exit (a few ms).
    assert.ok(a.sentAt <= killedAt + 500 && a.at >= killedAt, `a failure not in flight at the kill: sent ${a.sentAt - killedAt} ms after it`);
    assert.match(a.body!.errors![0].message, /worker|torch/i);
  }
  assert.ok(readiness.includes(503), `/healthz/ready never said 503 while the worker was down: ${readiness.join(',')}`);
  assert.equal((await fetch(`${server.url}/healthz/ready`)).status, 200);
  assert.ok(afterRestart.length >= 5, `only ${afterRestart.length} requests after the restart`);
  assert.deepEqual(tally(afterRestart, (a) => a.outcome), { ok: afterRestart.length });
  assert.equal(now.restarts, 1);
  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  assert.match(metrics, /^clipql_worker_restarts\{model="tiny-clip-336",backend="torch"\} 1$/m);
  assert.match(metrics, /^clipql_batch_failures_total\{model="tiny-clip-336",backend="torch",tower="text"\} [1-9]/m);
});

test('SIGTERM under load: in-flight requests finish, new ones are refused, workers stop, exit 0', { timeout: 120_000 }, async (t) => {
  const pid = server.child.pid!;
  const { pid: workerPid } = await worker();
  // Requests that take a while: fresh images (preprocessing + the torch image tower).
  const images = await Promise.all(Array.from({ length: 48 }, (_, i) => patternImage(30_000 + i, 'png', 400, 300)));
  let stopSending = false;
  let open = 0;
  const inflight: Array<Promise<Timed>> = [];
  const t0 = performance.now();
  const clients = Array.from({ length: 12 }, async (_, c) => {
    for (let i = 0; !stopSending && i < 4; i++) {
      const k = c * 4 + i;
      open++;
      const p = graphql(server.url, { query: SIM, variables: { images: [{ base64: images[k].toString('base64') }], captions: [`shutdown ${k}`] } }, 60_000).then((a) => (open--, { ...a, sentAt: 0, at: performance.now() - t0 }));
      inflight.push(p);
      await p;
    }
  });
  await sleep(400);
  const family = descendants(pid);
  assert.ok(family.includes(workerPid), `the worker ${workerPid} is among the server's processes ${family.join(',')}`);
  stopSending = true; // requests sent from here on are "new": the server must refuse them
  const pending = open;
  const termAt = performance.now() - t0;
  const exited = server.stop('SIGTERM');
  await sleep(100);
  const late = await graphql(server.url, { query: '{ models { name } }' }, 5000);
  const code = await exited;
  const exitMs = performance.now() - t0 - termAt;
  await Promise.all(clients);
  const answers = await Promise.all(inflight);
  await sleep(200);
  const left = family.filter(alive);
  report(t, 'shutdown', { inFlightAtSigterm: pending, answers: tally(answers, (a) => a.outcome), lastAnswerAfterSigtermMs: Math.round(Math.max(...answers.map((a) => a.at)) - termAt), exitMs: Math.round(exitMs), newRequest: late.outcome, processesLeft: left });

  assert.ok(pending >= 8, `only ${pending} requests were in flight at SIGTERM`);
  assert.deepEqual(tally(answers, (a) => a.outcome), { ok: answers.length }, 'every request in flight at SIGTERM was answered');
  assert.ok(late.outcome === 'HTTP_503' || late.outcome.startsWith('TRANSPORT'), `a request after SIGTERM got ${late.outcome} (HTTP ${late.status})`);
  assert.equal(code, 0, 'exit code');
  assert.ok(exitMs < SHUTDOWN_TIMEOUT_MS + 5000, `exit took ${Math.round(exitMs)} ms`);
  assert.deepEqual(left, [], `processes of the server still running: ${left.join(',')}`);
  assert.ok(server.logs.some((l) => l.includes('"msg":"stopped"')));
});
