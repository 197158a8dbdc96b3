/**
 * The web page's static assets (built by web/build.ts into dist/public): `GET /` answers
 * index.html, `GET /assets/<name>` the bundled scripts and styles.
 *
 * - Only files present in the folder when the route first runs are served, looked up by exact
 *   name in a map: no path is ever joined from the request, so there is no traversal to guard.
 * - Caching: asset names carry a content hash (esbuild's `[name]-[hash]`), so they are
 *   `immutable` for a year; index.html is `no-cache` (revalidated through its ETag, 304).
 * - gzip when the client accepts it (precompressed once, in memory).
 * - `documents: 'id'` (trusted documents on) writes `<meta name="clipql-documents" content="id">`
 *   into index.html's head, so the page sends its operations by hash (web/src/api.ts).
 * - `key` (CLIP_PAGE_KEY_FILE, page-key.ts) writes `<meta name="clipql-key">` and
 *   `<meta name="clipql-actions">`: the page sends that key and hides what it may not do.
 * - index.html is sent with a Content-Security-Policy that allows only this origin's scripts,
 *   styles and GraphQL endpoint (images may also be data:, blob: and http(s) URLs the user adds).
 * - An unknown /assets/ name is a 404; other methods than GET and HEAD on these paths are 405;
 *   anything else is not this route's (returns false).
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { REPO_ROOT } from '../paths';

/** Where `npm run build:web` writes the page (index.html and assets/). */
export const DEFAULT_WEB_DIR = path.join(REPO_ROOT, 'dist', 'public');

export interface StaticOptions {
  /** The built page: index.html and assets/ (default DEFAULT_WEB_DIR). */
  readonly dir?: string;
  /** How the page sends its operations: 'id' when the server runs trusted documents (default 'query'). */
  readonly documents?: 'query' | 'id';
  /** The API key the page sends and its actions (page-key.ts; its characters need no escaping). */
  readonly key?: { readonly key: string; readonly actions: readonly string[] };
}

export type Route = (req: http.IncomingMessage, res: http.ServerResponse) => boolean | Promise<boolean>;

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/** A name with esbuild's content hash before the extension: app-4FJ2KQ7M.js. */
const HASHED = /-[A-Z0-9]{8}\.[a-z0-9]+(\.map)?$/;

export const PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob: http: https:",
  "connect-src 'self'",
  "form-action 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

interface Asset {
  readonly body: Buffer;
  readonly gzip?: Buffer;
  readonly headers: Record<string, string>;
  readonly etag: string;
}

function loadAsset(file: string, cacheControl: string, extra: Record<string, string> = {}, edit?: (text: string) => string): Asset {
  const body = edit ? Buffer.from(edit(readFileSync(file, 'utf8'))) : readFileSync(file);
  const type = CONTENT_TYPES[path.extname(file)] ?? 'application/octet-stream';
  const compressible = /^(text\/|application\/json|image\/svg)/.test(type) && body.length > 512;
  return {
    body,
    gzip: compressible ? gzipSync(body, { level: 9 }) : undefined,
    etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
    headers: { 'content-type': type, 'cache-control': cacheControl, 'x-content-type-options': 'nosniff', ...extra },
  };
}

function loadSite(dir: string, documents: 'query' | 'id', key: StaticOptions['key']): { index?: Asset; assets: Map<string, Asset> } {
  const assets = new Map<string, Asset>();
  const assetDir = path.join(dir, 'assets');
  if (existsSync(assetDir)) {
    for (const name of readdirSync(assetDir)) {
      const file = path.join(assetDir, name);
      if (!statSync(file).isFile()) continue;
      assets.set(name, loadAsset(file, HASHED.test(name) ? 'public, max-age=31536000, immutable' : 'no-cache'));
    }
  }
  const indexFile = path.join(dir, 'index.html');
  const metas = [
    ...(documents === 'id' ? ['<meta name="clipql-documents" content="id">'] : []),
    ...(key ? [`<meta name="clipql-key" content="${key.key}">`, `<meta name="clipql-actions" content="${key.actions.join('+')}">`] : []),
  ];
  const index = existsSync(indexFile)
    ? loadAsset(indexFile, 'no-cache', { 'content-security-policy': PAGE_CSP, 'referrer-policy': 'no-referrer', 'x-frame-options': 'DENY' }, metas.length ? (html) => html.replace('<head>', `<head>\n  ${metas.join('\n  ')}`) : undefined)
    : undefined;
  return { index, assets };
}

function sendAsset(req: http.IncomingMessage, res: http.ServerResponse, asset: Asset): void {
  const headers: Record<string, string> = { ...asset.headers, etag: asset.etag };
  if (asset.gzip) headers.vary = 'Accept-Encoding';
  if (req.headers['if-none-match']?.split(/\s*,\s*/).includes(asset.etag)) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  const gzip = asset.gzip && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
  const body = gzip ? asset.gzip! : asset.body;
  if (gzip) headers['content-encoding'] = 'gzip';
  headers['content-length'] = String(body.length);
  res.writeHead(200, headers);
  res.end(req.method === 'HEAD' ? undefined : body);
}

function sendText(res: http.ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text), 'x-content-type-options': 'nosniff', ...headers });
  res.end(text);
}

/** The route for server/http.ts's `routes`: serves GET / and GET /assets/*. */
export function staticRoute(options: StaticOptions = {}): Route {
  const dir = path.resolve(options.dir ?? DEFAULT_WEB_DIR);
  let site: ReturnType<typeof loadSite> | undefined;
  return (req, res) => {
    const { pathname } = new URL(req.url ?? '/', 'http://localhost');
    const isIndex = pathname === '/' || pathname === '/index.html';
    const isAsset = pathname.startsWith('/assets/');
    if (!isIndex && !isAsset) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendText(res, 405, 'use GET or HEAD\n', { allow: 'GET, HEAD' });
      return true;
    }
    site ??= loadSite(dir, options.documents ?? 'query', options.key);
    if (isIndex) {
      if (site.index) sendAsset(req, res, site.index);
      else sendText(res, 404, `The web page is not built (no ${path.join(dir, 'index.html')}): run \`npm run build:web\`. The GraphQL API is at /graphql.\n`);
      return true;
    }
    let name: string;
    try {
      name = decodeURIComponent(pathname.slice('/assets/'.length));
    } catch {
      name = '';
    }
    const asset = site.assets.get(name);
    if (asset) sendAsset(req, res, asset);
    else sendText(res, 404, 'no such asset\n', { 'cache-control': 'no-store' });
    return true;
  };
}
