/**
 * The HTTP transport: a plain node:http server (no framework) with
 *   POST/GET /graphql     GraphQL (Apollo's executeHTTPGraphQLRequest); POST as JSON, or as a
 *                         multipart upload (input/upload.ts)
 *   GET /healthz          200 once the model is loaded and the default backend started, else 503
 *   GET /healthz/live     200 while the process serves HTTP
 *   GET /healthz/ready    like /healthz, and the backend answers its health check
 *   GET /                 the web page (static assets, when built)
 * Bounded: body size (413), header and whole-request timeouts (slow clients, 408), and a drain
 * mode for graceful shutdown in which new requests get 503 and in-flight ones finish.
 */
import { isAscii } from 'node:buffer';
import { setMaxListeners } from 'node:events';
import http from 'node:http';
import type { ApolloServer } from '@apollo/server';
import { HeaderMap } from '@apollo/server';
import { ClipqlError, ErrorCode } from '../errors';
import type { Limits } from '../input/limits';
import { parseGraphQLMultipart } from '../input/upload';
import type { ClipPipeline } from '../pipeline';
import { createContext, type RequestContext } from '../schema/context';
import type { CollectionStore } from '../store/store';

export interface HttpOptions {
  readonly apollo: ApolloServer<RequestContext>;
  readonly pipeline: ClipPipeline;
  readonly limits: Limits;
  /** The collection store (opened on first use); without it collection operations fail with STORE_UNAVAILABLE. */
  readonly store?: () => Promise<CollectionStore>;
  /** Answers 200 on /healthz once true. */
  readonly isReady: () => boolean;
  readonly isDraining: () => boolean;
  /** Extra routes (static page, metrics); return true when handled. */
  readonly routes?: Array<(req: http.IncomingMessage, res: http.ServerResponse) => boolean | Promise<boolean>>;
  readonly onError?: (error: unknown) => void;
  /** Debug hook: called when a GraphQL request's body has been read and execution starts. */
  readonly onGraphQLRequest?: () => void;
  /** Time a client has to send its headers (CLIP_HTTP_HEADERS_TIMEOUT_MS, default 10 s). */
  readonly headersTimeoutMs?: number;
  /** Time a client has to send its whole request, body included (CLIP_HTTP_RECEIVE_TIMEOUT_MS, default 60 s). */
  readonly receiveTimeoutMs?: number;
}

