/**
 * requestSignal (server/http-io.ts) is made on first use: whenever it is asked for, it tells the
 * same story as an eager one: aborted once the answer is sent ("answered"), or when the client
 * goes away first ("went away"), including when first asked for after that moment.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import { test } from 'node:test';
import { requestSignal } from '../../src/server/http-io';

async function serve(handler: (req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<{ url: string; close: () => void }> {
  const server = http.createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, close: () => server.close() };
}

test('a signal asked for before the answer is not aborted until the answer is sent, then aborted as answered', async () => {
  let seen: { before: boolean; after?: unknown } | undefined;
  const s = await serve((_req, res) => {
    const signal = requestSignal(res)();
    seen = { before: signal.aborted };
    res.on('close', () => setImmediate(() => (seen!.after = (signal.reason as Error)?.message)));
    res.end('ok');
  });
  try {
    assert.equal(await (await fetch(s.url)).text(), 'ok');
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(seen, { before: false, after: 'the request has been answered' });
  } finally {
    s.close();
  }
});

test('a signal first asked for after the client went away is already aborted, as went away', async () => {
  const reasons: string[] = [];
  const s = await serve((req, res) => {
    const signalOf = requestSignal(res);
    res.on('close', () => setImmediate(() => {
      const signal = signalOf(); // first asked for only now
      reasons.push(signal.aborted ? (signal.reason as Error).message : 'not aborted');
    }));
    req.resume(); // never answered: the client gives up
  });
  try {
    const ac = new AbortController();
    const pending = fetch(s.url, { signal: ac.signal }).catch(() => 'gone');
    await new Promise((r) => setTimeout(r, 100));
    ac.abort();
    assert.equal(await pending, 'gone');
    for (let i = 0; i < 50 && reasons.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(reasons, ['the client went away']);
  } finally {
    s.close();
  }
});
