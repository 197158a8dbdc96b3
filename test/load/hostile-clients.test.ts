/**
 * Slow and hostile clients, many at once, while a well-behaved client keeps asking: URL inputs
 * whose server trickles bytes, never ends, or redirects to a private address; slowloris clients
 * that send a body one byte per second or their headers one line per second; clients that go away
 * mid-request. The server answers each hostile request with its code, cuts slow sockets off at
 * its timeouts, and the well-behaved client's latency stays low throughout.
 *
 * Short form: the server's timeouts shortened (headers 2 s, whole request 4 s, fetch 2 s) and a
 * few hostile clients. Long form: the default timeouts (10 s, 60 s) with many more.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { patternImage } from '../helpers/images';
import { startChildServer, type ChildServer } from '../helpers/server';
import { graphql, latency, LONG, pick, probeClient, report, request, tally, type Answer } from './harness';

const HEADERS_TIMEOUT_MS = pick(2000, 10_000);
const RECEIVE_TIMEOUT_MS = pick(4000, 60_000);
const FETCH_TIMEOUT_MS = 2000;

let server: ChildServer;
let files: http.Server;
let trusted: string; // the file server as a trusted host (CLIP_FETCH_ALLOW_HOSTS)
let probeBody: unknown;

before(async () => {
  const png = await patternImage(4);
  files = http.createServer((req, res) => {
    const u = req.url ?? '';
    if (u === '/ok.png') return void res.end(png);
    if (u === '/trickle') {
      // A byte every 200 ms, forever.
      res.writeHead(200, { 'content-type': 'image/png' });
      const t = setInterval(() => res.write(Buffer.from([0x89])), 200);
      res.on('close', () => clearInterval(t));
      return;
    }
    if (u === '/endless') {
      res.writeHead(200, { 'content-type': 'image/png' });
      const chunk = Buffer.alloc(64 * 1024, 1);
      const pump = () => {
        while (!res.destroyed && res.write(chunk));
        if (!res.destroyed) res.once('drain', pump);
      };
      pump();
      return;
    }
    if (u === '/to-private') {
      // The trusted host sends the fetch on to a loopback address it was not trusted with.
      res.writeHead(302, { location: `http://127.0.0.1:${(files.address() as AddressInfo).port}/ok.png` });
      return void res.end();
    }
    res.statusCode = 404;
    res.end();
  });
  await new Promise<void>((r) => files.listen(0, '127.0.0.1', r));
  const port = (files.address() as AddressInfo).port;
  trusted = `http://localhost:${port}`;
  server = await startChildServer({
    CLIP_FETCH_ALLOW_HOSTS: `localhost:${port}`,
    CLIP_FETCH_TIMEOUT_MS: String(FETCH_TIMEOUT_MS),
    CLIP_MAX_IMAGE_BYTES: '2000000',
    ...(LONG ? {} : { CLIP_HTTP_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS), CLIP_HTTP_RECEIVE_TIMEOUT_MS: String(RECEIVE_TIMEOUT_MS) }),
  });
  probeBody = { query: 'query($images: [ImageInput!]!) { similarity(images: $images, captions: ["a probe"]) { scores } }', variables: { images: [{ base64: (await patternImage(5)).toString('base64') }] } };
  assert.equal((await graphql(server.url, probeBody)).outcome, 'ok');
});

after(async () => {
  files?.closeAllConnections();
  files?.close();
  await server?.stop();
});

/** A raw socket that sends `head` at once and then one byte of `drip` per second; resolves when the server closes it. */
function slowClient(url: string, head: string, drip: string): Promise<{ ms: number; reply: string }> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const t0 = performance.now();
    let reply = '';
    const s = net.connect(Number(u.port), u.hostname, () => s.write(head));
    let i = 0;
    const timer = setInterval(() => {
      if (!s.destroyed) s.write(drip[i++ % drip.length]);
    }, 1000);
    s.on('data', (d) => (reply += d.toString('latin1')));
    s.on('error', () => undefined);
    s.on('close', () => {
      clearInterval(timer);
      resolve({ ms: performance.now() - t0, reply });
    });
  });
}

