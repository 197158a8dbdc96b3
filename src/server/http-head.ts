/**
 * HTTP status and headers for clipql's error codes, where a surface answers an error by itself
 * (the access gate, trusted documents, /v1). GraphQL resolver errors keep GraphQL's convention
 * (HTTP 200 with `errors`, except OVERLOADED and RATE_LIMITED: schema/errors.ts).
 */
import { ErrorCode, type ClipqlError } from '../errors';

const STATUS: Partial<Record<ErrorCode, number>> = {
  BAD_USER_INPUT: 400,
  BAD_IMAGE: 400,
  UNSUPPORTED_FORMAT: 400,
  TOO_MANY_INPUTS: 400,
  FETCH_FAILED: 400,
  PERSISTED_QUERY_NOT_FOUND: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  FORBIDDEN_DOCUMENT: 403,
  MODEL_NOT_FOUND: 404,
  IMAGE_TOO_LARGE: 413,
  OVERLOADED: 429,
  RATE_LIMITED: 429,
  BACKEND_UNAVAILABLE: 503,
  TIMEOUT: 504,
};

export function statusOf(code: ErrorCode): number {
  return STATUS[code] ?? 500;
}

/**
 * RFC 6750: a 401 names the scheme it wants; RFC 9110: a 429 says when to come back (whole
 * seconds; OVERLOADED, a full queue, has no better answer than "soon").
 */
export function headersOf(e: ClipqlError): Record<string, string> {
  if (e.code === ErrorCode.UNAUTHENTICATED) return { 'www-authenticate': 'Bearer realm="clipql"' };
  if (e.code === ErrorCode.RATE_LIMITED) return { 'retry-after': String(e.details.retryAfter ?? 1) };
  if (e.code === ErrorCode.OVERLOADED) return { 'retry-after': '1' };
  return {};
}
