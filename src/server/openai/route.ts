/**
 * The OpenAI-compatible routes:
 *   POST /v1/embeddings   embeddings.ts
 *   GET  /v1/models       the served models, as OpenAI lists them
 * Errors in OpenAI's shape (errors.ts). The access gate (API keys, request tokens) has run before
 * (server/http.ts); images are charged in the core path, as for GraphQL.
 */
import type http from 'node:http';
import { ClipqlError, ErrorCode } from '../../errors';
import type { Limits } from '../../input/limits';
import type { ServedModels } from '../../served-models';
import type { Caller } from '../../access/access';
import { createContext } from '../../schema/context';
import { headersOf } from '../http-head';
import { bodyText, declaredTooLarge, readBody, requestSignal, send } from '../http-io';
import { createEmbeddings } from './embeddings';
import { openAIError } from './errors';

export interface OpenAIRouteOptions {
  readonly models: ServedModels;
  readonly limits: Limits;
  /** Unix seconds reported as each model's `created` (the server's start). */
  readonly created: number;
  readonly onError?: (error: unknown) => void;
  /** Counts each answer by route and outcome (ok or the error code). */
  readonly onAnswer?: (route: string, outcome: string) => void;
}

export async function handleOpenAI(req: http.IncomingMessage, res: http.ServerResponse, pathname: string, o: OpenAIRouteOptions, caller?: Caller): Promise<void> {
  const answer = (status: number, body: unknown, headers: Record<string, string> = {}, outcome = 'ok') => {
    o.onAnswer?.(pathname, outcome);
    send(res, status, body, headers);
  };
  const fail = (e: unknown, headers: Record<string, string> = {}) => {
    if (!(e instanceof ClipqlError)) o.onError?.(e);
    const { status, body } = openAIError(e);
    answer(status, body, { ...(e instanceof ClipqlError ? headersOf(e) : {}), ...headers }, body.error.code);
  };
  try {
    if (pathname === '/v1/models') {
      if (req.method !== 'GET') return fail(new ClipqlError(ErrorCode.BAD_USER_INPUT, 'use GET /v1/models'), { allow: 'GET' });
      return answer(200, { object: 'list', data: o.models.list().map((m) => ({ id: m.name, object: 'model', created: o.created, owned_by: 'clipql' })) });
    }
    if (pathname !== '/v1/embeddings') {
      req.resume();
      return answer(404, { error: { message: `no route for ${req.method} ${pathname}: clipql serves POST /v1/embeddings and GET /v1/models`, type: 'invalid_request_error', param: null, code: 'NOT_FOUND' } }, {}, 'NOT_FOUND');
    }
    if (req.method !== 'POST') return fail(new ClipqlError(ErrorCode.BAD_USER_INPUT, 'use POST /v1/embeddings'), { allow: 'POST' });
    const tooLarge = new ClipqlError(ErrorCode.IMAGE_TOO_LARGE, `the request body is larger than the limit of ${o.limits.maxBodyBytes} bytes`, { details: { limit: o.limits.maxBodyBytes } });
    if (declaredTooLarge(req, o.limits.maxBodyBytes)) {
      req.resume();
      return fail(tooLarge, { connection: 'close' });
    }
    const raw = await readBody(req, o.limits.maxBodyBytes);
    if (raw === 'aborted') return;
    if (raw === 'too-large') return fail(tooLarge, { connection: 'close' });
    let body: unknown;
    try {
      body = JSON.parse(bodyText(raw));
    } catch {
      return fail(new ClipqlError(ErrorCode.BAD_USER_INPUT, 'the request body is not valid JSON'));
    }
    const signal = requestSignal(res);
    const result = await createEmbeddings(body, o.models, (model) => createContext(o.models, o.limits, signal, caller).forModel(model.name));
    answer(200, result);
  } catch (e) {
    if (res.headersSent) return;
    fail(e);
  }
}
