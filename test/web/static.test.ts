/** src/server/static.ts over real HTTP, with a page built by web/build.ts into a temporary folder. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { staticRoute } from '../../src/server/static';
import { buildWeb, type WebBuild } from '../../web/build';

let built: WebBuild;
let server: http.Server;
let base: string;

before(async () => {
  built = await buildWeb(mkdtempSync(path.join(os.tmpdir(), 'clipql-web-')));
  const route = staticRoute({ dir: built.outDir });
  server = http.createServer(async (req, res) => {
    if (!(await route(req, res))) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error":"not mine"}');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  await new Promise((resolve) => server.close(resolve));
  rmSync(built.outDir, { recursive: true, force: true });
});

/** Raw GET (fetch would decompress and hide content-encoding). */
function get(pathname: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}${pathname}`, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('static route', () => {
  it('serves index.html at / with no-cache, an ETag and a strict CSP', async () => {
    const r = await get('/');
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(r.headers['cache-control'], 'no-cache');
    assert.equal(r.headers['x-content-type-options'], 'nosniff');
    assert.match(String(r.headers['content-security-policy']), /default-src 'none'; script-src 'self'; style-src 'self'.*connect-src 'self'/);
    assert.match(String(r.headers.etag), /^"[\w-]{27}"$/);
    const html = r.body.toString('utf8');
    assert.ok(html.includes(`<script src="/assets/${built.script}" defer></script>`));
    assert.ok(html.includes(`<link rel="stylesheet" href="/assets/${built.style}">`));
    assert.doesNotMatch(html, /https?:\/\/(?!example\.com)/, 'no external (CDN) references');
    const again = await get('/', { 'if-none-match': String(r.headers.etag) });
    assert.equal(again.status, 304);
    assert.equal(again.body.length, 0);
    assert.equal((await get('/index.html')).status, 200);
  });

  it('serves hashed assets as immutable with their content types, gzipped when accepted', async () => {
    const js = await get(`/assets/${built.script}`);
    assert.equal(js.status, 200);
    assert.equal(js.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.equal(js.headers['cache-control'], 'public, max-age=31536000, immutable');
    const css = await get(`/assets/${built.style}`);
    assert.equal(css.headers['content-type'], 'text/css; charset=utf-8');
    const map = await get(`/assets/${built.script}.map`);
    assert.equal(map.headers['content-type'], 'application/json; charset=utf-8');
    const gz = await get(`/assets/${built.script}`, { 'accept-encoding': 'gzip, deflate' });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.equal(gz.headers.vary, 'Accept-Encoding');
    assert.deepEqual(gunzipSync(gz.body), js.body);
    assert.ok(gz.body.length < js.body.length);
    const head = await get(`/assets/${built.script}`, {}, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], String(js.body.length));
    assert.equal(head.body.length, 0);
  });

  it('answers 404 for unknown assets and traversal attempts, 405 for other methods', async () => {
    for (const p of ['/assets/nope.js', '/assets/%2e%2e%2findex.html', '/assets/', `/assets/${built.script}/x`, '/assets/%E0%A4%A']) {
      const r = await get(p);
      assert.equal(r.status, 404, p);
      assert.equal(r.headers['content-type'], 'text/plain; charset=utf-8', p);
    }
    const post = await get('/', {}, 'POST');
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, 'GET, HEAD');
  });

  it('leaves other paths to the next route', async () => {
    const r = await get('/graphql');
    assert.equal(r.status, 404);
    assert.equal(r.body.toString(), '{"error":"not mine"}');
  });

  it('says how to build the page when it is missing', async () => {
    const route = staticRoute({ dir: path.join(os.tmpdir(), 'clipql-no-such-dir') });
    const s = http.createServer((req, res) => void route(req, res));
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    try {
      const res = await fetch(`http://127.0.0.1:${(s.address() as AddressInfo).port}/`);
      assert.equal(res.status, 404);
      assert.match(await res.text(), /npm run build:web/);
    } finally {
      await new Promise((resolve) => s.close(resolve));
    }
  });
});
