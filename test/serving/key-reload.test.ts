/**
 * The keys file reloaded without a restart, over real HTTP: a key removed from the file is refused
 * (401) within a second through the file watch while a request it sent before finishes (200); a
 * changed scope applies to the next request; a broken file keeps the keys in force; SIGHUP reloads
 * a child server (and does not end it, as it would without a handler).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Service } from '../../src/server/service';
import { gql, startChildServer, startTestService } from '../helpers/server';

const hex = (key: string) => createHash('sha256').update(key).digest('hex');
const line = (name: string, key: string, fields = 'actions=read') => `${name}:${hex(key)}:${fields}`;
const auth = (key: string) => ({ authorization: `Bearer ${key}` });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const QUERY = JSON.stringify({ query: '{ embedCaptions(captions: ["a cat"]) { tokenCount } }' });

let dir: string;
before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'clipql-reload-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** A POST whose headers go now and whose body waits for `finish()`: a request in flight. */
function slowRequest(url: string, key: string): { finish(): void; answer: Promise<{ status: number; body: string }> } {
  let finish!: () => void;
  const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = http.request(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(QUERY), ...auth(key) } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.write(QUERY.slice(0, 10));
    req.flushHeaders();
    finish = () => req.end(QUERY.slice(10));
  });
  return { finish, answer };
}

describe('reloading the keys file', () => {
  let service: Service;
  let file: string;
  const A = 'sk-a-0f3b';
  const B = 'sk-b-9c1e';
  const status = async (key: string) => (await gql(service.url, '{ models { name } }', {}, auth(key))).status;

  before(async () => {
    file = path.join(dir, 'keys');
    writeFileSync(file, [line('a', A), line('b', B)].join('\n'));
    service = await startTestService({ CLIP_API_KEYS_FILE: file });
  });
  after(() => service?.stop());

  test('a removed key stops working within a second (file watch); its request in flight completes', async () => {
    const admitted = async () => /clipql_api_requests_total\{key="a",outcome="admitted"\} 1\b/.test(await service.metrics.registry.metrics());
    const inFlight = slowRequest(service.url, A);
    for (let i = 0; !(await admitted()); i++) {
      assert.ok(i < 100, 'the slow request was admitted');
      await sleep(20);
    }
    writeFileSync(file, line('b', B));
    const t0 = Date.now();
    while ((await status(A)) !== 401) {
      assert.ok(Date.now() - t0 < 1000, 'refused within a second');
      await sleep(25);
    }
    assert.equal(await status(B), 200);
    inFlight.finish();
    const done = await inFlight.answer;
    assert.equal(done.status, 200, done.body);
    assert.equal(JSON.parse(done.body).data.embedCaptions[0].tokenCount, 4);
  });

  test('a changed scope applies to the next request; a broken file keeps the keys in force', async () => {
    writeFileSync(file, line('b', B, 'actions=metrics'));
    assert.equal(service.reloadKeys('test'), true);
    assert.equal(await status(B), 403);
    writeFileSync(file, `${line('b', B)}\nnot a key line`);
    assert.equal(service.reloadKeys('test'), false);
    await sleep(700); // the watch sees it too, and fails the same way
    assert.equal(await status(B), 403, 'the keys in force before the broken file');
    writeFileSync(file, line('b', B));
    assert.equal(service.reloadKeys('test'), true);
    assert.equal(await status(B), 200);
  });
});

test('SIGHUP reloads the keys file of a running server (which warns about keys without actions)', async () => {
  const file = path.join(dir, 'keys-hup');
  const A = 'sk-hup-a';
  writeFileSync(file, [line('a', A), line('b', 'sk-hup-b'), `everything:${hex('sk-hup-c')}`].join('\n'));
  const server = await startChildServer({ CLIP_API_KEYS_FILE: file });
  try {
    assert.ok(server.logs.some((l) => l.includes('"level":40') && l.includes('without actions= may do everything') && l.includes(': everything;')), server.logs.join('\n'));
    assert.equal((await gql(server.url, '{ models { name } }', {}, auth(A))).status, 200);
    writeFileSync(file, line('b', 'sk-hup-b'));
    server.child.kill('SIGHUP');
    const t0 = Date.now();
    while (!server.logs.some((l) => l.includes('"reason":"SIGHUP"') && l.includes('API keys reloaded'))) {
      assert.ok(Date.now() - t0 < 5000, `a reload logged for SIGHUP:\n${server.logs.join('\n')}`);
      await sleep(25);
    }
    assert.equal((await gql(server.url, '{ models { name } }', {}, auth(A))).status, 401);
    assert.equal(server.child.exitCode, null, 'still running');
  } finally {
    assert.equal(await server.stop(), 0);
  }
});
