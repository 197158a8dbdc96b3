/**
 * Every bad input gets a GraphQL error with a code and a message a frontend can show, and the
 * server stays up: after each case, a valid query still succeeds.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { Service } from '../../src/server/service';
import { patternImage, pngDeclaring } from '../helpers/images';
import { gql, startTestService } from '../helpers/server';

let service: Service;
let open: Service; // allows private URLs, for fetch behaviour against a loopback server
let files: http.Server;
let filesUrl: string;
let good: string;

before(async () => {
  good = (await patternImage(3)).toString('base64');
  const png = await patternImage(4);
  files = http.createServer((req, res) => {
    const u = req.url ?? '';
    if (u === '/ok.png') return void res.end(png);
    if (u === '/missing.png') return void ((res.statusCode = 404), res.end('no'));
    if (u.startsWith('/redirect/')) {
      const n = Number(u.split('/')[2]);
      res.writeHead(302, { location: n > 0 ? `/redirect/${n - 1}` : '/ok.png' });
      return void res.end();
    }
    if (u === '/to-private') {
      res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data' });
      return void res.end();
    }
    if (u === '/trickle') {
      res.writeHead(200, { 'content-type': 'image/png' });
      const t = setInterval(() => res.write(Buffer.from([0])), 100);
      res.on('close', () => clearInterval(t));
      return;
    }
    if (u === '/endless') {
      res.writeHead(200, { 'content-type': 'image/png' });
      const chunk = Buffer.alloc(64 * 1024);
      const pump = () => {
        while (res.write(chunk)) if (res.destroyed) return;
        if (!res.destroyed) res.once('drain', pump);
      };
      pump();
      return;
    }
    res.statusCode = 404;
    res.end();
  });
  await new Promise<void>((r) => files.listen(0, '127.0.0.1', r));
  const port = (files.address() as AddressInfo).port;
  filesUrl = `http://127.0.0.1:${port}`;
  const limits = { CLIP_MAX_IMAGES: '4', CLIP_MAX_CAPTIONS: '5', CLIP_MAX_CAPTION_CHARS: '300', CLIP_MAX_IMAGE_BYTES: '300000', CLIP_MAX_PIXELS: '25000000', CLIP_FETCH_TIMEOUT_MS: '1500', CLIP_MAX_BODY_BYTES: '2000000' };
  // `service` refuses private addresses but trusts "localhost:<port>" (an internal image host).
  service = await startTestService({ ...limits, CLIP_FETCH_ALLOW_HOSTS: `localhost:${port}` });
  open = await startTestService({ ...limits, CLIP_ALLOW_PRIVATE_URLS: '1' });
});

after(async () => {
  files?.closeAllConnections();
  files?.close();
  await service?.stop();
  await open?.stop();
});

const SIM = `query($images: [ImageInput!]!, $captions: [String!]!, $backend: String) { similarity(images: $images, captions: $captions, backend: $backend) { scores } }`;

async function expectCode(s: Service, variables: Record<string, unknown>, code: string, message?: RegExp, query = SIM): Promise<void> {
  const t0 = Date.now();
  const { body } = await gql(s.url, query, variables);
  assert.ok(body.errors?.length, `expected ${code}, got data ${JSON.stringify(body.data)}`);
  const e = body.errors![0];
  assert.equal(e.extensions?.code, code, `expected ${code}, got ${JSON.stringify(e)}`);
  if (message) assert.match(e.message, message);
  assert.equal(e.extensions?.stacktrace, undefined, 'no stack traces outside development mode');
  assert.ok(Date.now() - t0 < 10_000, 'answered in bounded time');
  // The server is still up and a valid query succeeds.
  const ok = await gql(s.url, SIM, { images: [{ base64: good }], captions: ['It is fine'] });
  assert.equal(ok.body.errors, undefined, `valid query after a ${code} case failed: ${JSON.stringify(ok.body.errors)}`);
}

const img = (base64: string) => ({ images: [{ base64 }], captions: ['It is a test'] });
const truncated = async (format: 'png' | 'jpeg' | 'webp' | 'gif') => {
  const b = await patternImage(5, format, 96, 80);
  return b.subarray(0, Math.floor(b.length / 2)).toString('base64');
};

describe('request shape', () => {
  test('no images', () => expectCode(service, { images: [], captions: ['x'] }, 'BAD_USER_INPUT', /images: at least one image/));
  test('no captions', () => expectCode(service, { images: [{ base64: good }], captions: [] }, 'BAD_USER_INPUT', /captions: at least one caption/));
  test('both base64 and url', () => expectCode(service, { images: [{ base64: good, url: 'http://example.com/a.png' }], captions: ['x'] }, 'BAD_USER_INPUT', /exactly one of file, base64 and url/));
  test('neither base64 nor url', () => expectCode(service, { images: [{}], captions: ['x'] }, 'BAD_USER_INPUT', /images\[0\]: give exactly one/));
  test('wrong argument type', () => expectCode(service, { images: [{ base64: good }], captions: 5 }, 'BAD_USER_INPUT'));
  test('too many images', () => expectCode(service, { images: Array(5).fill({ base64: good }), captions: ['x'] }, 'TOO_MANY_INPUTS', /5 images given, at most 4/));
  test('too many captions', () => expectCode(service, { images: [{ base64: good }], captions: Array(6).fill('x') }, 'TOO_MANY_INPUTS', /at most 5/));
  test('caption too long', () => expectCode(service, { images: [{ base64: good }], captions: ['a'.repeat(301)] }, 'TOO_MANY_INPUTS', /captions\[0\]: 301 characters/));
  test('unknown backend', () => expectCode(service, { ...img(good), backend: 'nope' }, 'BACKEND_UNAVAILABLE', /unknown backend "nope"; registered: onnx/));
  test('classify template without {}', () =>
    expectCode(service, { image: { base64: good }, labels: ['cat'] }, 'BAD_USER_INPUT', /template must contain "\{\}"/, `query($image: ImageInput!, $labels: [String!]!) { classify(image: $image, labels: $labels, template: "a photo") { labels { label } } }`));
  test('query too deep', () => expectCode(service, {}, 'GRAPHQL_VALIDATION_FAILED', /nested/, `{ __schema { types { fields { type { ofType { ofType { ofType { ofType { name } } } } } } } } }`));
  test('too many aliased fields', () => expectCode(service, {}, 'GRAPHQL_VALIDATION_FAILED', /more than 200 fields/, `{ ${Array.from({ length: 201 }, (_, i) => `a${i}: models { name }`).join(' ')} }`));
});

describe('bytes that are not a usable image', () => {
  test('invalid base64', () => expectCode(service, img('@@@not base64@@@'), 'BAD_USER_INPUT', /invalid base64: unexpected character "@"/));
  test('zero bytes', () => expectCode(service, img(''), 'BAD_IMAGE', /empty/));
  test('malformed data URL', () => expectCode(service, img('data:image/png,abc'), 'BAD_USER_INPUT', /base64/));
  test('non-image bytes', () => expectCode(service, img(Buffer.from('hello, this is plain text and not an image').toString('base64')), 'BAD_IMAGE'));
  for (const f of ['png', 'jpeg', 'webp', 'gif'] as const) {
    test(`truncated ${f}`, async () => expectCode(service, img(await truncated(f)), 'BAD_IMAGE', /images\[0\]/));
  }
  test('SVG with an external reference', () =>
    expectCode(service, img(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="10" height="10"><image xlink:href="http://169.254.169.254/x.png" width="10" height="10"/></svg>').toString('base64')), 'UNSUPPORTED_FORMAT'));
  test('more bytes than allowed', async () => expectCode(service, img(Buffer.alloc(400_000, 7).toString('base64')), 'IMAGE_TOO_LARGE', /300000 bytes/));
  test('decompression bomb: a PNG declaring 30000 x 30000 pixels', async () => expectCode(service, img((await pngDeclaring(30000, 30000)).toString('base64')), 'IMAGE_TOO_LARGE'));
  test('the error names the image it came from', async () => {
    const { body } = await gql(service.url, SIM, { images: [{ base64: good }, { base64: 'AAAA' }], captions: ['x'] });
    assert.equal(body.errors?.[0].extensions.argument, 'images[1]');
    assert.match(body.errors?.[0].message, /^images\[1\]: /);
  });
});

describe('URL inputs', () => {
  test('only http and https', () => expectCode(service, { images: [{ url: 'file:///etc/passwd' }], captions: ['x'] }, 'BAD_USER_INPUT', /only http and https/));
  test('loopback address refused by default (SSRF)', () => expectCode(service, { images: [{ url: `${filesUrl}/ok.png` }], captions: ['x'] }, 'FETCH_FAILED', /private, loopback or link-local/));
  test('a name resolving to loopback is refused too', () => expectCode(service, { images: [{ url: 'http://localhost:9/ok.png' }], captions: ['x'] }, 'FETCH_FAILED', /localhost resolves to .*private, loopback or link-local/));
  test('a trusted host is fetched', async () => {
    const { body } = await gql(service.url, SIM, { images: [{ url: `${filesUrl.replace('127.0.0.1', 'localhost')}/ok.png` }], captions: ['x'] });
    assert.equal(body.errors, undefined, JSON.stringify(body.errors));
  });
  test('link-local metadata address refused', () => expectCode(service, { images: [{ url: 'http://169.254.169.254/latest/meta-data' }], captions: ['x'] }, 'FETCH_FAILED', /169\.254\.169\.254/));
  test('fetches when private addresses are allowed', async () => {
    const { body } = await gql(open.url, SIM, { images: [{ url: `${filesUrl}/ok.png` }], captions: ['x'] });
    assert.equal(body.errors, undefined, JSON.stringify(body.errors));
  });
  test('HTTP 404', () => expectCode(open, { images: [{ url: `${filesUrl}/missing.png` }], captions: ['x'] }, 'FETCH_FAILED', /HTTP 404/));
  test('redirects are followed up to the limit', async () => {
    const { body } = await gql(open.url, SIM, { images: [{ url: `${filesUrl}/redirect/2` }], captions: ['x'] });
    assert.equal(body.errors, undefined, JSON.stringify(body.errors));
    await expectCode(open, { images: [{ url: `${filesUrl}/redirect/5` }], captions: ['x'] }, 'FETCH_FAILED', /too many redirects/);
  });
  test('a trusted host redirecting to a private address is refused', () => expectCode(service, { images: [{ url: `${filesUrl.replace('127.0.0.1', 'localhost')}/to-private` }], captions: ['x'] }, 'FETCH_FAILED', /169\.254\.169\.254/));
  test('a server that trickles bytes is cut off at the deadline', () => expectCode(open, { images: [{ url: `${filesUrl}/trickle` }], captions: ['x'] }, 'FETCH_FAILED', /longer than 1500 ms/));
  test('a body that never ends is cut off at the size cap', () => expectCode(open, { images: [{ url: `${filesUrl}/endless` }], captions: ['x'] }, 'IMAGE_TOO_LARGE', /300000 bytes/));
});

describe('HTTP level', () => {
  test('invalid JSON body gets 400', async () => {
    const res = await fetch(`${service.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query": ' });
    assert.equal(res.status, 400);
    assert.equal((await res.json()).errors[0].extensions.code, 'BAD_REQUEST');
  });
  test('a body over the limit gets 413', async () => {
    const res = await fetch(`${service.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ models { name } }', pad: 'x'.repeat(2_100_000) }) });
    assert.equal(res.status, 413);
  });
  test('GET without a preflight header is refused (CSRF prevention)', async () => {
    const res = await fetch(`${service.url}/graphql?query=${encodeURIComponent('{ models { name } }')}`);
    assert.equal(res.status, 400);
  });
  test('health endpoints', async () => {
    assert.equal((await fetch(`${service.url}/healthz`)).status, 200);
    assert.equal((await fetch(`${service.url}/healthz/live`)).status, 200);
    assert.equal((await fetch(`${service.url}/healthz/ready`)).status, 200);
  });
});
