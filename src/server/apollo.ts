/**
 * The Apollo Server instance: schema, limits, error masking and lifecycle plugins. Transport-free:
 * http.ts feeds it requests through executeHTTPGraphQLRequest.
 */
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { ErrorCode, isClipqlError } from '../errors';
import type { Limits } from '../input/limits';
import { buildClipSchema } from '../schema/build';
import type { RequestContext } from '../schema/context';
import { costLimitRule } from '../schema/validation';

/** Codes whose messages are safe to show: ours, and Apollo's request-level ones. */
const PUBLIC_CODES = new Set<string>([...Object.values(ErrorCode), 'GRAPHQL_PARSE_FAILED', 'GRAPHQL_VALIDATION_FAILED', 'BAD_REQUEST', 'PERSISTED_QUERY_NOT_FOUND', 'PERSISTED_QUERY_NOT_SUPPORTED', 'OPERATION_RESOLUTION_FAILURE']);

export interface ApolloOptions {
  readonly limits: Limits;
  /** Show unknown errors' messages and stack traces (NODE_ENV=development). */
  readonly development: boolean;
  readonly plugins?: ApolloServerPlugin<RequestContext>[];
  readonly onUnexpectedError?: (error: unknown) => void;
  /**
   * Trusted documents are on (CLIP_TRUSTED_DOCUMENTS): Apollo's automatic persisted queries are
   * turned off, since they would let any client register any document under its hash. The HTTP
   * layer has already replaced every trusted id or hash by its document (server/http.ts).
   */
  readonly trustedDocuments?: boolean;
}

export function createApollo(options: ApolloOptions): ApolloServer<RequestContext> {
  return new ApolloServer<RequestContext>({
    schema: buildClipSchema(),
    validationRules: [costLimitRule(options.limits.maxQueryDepth, options.limits.maxFields)],
    includeStacktraceInErrorResponses: options.development,
    csrfPrevention: true,
    // Our own SIGTERM handler drains HTTP first (server/main.ts); Apollo's would stop the schema
    // under in-flight requests and re-raise the signal.
    stopOnTerminationSignals: false,
    introspection: true,
    ...(options.trustedDocuments ? { persistedQueries: false as const } : {}),
    plugins: [ApolloServerPluginLandingPageDisabled(), ...(options.plugins ?? [])],
    formatError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
      const code = String(formatted.extensions?.code ?? ErrorCode.INTERNAL_SERVER_ERROR);
      const original = error instanceof GraphQLError ? error.originalError : error;
      const known = PUBLIC_CODES.has(code) && (original === undefined || isClipqlError(original) || original instanceof GraphQLError || code !== ErrorCode.INTERNAL_SERVER_ERROR);
      if (known || options.development) return formatted;
      options.onUnexpectedError?.(error);
      return { message: 'internal error', locations: formatted.locations, path: formatted.path, extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR } };
    },
  });
}
