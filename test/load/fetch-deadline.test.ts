/**
 * A URL input's deadline survives garbage collection. In Node 20, a signal made by
 * AbortSignal.timeout() is held only weakly once it is combined with AbortSignal.any(); when
 * nothing else holds it (as in fetchImage once V8 has optimised it: a suspended frame keeps only
 * the values still used), a collection before it fires drops it, and a server that trickles bytes
 * then keeps the request
 * open for as long as the client waits (found by the long form of hostile-clients.test.ts:
 * trickled fetches with a 2 s deadline still open after 30 s). Here the collections are forced.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { fetchImage } from '../../src/input/fetch';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const WARM_UP = 1500; // optimised after about 1000 here

let files: http.Server;
let url: string;
before(async () => {
  files = http.createServer((req, res) => {
    if (req.url === '/small.png') return void res.end(Buffer.alloc(100, 1));
    res.writeHead(200, { 'content-type': 'image/png' });
    const t = setInterval(() => res.write(Buffer.from([0])), 50);
    res.on('close', () => clearInterval(t));
  });
  await new Promise<void>((r) => files.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(files.address() as AddressInfo).port}/trickle.png`;
});
after(() => {
  files.closeAllConnections();
  files.close();
});

test('the fetch deadline fires even when a garbage collection runs while the server trickles', async () => {
  const client = new AbortController(); // the request's client-gone signal, never aborted here
  // Warm up: the weak deadline is lost once V8 has optimised fetchImage (its suspended frame then
  // keeps only the values still used), as it has in a server that has fetched for a while.
  const small = url.replace('trickle', 'small');
  for (let i = 0; i < WARM_UP; i++) await fetchImage(small, { timeoutMs: 5000, maxBytes: 1_000_000, maxRedirects: 0, allowPrivate: true, signal: client.signal });
  const t0 = performance.now();
  const fetching = fetchImage(url, { timeoutMs: 500, maxBytes: 1_000_000, maxRedirects: 0, allowPrivate: true, signal: client.signal });
  const collector = setInterval(gc, 50);
  try {
    const outcome = await Promise.race([
      fetching.then(() => 'fetched', (e: Error) => e.message),
      new Promise<string>((r) => setTimeout(() => r('still fetching after 5 s'), 5000)),
    ]);
    assert.match(outcome, /took longer than 500 ms/);
    assert.ok(performance.now() - t0 < 2000, `cut off after ${Math.round(performance.now() - t0)} ms`);
  } finally {
    clearInterval(collector);
    client.abort();
  }
});
