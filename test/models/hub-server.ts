/**
 * A stand-in for the Hugging Face hub and its CDN on 127.0.0.1, for the fetch tests: serves the
 * files of a folder at /{repo}/resolve/{revision}/{path} (and, for "url" sources, at
 * /clip/models/{anything}/{name} → a file given by name), with Range / If-Range support and a set of
 * misbehaviours a test switches on: cut the connection after N bytes, ignore Range, stall, 404,
 * redirect to a second server (the "CDN") with the hub's X-Linked-* headers.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { REPO_ROOT } from '../../src/paths';

export interface SeenRequest {
  readonly server: 'hub' | 'cdn' | 'proxy';
  readonly method: string;
  readonly path: string;
  readonly headers: http.IncomingHttpHeaders;
  status?: number;
}

export interface Behaviour {
  /** First request for these files: send the headers and this many bytes, then drop the connection. */
  cutAfter: Map<string, number>;
  /** Files whose requests never get an answer. */
  stall: Set<string>;
  /** Files that are answered with headers and a few bytes, then nothing. */
  stallAfterHeaders: Set<string>;
  /** Files that are not there (404). */
  missing: Set<string>;
  /** Answer 200 with the whole file to every Range request. */
  ignoreRange: boolean;
  /** Hub answers these files with a 302 to the CDN server (as the hub does for LFS files). */
  redirect: Set<string>;
  /** X-Linked-Etag the hub announces for redirected files (default: the real sha256). */
  linkedSha: Map<string, string>;
}

export const COMMIT = '0123456789abcdef0123456789abcdef01234567';

export class HubServer {
  readonly requests: SeenRequest[] = [];
  readonly behaviour: Behaviour = {
    cutAfter: new Map(),
    stall: new Set(),
    stallAfterHeaders: new Set(),
    missing: new Set(),
    ignoreRange: false,
    redirect: new Set(),
    linkedSha: new Map(),
  };
  private readonly hub: http.Server;
  private readonly cdn: http.Server;
  private readonly sockets = new Set<net.Socket>();
  /** Files already cut once (cutAfter acts on the first request only); `reset` clears it. */
  readonly cut = new Set<string>();
  hubOrigin = '';
  cdnOrigin = '';

  /** `files` maps a served path (as in the bundle) to its bytes. `urlFiles` maps a name to a bundle path. */
  constructor(readonly files: ReadonlyMap<string, Buffer>, readonly urlFiles: ReadonlyMap<string, string> = new Map()) {
    this.hub = http.createServer((req, res) => this.handle('hub', req, res));
    this.cdn = http.createServer((req, res) => this.handle('cdn', req, res));
    for (const s of [this.hub, this.cdn]) s.on('connection', (c) => {
      this.sockets.add(c);
      c.on('close', () => this.sockets.delete(c));
    });
  }

  async start(): Promise<this> {
    this.hubOrigin = await listen(this.hub);
    this.cdnOrigin = await listen(this.cdn);
    return this;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await Promise.all([this.hub, this.cdn].map((s) => new Promise((r) => s.close(r))));
  }

  requestsFor(file: string): SeenRequest[] {
    return this.requests.filter((r) => decodeURIComponent(r.path).endsWith(`/${file}`));
  }

  private handle(server: 'hub' | 'cdn', req: http.IncomingMessage, res: http.ServerResponse): void {
    const seen: SeenRequest = { server, method: req.method ?? '', path: req.url ?? '', headers: req.headers };
    this.requests.push(seen);
    const send = (status: number, headers: Record<string, string | number> = {}, body?: Buffer | string) => {
      seen.status = status;
      res.writeHead(status, headers);
      res.end(body);
    };
    const url = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    let file: string | undefined;
    const hubMatch = /^\/[^/]+\/[^/]+\/resolve\/[^/]+\/(.+)$/.exec(url);
    const urlMatch = /^\/clip\/models\/[^/]+\/([^/]+)$/.exec(url);
    const cdnMatch = /^\/cdn\/(.+)$/.exec(url);
    if (server === 'hub' && hubMatch) file = hubMatch[1];
    else if (server === 'hub' && urlMatch) file = this.urlFiles.get(urlMatch[1]!);
    else if (server === 'cdn' && cdnMatch) file = cdnMatch[1];
    const body = file !== undefined ? this.files.get(file) : undefined;
    if (file === undefined || body === undefined || this.behaviour.missing.has(file)) {
      send(404, { 'content-type': 'text/plain' }, 'Entry not found');
      return;
    }
    if (this.behaviour.stall.has(file)) return; // never answer
    const sha = createHash('sha256').update(body).digest('hex');
    if (server === 'hub' && this.behaviour.redirect.has(file)) {
      send(302, {
        location: `${this.cdnOrigin}/cdn/${file}?X-Signature=abc`,
        'x-repo-commit': COMMIT,
        'x-linked-etag': `"${this.behaviour.linkedSha.get(file) ?? sha}"`,
        'x-linked-size': body.length,
        etag: `"${sha}"`,
      });
      return;
    }
    const etag = `"${sha.slice(0, 40)}"`;
    const base: Record<string, string | number> = { etag, 'accept-ranges': 'bytes', 'content-type': 'application/octet-stream' };
    if (server === 'hub') base['x-repo-commit'] = COMMIT;
    let start = 0;
    let status = 200;
    const range = /^bytes=(\d+)-$/.exec(String(req.headers.range ?? ''));
    const ifRange = req.headers['if-range'];
    if (range && !this.behaviour.ignoreRange && (ifRange === undefined || ifRange === etag)) {
      start = Number(range[1]);
      if (start >= body.length) {
        send(416, { 'content-range': `bytes */${body.length}` });
        return;
      }
      status = 206;
      base['content-range'] = `bytes ${start}-${body.length - 1}/${body.length}`;
    }
    const slice = body.subarray(start);
    seen.status = status;
    res.writeHead(status, { ...base, 'content-length': slice.length });
    const key = `${server}:${file}`;
    const cutAt = this.behaviour.cutAfter.get(file);
    if (cutAt !== undefined && !this.cut.has(key)) {
      this.cut.add(key);
      res.write(slice.subarray(0, cutAt), () => setTimeout(() => res.socket?.destroy(), 100));
      return;
    }
    if (this.behaviour.stallAfterHeaders.has(file)) {
      res.write(slice.subarray(0, 10));
      return;
    }
    res.end(slice);
  }
}

