/**
 * The error codes clipql answers with. They are the public contract: every failure a client can
 * see carries one of them in `extensions.code` (GraphQL) or in the CLI's message. Internal code
 * throws `ClipqlError`; the schema layer turns it into a GraphQLError with the same code.
 */
export const ErrorCode = {
  /** The request itself is malformed (wrong argument combination, empty lists, bad values). */
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  /** Bytes that are not a decodable image: corrupt, truncated, zero-length, not an image. */
  BAD_IMAGE: 'BAD_IMAGE',
  /** A real image in a format clipql does not accept (e.g. SVG, PDF). */
  UNSUPPORTED_FORMAT: 'UNSUPPORTED_FORMAT',
  /** Too many bytes, or too many decoded pixels (decompression bombs). */
  IMAGE_TOO_LARGE: 'IMAGE_TOO_LARGE',
  /** More images or captions in one request than allowed, or a caption too long. */
  TOO_MANY_INPUTS: 'TOO_MANY_INPUTS',
  /** A URL input could not be fetched (refused address, timeout, HTTP error, too large). */
  FETCH_FAILED: 'FETCH_FAILED',
  /** A setting has a bad value (start-up only: the server and CLIs exit with status 2; config/config.ts). */
  BAD_CONFIG: 'BAD_CONFIG',
  /** A model bundle on disk is incomplete or inconsistent. */
  BAD_MODEL: 'BAD_MODEL',
  /** The backend asked for is unknown, failed to start, or its worker died. */
  BACKEND_UNAVAILABLE: 'BACKEND_UNAVAILABLE',
  /** The batch queue is full; try again later (HTTP 429). */
  OVERLOADED: 'OVERLOADED',
  /** The request's deadline passed before its work was done. */
  TIMEOUT: 'TIMEOUT',
  /** No API key, or one that is not in CLIP_API_KEYS_FILE (HTTP 401 with `WWW-Authenticate: Bearer`). */
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  /** The API key's requests or images per minute are spent (HTTP 429 with `Retry-After` in seconds). */
  RATE_LIMITED: 'RATE_LIMITED',
  /** API keys: the key lacks an action or a collection the request needs (HTTP 403); nothing was run. */
  FORBIDDEN: 'FORBIDDEN',
  /** Trusted documents: a `documentId` or persisted-query hash that is not in the manifest (HTTP 400). */
  PERSISTED_QUERY_NOT_FOUND: 'PERSISTED_QUERY_NOT_FOUND',
  /** Trusted documents: a full GraphQL document that is not in the manifest (HTTP 403). */
  FORBIDDEN_DOCUMENT: 'FORBIDDEN_DOCUMENT',
  /** A model name that this server does not serve (HTTP 404 on /v1; the message lists the served ones). */
  MODEL_NOT_FOUND: 'MODEL_NOT_FOUND',
  /** A collection name that the store does not hold (never created, or dropped). */
  COLLECTION_NOT_FOUND: 'COLLECTION_NOT_FOUND',
  /** createCollection with a name the store already holds. */
  COLLECTION_EXISTS: 'COLLECTION_EXISTS',
  /** A collection bound to another model (name or dimension) than the embedding at hand. */
  MODEL_MISMATCH: 'MODEL_MISMATCH',
  /** Item metadata or a search filter larger than allowed. */
  METADATA_TOO_LARGE: 'METADATA_TOO_LARGE',
  /** The collection store cannot be reached or failed (server down, embedded store broken). */
  STORE_UNAVAILABLE: 'STORE_UNAVAILABLE',
  /**
   * Probabilities asked of a model whose files do not say how to make them (a Transformers.js
   * SigLIP folder without onnx/model.onnx: no logit_scale / logit_bias). Its similarities are
   * served; ModelInfo.probabilitiesAvailable is false and ModelInfo.probability says why.
   */
  PROBABILITY_UNAVAILABLE: 'PROBABILITY_UNAVAILABLE',
  /** Anything unexpected; the message is masked outside development mode. */
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** The one error class of the library: a code from `ErrorCode`, a message a user can act on. */
export class ClipqlError extends Error {
  readonly code: ErrorCode;
  /** Extra machine-readable facts (limit, received value, file name...). Never secrets. */
  readonly details: Record<string, unknown>;
  constructor(code: ErrorCode, message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ClipqlError';
    this.code = code;
    this.details = options.details ?? {};
  }
}

export function isClipqlError(e: unknown): e is ClipqlError {
  return e instanceof ClipqlError;
}
