/**
 * ClipqlError → GraphQLError. The code goes to `extensions.code` (the public contract, see
 * errors.ts), details to `extensions`, OVERLOADED and RATE_LIMITED set HTTP 429 and FORBIDDEN 403 through Apollo's
 * `extensions.http`. Unknown errors are masked by formatError (server/apollo.ts) outside
 * development mode.
 */
import { HeaderMap } from '@apollo/server';
import { GraphQLError } from 'graphql';
import type { MiddlewareFn } from 'type-graphql';
import { ClipqlError, ErrorCode } from '../errors';

const HTTP_STATUS: Partial<Record<ErrorCode, number>> = { OVERLOADED: 429, RATE_LIMITED: 429, FORBIDDEN: 403 };

export function toGraphQLError(e: unknown): unknown {
  if (!(e instanceof ClipqlError)) return e;
  const status = HTTP_STATUS[e.code];
  const headers = e.code === ErrorCode.RATE_LIMITED ? new HeaderMap([['retry-after', String(e.details.retryAfter ?? 1)]]) : undefined;
  return new GraphQLError(e.message, {
    originalError: e,
    extensions: { ...e.details, code: e.code, ...(status ? { http: { status, ...(headers ? { headers } : {}) } } : {}) },
  });
}

/** type-graphql global middleware: every resolver's ClipqlError leaves as a coded GraphQLError. */
export const ErrorMiddleware: MiddlewareFn = async (_action, next) => {
  try {
    return await next();
  } catch (e) {
    throw toGraphQLError(e);
  }
};