test(`hostile clients (URL inputs that trickle, never end or redirect to a private address; slowloris bodies and headers): each gets its answer, the server stays responsive`, { timeout: pick(60_000, 300_000) }, async (t) => {
  // The well-behaved client alone, for comparison.
  const quiet = probeClient(server.url, probeBody, 50);
  await sleep(pick(1500, 5000));
  const baseline = await quiet.stop();

  const probe = probeClient(server.url, probeBody, 50);
  const slowBodies = Array.from({ length: pick(20, 100) }, () => slowClient(server.url, `POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n`, '{"query":'));
  const slowHeaders = Array.from({ length: pick(20, 100) }, (_, i) => slowClient(server.url, 'POST /graphql HTTP/1.1\r\n', `X-Slow-${i}: a\r\n`));
  // URL inputs, in a loop until the slow sockets are gone.
  const kinds = [
    ['trickle', `${trusted}/trickle`, 'FETCH_FAILED', new RegExp(`took longer than ${FETCH_TIMEOUT_MS} ms`)],
    ['endless', `${trusted}/endless`, 'IMAGE_TOO_LARGE', /larger than the limit of 2000000 bytes/],
    ['to-private', `${trusted}/to-private`, 'FETCH_FAILED', /127\.0\.0\.1 is a private, loopback or link-local address/],
  ] as const;
  const urlAnswers: Array<Answer & { kind: string; expect: string; message: RegExp }> = [];
  let slowDone = false;
  const urlClients = Array.from({ length: pick(6, 30) }, async (_, c) => {
    for (let i = 0; !slowDone; i++) {
      const [kind, url, expect, message] = kinds[(c + i) % kinds.length];
      const a = await graphql(server.url, { query: 'query($images: [ImageInput!]!) { similarity(images: $images, captions: ["x"]) { scores } }', variables: { images: [{ url }] } }, 30_000);
      urlAnswers.push({ ...a, kind, expect, message });
    }
  });
  const bodies = await Promise.all(slowBodies);
  const headers = await Promise.all(slowHeaders);
  slowDone = true;
  await Promise.all(urlClients);
  const during = await probe.stop();

  const figures = {
    probeBaselineMs: latency(baseline.map((a) => a.ms)),
    probeDuringMs: latency(during.map((a) => a.ms)),
    slowBodyClosedAfterMs: latency(bodies.map((b) => b.ms)),
    slowHeadersClosedAfterMs: latency(headers.map((b) => b.ms)),
    slowReplies: tally([...bodies, ...headers], (b) => b.reply.split('\r\n')[0] || '(closed without a reply)'),
    urlInputs: tally(urlAnswers, (a) => `${a.kind}: ${a.outcome}`),
    urlLatencyMs: latency(urlAnswers.map((a) => a.ms)),
  };
  report(t, 'hostile-clients', figures);

  // The well-behaved client was served throughout, quickly.
  assert.ok(during.length >= 10, `only ${during.length} probe requests ran`);
  assert.deepEqual(tally(during, (a) => a.outcome), { ok: during.length }, 'every probe request succeeded');
  const p99 = latency(during.map((a) => a.ms)).p99;
  assert.ok(p99 < Math.max(1000, 5 * latency(baseline.map((a) => a.ms)).p99), `probe p99 ${p99} ms during the hostile clients (baseline ${JSON.stringify(figures.probeBaselineMs)})`);
  // Slow sockets were cut off at the server's timeouts (which Node checks every second), with 408.
  for (const [name, list, limit] of [['slow body', bodies, RECEIVE_TIMEOUT_MS], ['slow headers', headers, HEADERS_TIMEOUT_MS]] as const) {
    for (const b of list) {
      assert.ok(b.ms >= limit - 200 && b.ms < limit + 3000, `${name}: closed after ${Math.round(b.ms)} ms, limit ${limit} ms`);
      assert.match(b.reply, /^HTTP\/1\.1 408 /, `${name}: the server answered ${JSON.stringify(b.reply.slice(0, 40))}`);
    }
  }
  // Each hostile URL input got its code, within the fetch deadline (plus slack for a busy machine).
  assert.ok(urlAnswers.length >= kinds.length);
  for (const a of urlAnswers) {
    assert.equal(a.malformed, undefined);
    assert.equal(a.outcome, a.expect, `${a.kind}: ${JSON.stringify(a.body?.errors?.[0])}`);
    assert.match(a.body!.errors![0].message, a.message);
    assert.ok(a.ms < FETCH_TIMEOUT_MS + 3000, `${a.kind}: answered after ${Math.round(a.ms)} ms`);
  }
});

test('a client that goes away mid-request does not fail another client waiting for the same image', async () => {
  // Keep the preprocessing thread busy so that the shared image waits in the queue: the leaver is
  // sent only once several of the big images wait there (a fixed sleep raced the busy request's
  // upload and parsing, and the leaver was sometimes answered in time).
  const big = await Promise.all(Array.from({ length: 10 }, (_, i) => patternImage(700 + i, 'png', 1600, 1200)));
  const SIM = 'query($images: [ImageInput!]!) { similarity(images: $images, captions: ["shared"]) { scores } }';
  const busy = graphql(server.url, { query: SIM, variables: { images: big.map((b) => ({ base64: b.toString('base64') })) } });
  const queued = async () => Number(/^clipql_preprocess_queue_length (\d+)/m.exec(await (await fetch(`${server.url}/metrics`)).text())?.[1] ?? 0);
  for (let t = Date.now(); (await queued()) < 4; await sleep(10)) {
    if (Date.now() - t > 10_000) assert.fail('the busy request never filled the preprocessing queue');
  }
  const shared = { query: SIM, variables: { images: [{ base64: (await patternImage(777, 'png', 200, 150)).toString('base64') }] } };
  // The leaver sends the image and hangs up 150 ms later; the stayer asks for the same image.
  const leaver = request(server.url, { body: JSON.stringify(shared), timeoutMs: 150 });
  await sleep(50);
  const stayer = graphql(server.url, shared);
  const gone = await leaver;
  assert.match(gone.error ?? '', /no answer within 150 ms/, 'the leaver hung up before its answer');
  const kept = await stayer;
  assert.equal(kept.outcome, 'ok', `the request that stayed failed: ${JSON.stringify(kept.body?.errors)}`);
  assert.equal((await busy).outcome, 'ok');
});
