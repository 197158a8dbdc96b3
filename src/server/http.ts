/**
 * The HTTP transport: a plain node:http server (no framework) with
 *   POST/GET /graphql     GraphQL (Apollo's executeHTTPGraphQLRequest); POST as JSON, or as a
 *                         multipart upload (input/upload.ts)
 *   GET /healthz          200 once the model is loaded and the default backend started, else 503
 *   GET /healthz/live     200 while the process serves HTTP
 *   GET /healthz/ready    like /healthz, and each model's default backend answers its health check
 *   POST /v1/embeddings, GET /v1/models   OpenAI's API (openai/route.ts)
 *   GET /                 the web page (static assets, when built)
 * Bounded: body size (413), header and whole-request timeouts (slow clients, 408). The lifecycle
 * (lifecycle.ts) decides the rest: while starting, GraphQL and /v1 answer 503 (the model is still
 * loading); from the drain on, every new request gets 503 and in-flight ones finish.
 * With API keys (`access`), /graphql and /v1/* need a key and spend a request token before their
 * body is read, /metrics needs one when configured; /healthz* and the page stay open. With trusted
 * documents (`trusted`), /graphql runs only the manifest's operations (access/trusted-documents.ts).
 */
import http from 'node:http';
import type { ApolloServer } from '@apollo/server';
import { HeaderMap } from '@apollo/server';
import type { Access, Caller } from '../access/access';
import type { TrustedDocuments } from '../access/trusted-documents';
import { gate, sendError, trustedBody, trustedSearch } from './gate';
import { ClipqlError, ErrorCode } from '../errors';
import type { Limits } from '../input/limits';
import { parseGraphQLMultipart } from '../input/upload';
import { createContext, type RequestContext } from '../schema/context';
import type { ServedModels } from '../served-models';
import { bodyText, declaredTooLarge, readBody, requestSignal, send } from './http-io';
import type { Lifecycle } from './lifecycle';
import { handleOpenAI } from './openai/route';
import type { CollectionStore } from '../store/store';

export interface HttpOptions {
  /** The Apollo instance, looked up per request: it is made after this server, whose drain plugin needs the server. */
  readonly apollo: () => ApolloServer<RequestContext>;
  /** The models GraphQL and /v1 serve, the default first. */
  readonly models: ServedModels;
  readonly limits: Limits;
  /** The service's state (lifecycle.ts): /healthz is 200 when ready; GraphQL waits for ready; all is refused from the drain on. */
  readonly lifecycle: Lifecycle;
  /** The collection store (opened on first use); without it collection operations fail with STORE_UNAVAILABLE. */
  readonly store?: () => Promise<CollectionStore>;
  /** Extra routes (static page, metrics); return true when handled. */
  readonly routes?: Array<(req: http.IncomingMessage, res: http.ServerResponse) => boolean | Promise<boolean>>;
  readonly onError?: (error: unknown) => void;
  /** Debug hook: called when a GraphQL request's body has been read and execution starts. */
  readonly onGraphQLRequest?: () => void;
  /** Time a client has to send its headers (CLIP_HTTP_HEADERS_TIMEOUT_MS, default 10 s). */
  readonly headersTimeoutMs?: number;
  /** Time a client has to send its whole request, body included (CLIP_HTTP_RECEIVE_TIMEOUT_MS, default 60 s). */
  readonly receiveTimeoutMs?: number;
  /** API keys and rate limits (CLIP_API_KEYS_FILE); absent: every route is open. */
  readonly access?: Access;
  /** The trusted-documents manifest (CLIP_TRUSTED_DOCUMENTS); absent: any document runs. */
  readonly trusted?: TrustedDocuments;
  /** Counts /v1 answers by route and outcome. */
  readonly onOpenAIAnswer?: (route: string, outcome: string) => void;
}

