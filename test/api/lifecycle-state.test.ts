/**
 * The lifecycle (server/lifecycle.ts): one state, starting → ready → draining → stopped, driven by
 * Apollo's hooks, read by health, by the HTTP layer and by /metrics.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseConfig } from '../../src/config/config';
import { TINY_MODEL_DIR } from '../../src/paths';
import { Lifecycle } from '../../src/server/lifecycle';
import { createLogger } from '../../src/server/log';
import { startService } from '../../src/server/service';
import { BPE_VOCAB } from '../helpers/shared';

test('transitions: only those of the diagram', () => {
  const l = new Lifecycle();
  assert.equal(l.state, 'starting');
  assert.throws(() => l.to('draining'), /starting -> draining is not a transition/);
  l.to('ready');
  assert.equal(l.ready, true);
  assert.throws(() => l.to('starting'), /ready -> starting/);
  l.to('draining');
  assert.equal(l.refusing, true);
  l.to('stopped');
  assert.throws(() => l.to('ready'), /stopped -> ready/);
});

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

test('a real service: 503 while the model loads (GraphQL with Retry-After), ready after, stopped by stop(); /metrics shows the state', async () => {
  // The torch backend's worker takes a second or two to start: long enough to see "starting".
  const port = await freePort();
  const { config } = parseConfig({ LOG_LEVEL: 'silent', CLIP_VOCAB: BPE_VOCAB(), CLIP_BACKEND: 'torch', CLIP_TORCH_DEVICES: 'cpu' });
  const starting = startService({ models: [{ name: '', dir: TINY_MODEL_DIR }], backend: 'torch', port, host: '127.0.0.1', config, log: createLogger('silent') });
  const url = `http://127.0.0.1:${port}`;
  let seen: { health: number; graphql: number; retryAfter: string | null } | undefined;
  for (let i = 0; i < 400 && !seen; i++) {
    const h = await fetch(`${url}/healthz`).catch(() => undefined);
    if (h) {
      const g = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ models { name } }"}' });
      seen = { health: h.status, graphql: g.status, retryAfter: g.headers.get('retry-after') };
    } else await sleep(10);
  }
  assert.deepEqual(seen, { health: 503, graphql: 503, retryAfter: '1' }, 'listening before the model is ready');
  const service = await starting;
  assert.equal(service.lifecycle.state, 'ready');
  assert.equal((await fetch(`${url}/healthz`)).status, 200);
  const metrics = await (await fetch(`${url}/metrics`)).text();
  assert.match(metrics, /clipql_lifecycle_state\{state="ready"\} 1/);
  assert.match(metrics, /clipql_lifecycle_state\{state="starting"\} 0/);
  await service.stop();
  assert.equal(service.lifecycle.state, 'stopped');
  await assert.rejects(fetch(`${url}/healthz`), 'the listener is closed');
});
