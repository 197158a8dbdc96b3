/**
 * What server/http.ts does before a request reaches GraphQL or /v1: the access gate (API keys,
 * request tokens, scopes: access/access.ts) and, for /graphql, trusted documents
 * (access/trusted-documents.ts) applied to each transport's form of a request (JSON, multipart
 * operations, GET parameters). Refusals are answered here, in the surface's error shape. GraphQL's
 * scopes need the parsed operation, so they are checked by `scopePlugin`, in Apollo after parsing
 * and validation and before execution.
 */
import type http from 'node:http';
import type { ApolloServerPlugin } from '@apollo/server';
import type { Access, Caller } from '../access/access';
import type { TrustedDocuments } from '../access/trusted-documents';
import { ClipqlError } from '../errors';
import type { RequestContext } from '../schema/context';
import { toGraphQLError } from '../schema/errors';
import { operationNeeds } from '../schema/field-scopes';
import { headersOf, statusOf } from './http-head';
import { send } from './http-io';
import { openAIError } from './openai/errors';

export type Surface = 'graphql' | 'openai' | 'metrics';

/** The route's error shape: GraphQL's `errors`, OpenAI's `error` object, or plain JSON. */
export function sendError(res: http.ServerResponse, surface: Surface, e: ClipqlError, extra: Record<string, string> = {}): void {
  const headers = { ...headersOf(e), ...extra };
  if (surface === 'openai') send(res, statusOf(e.code), openAIError(e).body, headers);
  else if (surface === 'graphql') send(res, statusOf(e.code), { errors: [{ message: e.message, extensions: { ...e.details, code: e.code } }] }, headers);
  else send(res, statusOf(e.code), { error: e.message, code: e.code }, headers);
}

/**
 * The access gate: the caller of a /graphql or /v1 request (a request token spent), or undefined
 * without API keys; null when the request was refused (and answered).
 */
export function gate(req: http.IncomingMessage, res: http.ServerResponse, surface: Surface, access: Access | undefined): Caller | undefined | null {
  if (!access) return undefined;
  try {
    if (surface === 'metrics') {
      if (access.options.metricsNeedKey) access.authorizeMetrics(req.headers.authorization);
      return undefined;
    }
    const caller = access.admit(req.headers.authorization);
    if (surface === 'openai') caller.authorize([{ action: 'read', what: `${req.method} ${req.url?.split('?')[0]}` }]);
    return caller;
  } catch (e) {
    if (!(e instanceof ClipqlError)) throw e;
    req.resume(); // the body is not read: drop it
    sendError(res, surface, e);
    return null;
  }
}

/**
 * Apollo plugin: an operation whose root fields need an action or a collection the caller's key
 * lacks (schema/field-scopes.ts) is refused whole, FORBIDDEN with HTTP 403, before any field
 * runs. Without API keys there is no caller and nothing to check.
 */
export function scopePlugin(): ApolloServerPlugin<RequestContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation(rc) {
          const caller = rc.contextValue.caller;
          if (!caller || !rc.operation) return;
          try {
            caller.authorize(operationNeeds(rc.document, rc.operation, rc.request.variables));
          } catch (e) {
            throw toGraphQLError(e);
          }
        },
      };
    },
  };
}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/** A POST body (JSON or multipart operations, one request or a batch) with its trusted document in `query`. */
export function trustedBody(body: unknown, trusted: TrustedDocuments): unknown {
  if (Array.isArray(body)) return body.map((b) => (isObject(b) ? trusted.resolve(b) : b));
  return isObject(body) ? trusted.resolve(body) : body;
}

/** GET: the same for the query string (`documentId`, `query`, `extensions` as JSON). */
export function trustedSearch(search: string, trusted: TrustedDocuments): string {
  const params = new URLSearchParams(search);
  const request: Record<string, unknown> = {};
  for (const name of ['query', 'documentId'] as const) if (params.has(name)) request[name] = params.get(name);
  if (params.has('extensions')) {
    try {
      request.extensions = JSON.parse(params.get('extensions')!);
    } catch {
      return search; // Apollo refuses it as malformed
    }
  }
  const resolved = trusted.resolve(request);
  params.delete('documentId');
  if (typeof resolved.query === 'string') params.set('query', resolved.query);
  if (isObject(resolved.extensions) && Object.keys(resolved.extensions).length > 0) params.set('extensions', JSON.stringify(resolved.extensions));
  else params.delete('extensions');
  return `?${params.toString()}`;
}