function listen(server: http.Server): Promise<string> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      resolve(`http://127.0.0.1:${port}`);
    });
  });
}

/** A port with nothing listening on it (for "offline"). */
export async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as net.AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

/**
 * A forward proxy that only does CONNECT (what undici's ProxyAgent uses), recording the targets.
 */
export async function connectProxy(): Promise<{ url: string; targets: string[]; close: () => Promise<void> }> {
  const targets: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = http.createServer((_req, res) => {
    res.writeHead(405);
    res.end();
  });
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    targets.push(req.url ?? '');
    sockets.add(client);
    const [host, port] = (req.url ?? '').split(':');
    const upstream = net.connect(Number(port), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  const url = await listen(server);
  return {
    url,
    targets,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

/**
 * The files the fake hub serves: the committed tiny bundle when it is there (its config, its
 * preprocessor config, its ONNX towers and TorchScript file), else stand-ins of similar sizes.
 * Either way the text tower is over 1 MB, so a transfer can be cut in the middle.
 */
export function bundleFiles(): Map<string, Buffer> {
  const tiny = path.join(REPO_ROOT, 'models', 'tiny-clip-336');
  const files = new Map<string, Buffer>();
  if (existsSync(path.join(tiny, 'onnx', 'text_model.onnx')) && statSync(path.join(tiny, 'onnx', 'text_model.onnx')).size > 1_000_000) {
    for (const rel of walk(tiny)) {
      if (rel.endsWith('vocab.json') || rel.endsWith('merges.txt')) continue; // built at test time, not committed
      files.set(rel, readFileSync(path.join(tiny, rel)));
    }
    return files;
  }
  let seed = 1;
  const bytes = (n: number) => {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      b[i] = seed >>> 24;
    }
    return b;
  };
  files.set('config.json', Buffer.from(JSON.stringify({ projection_dim: 32, vision_config: { image_size: 336 }, clipql: { random_weights: true } })));
  files.set('preprocessor_config.json', Buffer.from(JSON.stringify({ crop_size: { height: 336, width: 336 }, size: { shortest_edge: 336 } })));
  files.set('tokenizer_config.json', Buffer.from(JSON.stringify({ model_max_length: 77 })));
  files.set('onnx/vision_model.onnx', bytes(400_000));
  files.set('onnx/text_model.onnx', bytes(1_500_000));
  files.set('torch/model.pt', bytes(600_000));
  return files;
}

function walk(root: string, rel = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(path.join(root, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...walk(root, r));
    else if (e.isFile()) out.push(r);
  }
  return out;
}

import { tempDir } from '../helpers/temp';

export { tempDir };

export const TEST_REPO = 'clipql/tiny-clip-336';
export const TORCH_NAME = 'tiny.pt';

/**
 * Writes a manifest for the served files into a temp folder: model "tiny" (alias "Tiny/336"), hub
 * source for everything but torch/model.pt, which comes from a "url" source as OpenAI's do.
 * `pins` sets size/sha256 of some files; `optional` marks files optional.
 */
export function writeManifest(server: HubServer, options: { pins?: Record<string, { size?: number; sha256?: string }>; optional?: string[]; extra?: string[] } = {}): string {
  const dir = tempDir('clipql-manifest-');
  const files = [...server.files.keys(), ...(options.extra ?? [])].sort().map((p) => ({
    path: p,
    source: p === 'torch/model.pt' ? 'openai' : 'hub',
    ...(p === 'torch/model.pt' && { remote: TORCH_NAME }),
    ...(p.startsWith('onnx/') && { format: 'onnx' }),
    ...(p.startsWith('torch/') && { format: 'torch' }),
    ...(options.optional?.includes(p) && { optional: true }),
    size: options.pins?.[p]?.size ?? null,
    sha256: options.pins?.[p]?.sha256 ?? null,
  }));
  const manifest = {
    version: 1,
    default: 'tiny',
    models: {
      tiny: {
        description: 'the tiny test bundle',
        aliases: ['Tiny/336'],
        sources: { hub: { type: 'hf', repo: TEST_REPO, revision: 'main' }, openai: { type: 'url', base: `${server.hubOrigin}/clip/models/${'ab'.repeat(32)}/` } },
        files,
      },
      other: { sources: { hub: { type: 'hf', repo: 'clipql/other', revision: 'main' } }, files: [{ path: 'config.json', source: 'hub', size: null, sha256: null }] },
    },
  };
  const file = path.join(dir, 'manifest.json');
  writeFileSync(file, `${JSON.stringify(manifest, null, 2)}\n`);
  return file;
}

export function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

export function mkdirp(p: string): void {
  mkdirSync(p, { recursive: true });
}
