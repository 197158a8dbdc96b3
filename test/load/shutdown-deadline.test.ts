/**
 * The drain has a deadline (CLIP_SHUTDOWN_TIMEOUT_MS): a request that would outlive it (here a URL
 * input whose server trickles bytes, fetched with a 20 s timeout) is cut off when it passes, and
 * the server still exits 0, on time. The drain under load with the torch workers, where every
 * request finishes in time, is in torch-faults.test.ts.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startChildServer, type ChildServer } from '../helpers/server';
import { graphql, report } from './harness';

const DEADLINE_MS = 1500;
let files: http.Server;
let server: ChildServer;

before(async () => {
  files = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'image/png' });
    const t = setInterval(() => res.write(Buffer.from([0])), 200);
    res.on('close', () => clearInterval(t));
  });
  await new Promise<void>((r) => files.listen(0, '127.0.0.1', r));
  server = await startChildServer({ CLIP_ALLOW_PRIVATE_URLS: '1', CLIP_FETCH_TIMEOUT_MS: '20000', CLIP_SHUTDOWN_TIMEOUT_MS: String(DEADLINE_MS) });
});
after(async () => {
  files?.closeAllConnections();
  files?.close();
  if (server && server.child.exitCode === null) server.child.kill('SIGKILL');
});

test(`SIGTERM with a request that outlives CLIP_SHUTDOWN_TIMEOUT_MS (${DEADLINE_MS} ms): it is cut off at the deadline, exit 0`, async (t) => {
  const url = `http://127.0.0.1:${(files.address() as AddressInfo).port}/slow.png`;
  const slow = graphql(server.url, { query: 'query($images: [ImageInput!]!) { similarity(images: $images, captions: ["x"]) { scores } }', variables: { images: [{ url }] } }, 30_000);
  await sleep(500);
  const t0 = performance.now();
  const code = await server.stop('SIGTERM');
  const exitMs = performance.now() - t0;
  const a = await slow;
  report(t, 'shutdown-deadline', { exitMs: Math.round(exitMs), slowRequest: a.outcome });
  assert.equal(code, 0);
  assert.ok(exitMs >= DEADLINE_MS - 100 && exitMs < DEADLINE_MS + 3000, `exit ${Math.round(exitMs)} ms after SIGTERM (deadline ${DEADLINE_MS} ms)`);
  assert.match(a.outcome, /^TRANSPORT\(/, `the request past the deadline got ${a.outcome}`);
});
