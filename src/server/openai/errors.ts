/**
 * OpenAI's error object, with clipql's code inside:
 *   { "error": { "message", "type", "param", "code" } }
 * `code` is clipql's error code (errors.ts, the public contract); `param` the input it came from
 * (`input[2]`, `model`), or null; `type` OpenAI's category for the status. Unknown errors are
 * masked as `internal error`, as in GraphQL.
 */
import { ClipqlError, ErrorCode } from '../../errors';
import { statusOf } from '../http-head';

export interface OpenAIErrorBody {
  readonly error: { readonly message: string; readonly type: string; readonly param: string | null; readonly code: string };
}

function typeOf(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

export function openAIError(e: unknown): { status: number; body: OpenAIErrorBody } {
  if (!(e instanceof ClipqlError)) return { status: 500, body: { error: { message: 'internal error', type: 'server_error', param: null, code: ErrorCode.INTERNAL_SERVER_ERROR } } };
  const status = statusOf(e.code);
  const param = typeof e.details.argument === 'string' ? e.details.argument : null;
  return { status, body: { error: { message: e.message, type: typeOf(status), param, code: e.code } } };
}
