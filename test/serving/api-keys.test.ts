/**
 * API keys and rate limits over real HTTP (CLIP_API_KEYS_FILE): no key or a wrong one is 401 with
 * `WWW-Authenticate: Bearer` on /graphql and /v1; the right one is 200; a burst past a key's
 * requests or images per minute is 429 with Retry-After; /healthz* stays open; /metrics counts by
 * key name and never shows a key; neither do the logs.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ServiceInfoDocument } from '../../client/operations';
import { GraphQLRequestError, request } from '../../client/request';
import { ApiKeys } from '../../src/access/api-keys';
import { TokenBucket } from '../../src/access/token-bucket';
import type { Service } from '../../src/server/service';
import { startChildServer, startTestService } from '../helpers/server';
import { notebook } from '../helpers/shared';

const KEYS = { alice: 'sk-alice-4f1d6a0b9c', bob: 'sk-bob-77e3c1d2aa', carol: 'sk-carol-0b5e9f3c21' };
const hex = (key: string) => createHash('sha256').update(key).digest('hex');
const dir = mkdtempSync(path.join(os.tmpdir(), 'clipql-keys-'));
const keysFile = path.join(dir, 'keys.txt');
// alice: the defaults (60 requests, 100 images a minute); bob: 3 requests a minute; carol: 3 images a minute.
writeFileSync(keysFile, [`# name:sha256[:limits]`, `alice:${hex(KEYS.alice)}`, `bob:${hex(KEYS.bob)}:requests=3`, '', `carol:${hex(KEYS.carol)}:images=3`].join('\n'));
const ENV = { CLIP_API_KEYS_FILE: keysFile, CLIP_RATE_REQUESTS_PER_MINUTE: '60', CLIP_RATE_IMAGES_PER_MINUTE: '100' };
after(() => rmSync(dir, { recursive: true, force: true }));

const CAPTIONS = '{ embedCaptions(captions: ["a cat"]) { tokenCount } }';

async function call(url: string, route: string, key: string | undefined, body?: unknown, extraHeaders: Record<string, string> = {}) {
  const headers: Record<string, string> = { ...extraHeaders };
  if (key !== undefined) headers.authorization = `Bearer ${key}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${url}${route}`, { method: body === undefined ? 'GET' : 'POST', headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) };
}

describe('with CLIP_API_KEYS_FILE', () => {
  let service: Service;
  before(async () => {
    service = await startTestService(ENV);
  });
  after(async () => {
    await service?.stop();
  });

  test('no key or a wrong one: 401 with WWW-Authenticate: Bearer, on GraphQL and on /v1, in each one\'s error shape', async () => {
    for (const key of [undefined, 'sk-wrong', `${KEYS.alice}x`]) {
      const g = await call(service.url, '/graphql', key, { query: CAPTIONS });
      assert.equal(g.status, 401, `${key}: ${g.text}`);
      assert.match(g.headers.get('www-authenticate') ?? '', /^Bearer\b/);
      assert.equal(g.json().errors[0].extensions.code, 'UNAUTHENTICATED');
      const v = await call(service.url, '/v1/embeddings', key, { input: 'a cat' });
      assert.equal(v.status, 401);
      assert.match(v.headers.get('www-authenticate') ?? '', /^Bearer\b/);
      assert.equal(v.json().error.code, 'UNAUTHENTICATED');
      assert.equal((await call(service.url, '/v1/models', key)).status, 401);
    }
    // Another scheme is refused too.
    const basic = await call(service.url, '/graphql', undefined, { query: CAPTIONS }, { authorization: `Basic ${Buffer.from(`x:${KEYS.alice}`).toString('base64')}` });
    assert.equal(basic.status, 401);
  });

  test('the right key: 200', async () => {
    const g = await call(service.url, '/graphql', KEYS.alice, { query: CAPTIONS });
    assert.equal(g.status, 200, g.text);
    assert.equal(g.json().data.embedCaptions[0].tokenCount, 4);
    assert.equal((await call(service.url, '/v1/models', KEYS.alice)).status, 200);
    // The typed client sends the key in its endpoint's headers.
    const info = await request({ url: `${service.url}/graphql`, headers: { authorization: `Bearer ${KEYS.alice}` } }, ServiceInfoDocument);
    assert.equal(info.models.length, 1);
    await assert.rejects(request(`${service.url}/graphql`, ServiceInfoDocument), (e: unknown) => e instanceof GraphQLRequestError && e.status === 401 && e.errors[0].extensions?.code === 'UNAUTHENTICATED');
  });

  test('health stays open', async () => {
    for (const route of ['/healthz', '/healthz/live', '/healthz/ready']) assert.equal((await call(service.url, route, undefined)).status, 200, route);
  });

  test('a burst past a key\'s requests per minute: 429 with Retry-After, other keys unaffected', async () => {
    const answers = [];
    for (let i = 0; i < 5; i++) answers.push(await call(service.url, '/graphql', KEYS.bob, { query: CAPTIONS }));
    assert.deepEqual(answers.map((a) => a.status), [200, 200, 200, 429, 429]);
    const refused = answers[3];
    assert.equal(refused.json().errors[0].extensions.code, 'RATE_LIMITED');
    // 3 a minute: a token every 20 s, so the wait is at most 20 s.
    const retry = Number(refused.headers.get('retry-after'));
    assert.ok(Number.isInteger(retry) && retry >= 1 && retry <= 20, `Retry-After ${refused.headers.get('retry-after')}`);
    const v = await call(service.url, '/v1/embeddings', KEYS.bob, { input: 'a cat' });
    assert.equal(v.status, 429);
    assert.ok(Number(v.headers.get('retry-after')) >= 1);
    assert.equal(v.json().error.code, 'RATE_LIMITED');
    assert.equal(v.json().error.type, 'rate_limit_error');
    assert.equal((await call(service.url, '/graphql', KEYS.alice, { query: CAPTIONS })).status, 200);
    assert.equal((await call(service.url, '/healthz', KEYS.bob)).status, 200);
  });

  test('images per minute: charged on GraphQL and /v1 alike, 429 with Retry-After once spent', async () => {
    const png = readFileSync(notebook()[0].path).toString('base64');
    const query = 'query($i: [ImageInput!]!) { embedImages(images: $i) { sha256 } }';
    const two = await call(service.url, '/graphql', KEYS.carol, { query, variables: { i: [{ base64: png }, { base64: png }] } });
    assert.equal(two.status, 200, two.text);
    const v = await call(service.url, '/v1/embeddings', KEYS.carol, { input: [`data:image/png;base64,${png}`], modality: 'image' });
    assert.equal(v.status, 200, v.text);
    const over = await call(service.url, '/graphql', KEYS.carol, { query, variables: { i: [{ base64: png }] } });
    assert.equal(over.status, 429, over.text);
    assert.equal(over.json().errors[0].extensions.code, 'RATE_LIMITED');
    assert.ok(Number(over.headers.get('retry-after')) >= 1, `Retry-After ${over.headers.get('retry-after')}`);
    // More images than the bucket holds can never pass: not a wait, an input error.
    const never = await call(service.url, '/graphql', KEYS.carol, { query, variables: { i: [{ base64: png }, { base64: png }, { base64: png }, { base64: png }] } });
    assert.equal(never.json().errors[0].extensions.code, 'TOO_MANY_INPUTS');
  });

  test('/metrics counts by key name and shows no key', async () => {
    const text = await (await fetch(`${service.url}/metrics`, { headers: { authorization: `Bearer ${KEYS.alice}` } })).text();
    assert.match(text, /clipql_api_requests_total\{key="bob",outcome="RATE_LIMITED"\} 3/);
    assert.match(text, /clipql_api_requests_total\{key="\(none\)",outcome="UNAUTHENTICATED"\} \d+/);
    assert.match(text, /clipql_api_images_total\{key="carol",outcome="admitted"\} 3/);
    assert.match(text, /clipql_api_images_total\{key="carol",outcome="RATE_LIMITED"\} 1/);
    for (const key of Object.values(KEYS)) assert.ok(!text.includes(key) && !text.includes(hex(key)), 'a key or its hash in /metrics');
  });
});

test('/metrics needs a key by default; CLIP_METRICS_REQUIRE_KEY=0 leaves it open', async () => {
  const service = await startTestService(ENV);
  try {
    const open = await call(service.url, '/metrics', undefined);
    assert.equal(open.status, 401);
    assert.match(open.headers.get('www-authenticate') ?? '', /^Bearer\b/);
    assert.equal((await call(service.url, '/metrics', KEYS.alice)).status, 200);
  } finally {
    await service.stop();
  }
  const opened = await startTestService({ ...ENV, CLIP_METRICS_REQUIRE_KEY: '0' });
  try {
    assert.equal((await call(opened.url, '/metrics', undefined)).status, 200);
  } finally {
    await opened.stop();
  }
});

test('keys never appear in the logs (debug level, a child server, right and wrong keys)', async () => {
  const server = await startChildServer({ ...ENV, LOG_LEVEL: 'debug' });
  try {
    await call(server.url, '/graphql', KEYS.alice, { query: CAPTIONS });
    await call(server.url, '/graphql', `${KEYS.bob}-typo`, { query: CAPTIONS });
    await call(server.url, '/v1/embeddings', KEYS.carol, { input: 'x', model: 'no-such-model' });
    await call(server.url, '/graphql', KEYS.alice, { query: '{ similarity(images: [{base64: "AAAA"}], captions: ["x"]) { scores } }' });
  } finally {
    await server.stop();
  }
  const logs = server.logs.join('\n');
  assert.ok(logs.includes('graphql request'), 'the debug log ran');
  for (const key of Object.values(KEYS)) assert.ok(!logs.includes(key), `a key in the logs: ${key}`);
});

describe('the keys file and the bucket', () => {
  test('malformed lines fail at load, naming the line; a key file holds hashes, not keys', () => {
    assert.equal(ApiKeys.parse(readFileSync(keysFile, 'utf8')).size, 3);
    assert.throws(() => ApiKeys.parse(`alice:${KEYS.alice}`), /line 1: .*sha256/);
    assert.throws(() => ApiKeys.parse(`a:${hex('1')}\na:${hex('2')}`), /line 2: the name a appears twice/);
    assert.throws(() => ApiKeys.parse(`a:${hex('1')}\nb:${hex('1')}`), /line 2: the hash of b is also a's/);
    assert.throws(() => ApiKeys.parse(`a:${hex('1')}:requests=-1`), /line 1: bad limit/);
    assert.throws(() => ApiKeys.parse('# only a comment\n'), /no keys/);
    const keys = ApiKeys.parse(`a:${hex('k1')}:images=7`);
    const k1 = keys.authenticate('Bearer k1');
    assert.deepEqual([k1?.name, k1?.limits], ['a', { imagesPerMinute: 7 }]);
    assert.equal(keys.authenticate('Bearer k2'), undefined);
    assert.equal(keys.authenticate('k1'), undefined);
  });

  test('a token bucket: a minute\'s allowance at once, then the refill rate', () => {
    let now = 0;
    const b = new TokenBucket(6, () => now); // one token every 10 s
    for (let i = 0; i < 6; i++) assert.equal(b.take(), 0);
    assert.equal(b.take(), 10_000);
    now = 5_000;
    assert.equal(b.take(), 5_000);
    now = 10_000;
    assert.equal(b.take(), 0);
    assert.equal(b.take(2), 20_000);
    assert.equal(b.take(7), Infinity);
    now = 10 * 60_000; // refills to capacity, no further
    assert.equal(b.available(), 6);
  });
});