export function createHttpServer(options: HttpOptions): http.Server {
  const headersTimeout = options.headersTimeoutMs ?? 10_000;
  // Slow clients (slowloris): headers within headersTimeout, the whole request (a body sent a byte
  // at a time included) within receiveTimeout, else 408 and the socket is closed. Node checks these
  // every connectionsCheckingInterval (30 s by default, which would let a slow client hold its
  // socket up to 30 s past its limit), so it checks every second here.
  const requestTimeout = Math.max(options.receiveTimeoutMs ?? 60_000, headersTimeout);
  const server = http.createServer({ headersTimeout, requestTimeout, connectionsCheckingInterval: Math.min(1000, headersTimeout) }, (req, res) => {
    handle(req, res, options).catch((e: unknown) => {
      options.onError?.(e);
      if (!res.headersSent) send(res, 500, { error: 'internal error' });
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5_000;
  return server;
}

function send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

async function handle(req: http.IncomingMessage, res: http.ServerResponse, o: HttpOptions): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (o.isDraining()) {
    send(res, 503, { error: 'shutting down' }, { connection: 'close' });
    return;
  }
  switch (url.pathname) {
    case '/healthz/live':
      send(res, 200, { status: 'live' });
      return;
    case '/healthz':
      send(res, o.isReady() ? 200 : 503, { status: o.isReady() ? 'ready' : 'loading' });
      return;
    case '/healthz/ready': {
      let ok = o.isReady();
      let error: string | undefined;
      if (ok) {
        try {
          await (await o.pipeline.embedder()).backend.health();
        } catch (e) {
          ok = false;
          error = (e as Error).message;
        }
      }
      send(res, ok ? 200 : 503, { status: ok ? 'ready' : 'not ready', error });
      return;
    }
    case '/graphql':
      await graphql(req, res, o);
      return;
  }
  for (const route of o.routes ?? []) if (await route(req, res)) return;
  send(res, 404, { error: `no route for ${req.method} ${url.pathname}` });
}

async function graphql(req: http.IncomingMessage, res: http.ServerResponse, o: HttpOptions): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'POST') {
    send(res, 405, { error: 'use GET or POST' }, { allow: 'GET, POST' });
    return;
  }
  let body: unknown;
  if (req.method === 'POST') {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > o.limits.maxBodyBytes) {
      send(res, 413, tooLarge(o.limits.maxBodyBytes), { connection: 'close' });
      req.resume();
      return;
    }
    const raw = await readBody(req, o.limits.maxBodyBytes);
    if (raw === 'too-large') {
      send(res, 413, tooLarge(o.limits.maxBodyBytes), { connection: 'close' });
      return;
    }
    if (raw === 'aborted') return;
    const type = String(req.headers['content-type'] ?? '');
    if (type.startsWith('application/json') || type.startsWith('application/graphql-response+json')) {
      try {
        body = JSON.parse(bodyText(raw));
      } catch {
        send(res, 400, { errors: [{ message: 'the request body is not valid JSON', extensions: { code: 'BAD_REQUEST' } }] });
        return;
      }
    } else if (type.toLowerCase().startsWith('multipart/form-data')) {
      // Image uploads (input/upload.ts). The content-type goes on to Apollo unchanged: it is a
      // "simple" type, so Apollo's CSRF prevention asks for an apollo-require-preflight (or
      // x-apollo-operation-name) header, as it does for every upload client.
      try {
        body = parseGraphQLMultipart(raw, type, { maxFiles: o.limits.maxImages, maxFileBytes: o.limits.maxImageBytes });
      } catch (e) {
        const err = e instanceof ClipqlError ? e : new ClipqlError(ErrorCode.BAD_USER_INPUT, String(e));
        send(res, err.code === ErrorCode.IMAGE_TOO_LARGE ? 413 : 400, { errors: [{ message: err.message, extensions: { code: err.code, ...err.details } }] });
        return;
      }
    } else {
      body = raw.toString('utf8');
    }
  }
  const headers = new HeaderMap();
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(', ') : v);
  // Aborted when the client goes away before the answer, and once the answer is sent: queued work
  // for this request is then dropped (work that another request also waits for goes on, see
  // batch/embedder.ts). After an answer, what is left is the rest of a request that failed early:
  // GraphQL answers as soon as an error reaches a non-null root, while its other fields still run.
  const gone = new AbortController();
  setMaxListeners(0, gone.signal); // one listener per queued item of this request
  res.on('close', () => gone.abort(new ClipqlError(ErrorCode.TIMEOUT, res.writableFinished ? 'the request has been answered' : 'the client went away')));
  o.onGraphQLRequest?.();
  const result = await o.apollo.executeHTTPGraphQLRequest({
    httpGraphQLRequest: { method: req.method, headers, search: new URL(req.url ?? '/', 'http://localhost').search, body },
    context: async () => createContext(o.pipeline, o.limits, gone.signal, o.store),
  });
  for (const [k, v] of result.headers) res.setHeader(k, v);
  res.statusCode = result.status ?? 200;
  if (result.body.kind === 'complete') {
    res.end(result.body.string);
    return;
  }
  for await (const chunk of result.body.asyncIterator) res.write(chunk);
  res.end();
}

/**
 * The body as a string. GraphQL JSON with base64 images is ASCII: decoding it as latin1 gives the
 * same string about 3 times faster than utf8 (4.7 -> 1.5 ms per MB here), on the event loop.
 */
function bodyText(raw: Buffer): string {
  return isAscii(raw) ? raw.toString('latin1') : raw.toString('utf8');
}

function tooLarge(limit: number) {
  return { errors: [{ message: `the request body is larger than the limit of ${limit} bytes`, extensions: { code: 'IMAGE_TOO_LARGE', limit } }] };
}

function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer | 'too-large' | 'aborted'> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let total = 0;
    req.on('data', (c: Buffer) => {
      total += c.length;
      if (total > limit) {
        resolve('too-large');
        req.removeAllListeners('data');
        req.resume();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('aborted', () => resolve('aborted'));
    req.on('error', () => resolve('aborted'));
  });
}