export function createHttpServer(options: HttpOptions): http.Server {
  const headersTimeout = options.headersTimeoutMs ?? 10_000;
  // Slow clients (slowloris): headers within headersTimeout, the whole request (a body sent a byte
  // at a time included) within receiveTimeout, else 408 and the socket is closed. Node checks these
  // every connectionsCheckingInterval (30 s by default, which would let a slow client hold its
  // socket up to 30 s past its limit), so it checks every second here.
  const requestTimeout = Math.max(options.receiveTimeoutMs ?? 60_000, headersTimeout);
  const resolved: Resolved = { ...options, created: Math.floor(Date.now() / 1000) };
  const server = http.createServer({ headersTimeout, requestTimeout, connectionsCheckingInterval: Math.min(1000, headersTimeout) }, (req, res) => {
    handle(req, res, resolved).catch((e: unknown) => {
      options.onError?.(e);
      if (!res.headersSent) send(res, 500, { error: 'internal error' });
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5_000;
  return server;
}

/** The options with what createHttpServer derives once. */
interface Resolved extends HttpOptions {
  /** Unix seconds of the server's creation: /v1/models's `created`. */
  readonly created: number;
}

async function handle(req: http.IncomingMessage, res: http.ServerResponse, o: Resolved): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (o.lifecycle.refusing) {
    send(res, 503, { error: 'shutting down' }, { connection: 'close' });
    return;
  }
  const starting = o.lifecycle.state === 'starting';
  switch (url.pathname) {
    case '/healthz/live':
      send(res, 200, { status: 'live' });
      return;
    case '/healthz':
      send(res, o.lifecycle.ready ? 200 : 503, { status: o.lifecycle.ready ? 'ready' : 'loading' });
      return;
    case '/healthz/ready': {
      let ok = o.lifecycle.ready;
      let error: string | undefined;
      if (ok) {
        try {
          // Every served model's default backend: one that cannot answer makes the server not ready.
          for (const m of o.models.list()) await (await m.pipeline.embedder()).backend.health();
        } catch (e) {
          ok = false;
          error = (e as Error).message;
        }
      }
      send(res, ok ? 200 : 503, { status: ok ? 'ready' : 'not ready', error });
      return;
    }
    case '/graphql': {
      if (starting) return loading(res);
      const caller = gate(req, res, 'graphql', o.access);
      if (caller !== null) await graphql(req, res, o, caller, url.search);
      return;
    }
  }
  if (url.pathname === '/v1' || url.pathname.startsWith('/v1/')) {
    if (starting) return loading(res);
    const caller = gate(req, res, 'openai', o.access);
    if (caller !== null) await handleOpenAI(req, res, url.pathname, { models: o.models, limits: o.limits, created: o.created, onError: o.onError, onAnswer: o.onOpenAIAnswer }, caller);
    return;
  }
  if (url.pathname === '/metrics' && gate(req, res, 'metrics', o.access) === null) return;
  for (const route of o.routes ?? []) if (await route(req, res)) return;
  send(res, 404, { error: `no route for ${req.method} ${url.pathname}` });
}

/** 503 while the model loads; clients retry (Retry-After), load balancers wait for /healthz. */
function loading(res: http.ServerResponse): void {
  send(res, 503, { error: 'starting: the model is loading' }, { 'retry-after': '1' });
}

async function graphql(req: http.IncomingMessage, res: http.ServerResponse, o: Resolved, caller: Caller | undefined, query: string): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'POST') {
    send(res, 405, { error: 'use GET or POST' }, { allow: 'GET, POST' });
    return;
  }
  let body: unknown;
  let search = query;
  if (req.method === 'POST') {
    if (declaredTooLarge(req, o.limits.maxBodyBytes)) {
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
  if (o.trusted) {
    try {
      if (req.method === 'POST') body = trustedBody(body, o.trusted);
      else search = trustedSearch(search, o.trusted);
    } catch (e) {
      if (!(e instanceof ClipqlError)) throw e;
      sendError(res, 'graphql', e);
      return;
    }
  }
  const headers = new HeaderMap();
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(', ') : v);
  const signal = requestSignal(res);
  o.onGraphQLRequest?.();
  const result = await o.apollo().executeHTTPGraphQLRequest({
    httpGraphQLRequest: { method: req.method, headers, search, body },
    context: async () => createContext(o.models, o.limits, signal, caller, o.store),
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

function tooLarge(limit: number) {
  return { errors: [{ message: `the request body is larger than the limit of ${limit} bytes`, extensions: { code: 'IMAGE_TOO_LARGE', limit } }] };
}
