/**
 * Bounds and checks on everything a client hands the collection store, as small pure functions.
 * Each failure is a ClipqlError that says the rule, what was received and what is allowed, with
 * `argument` naming the input. The store calls them too (it never trusts the schema layer alone).
 */
import { ClipqlError, ErrorCode } from '../errors';

export const STORE_LIMITS = {
  /** Collection names: a letter or digit, then letters, digits, _ . - ; at most this long. */
  maxNameLength: 64,
  /** Item ids: 1..this many characters, no control characters. */
  maxIdLength: 256,
  /** Metadata of one item, as compact JSON text (UTF-8 bytes). */
  maxMetadataBytes: 8 * 1024,
  /** A search filter, as compact JSON text. */
  maxFilterBytes: 2 * 1024,
  /** Hits per page. */
  maxK: 100,
  /** How deep pagination may go (offset + k). HNSW results past this are not worth reading. */
  maxDepth: 1000,
  /** Ids in one deleteItems call. */
  maxDeleteIds: 1000,
  /** Rows of one itemDigests page. */
  maxDigestPage: 10_000,
  /** Stored thumbnail bytes per item. */
  maxThumbnailBytes: 32 * 1024,
} as const;

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
// C0 and C1 controls, and unpaired surrogates (they do not survive UTF-8).
const BAD_ID_CHARS = /[\u0000-\u001f\u007f-\u009f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function bad(argument: string, message: string, code: ErrorCode = ErrorCode.BAD_USER_INPUT, limit?: number): ClipqlError {
  return new ClipqlError(code, `${argument}: ${message}`, { details: { argument, ...(limit === undefined ? {} : { limit }) } });
}

export function checkCollectionName(name: string, argument = 'collection'): string {
  if (typeof name !== 'string' || name.length === 0 || name.length > STORE_LIMITS.maxNameLength || !NAME.test(name)) {
    throw bad(argument, `collection names are 1 to ${STORE_LIMITS.maxNameLength} characters of A-Z a-z 0-9 _ . - starting with a letter or digit; got ${JSON.stringify(String(name).slice(0, 80))}`, ErrorCode.BAD_USER_INPUT, STORE_LIMITS.maxNameLength);
  }
  return name;
}

export function checkItemId(id: string, argument: string): string {
  if (typeof id !== 'string' || id.length === 0 || id.length > STORE_LIMITS.maxIdLength || BAD_ID_CHARS.test(id)) {
    throw bad(argument, `ids are 1 to ${STORE_LIMITS.maxIdLength} characters without control characters; got ${typeof id === 'string' ? `${id.length} characters` : typeof id}`, ErrorCode.BAD_USER_INPUT, STORE_LIMITS.maxIdLength);
  }
  return id;
}

/** Ids of one call: each valid, none repeated. */
export function checkItemIds(ids: readonly string[], argument = 'ids', max?: number): void {
  if (ids.length === 0) throw bad(argument, 'at least one id is required');
  if (max !== undefined && ids.length > max) throw bad(argument, `${ids.length} ids given, at most ${max} are allowed per call`, ErrorCode.TOO_MANY_INPUTS, max);
  const seen = new Set<string>();
  ids.forEach((id, i) => {
    checkItemId(id, `${argument}[${i}]`);
    if (seen.has(id)) throw bad(`${argument}[${i}]`, `id ${JSON.stringify(id.slice(0, 80))} is given twice`);
    seen.add(id);
  });
}

/**
 * Metadata: any JSON value but null, at most maxMetadataBytes as compact JSON. Returns that text
 * (what the store saves), or null for no metadata.
 */
export function metadataText(value: unknown, argument: string): string | null {
  if (value === null || value === undefined) return null;
  const text = JSON.stringify(value);
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > STORE_LIMITS.maxMetadataBytes) {
    throw bad(argument, `metadata is ${bytes} bytes of JSON, at most ${STORE_LIMITS.maxMetadataBytes} are allowed`, ErrorCode.METADATA_TOO_LARGE, STORE_LIMITS.maxMetadataBytes);
  }
  return text;
}

/** A search filter: a JSON object that matching items' metadata contains (jsonb @>). */
export function filterText(value: unknown, argument = 'filter'): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'object' || Array.isArray(value)) throw bad(argument, `a filter is a JSON object whose keys and values the metadata must contain; got ${Array.isArray(value) ? 'an array' : typeof value}`);
  const text = JSON.stringify(value);
  if (Buffer.byteLength(text, 'utf8') > STORE_LIMITS.maxFilterBytes) {
    throw bad(argument, `the filter is larger than ${STORE_LIMITS.maxFilterBytes} bytes of JSON`, ErrorCode.METADATA_TOO_LARGE, STORE_LIMITS.maxFilterBytes);
  }
  return text;
}

/** itemDigests' `first`: 1 to maxDigestPage. */
export function checkDigestPage(first: number, argument = 'first'): number {
  if (!Number.isInteger(first) || first < 1 || first > STORE_LIMITS.maxDigestPage) throw bad(argument, `first must be an integer from 1 to ${STORE_LIMITS.maxDigestPage}; got ${first}`, ErrorCode.BAD_USER_INPUT, STORE_LIMITS.maxDigestPage);
  return first;
}

export function checkK(k: number, argument = 'k'): number {
  if (!Number.isInteger(k) || k < 1 || k > STORE_LIMITS.maxK) throw bad(argument, `k must be an integer from 1 to ${STORE_LIMITS.maxK}; got ${k}`, ErrorCode.BAD_USER_INPUT, STORE_LIMITS.maxK);
  return k;
}

/** hnsw.ef_search for one search: at least k + offset (the store raises it to that), at most this. */
export const MAX_EF_SEARCH = 1000;

export function checkEf(ef: number, argument = 'ef'): number {
  if (!Number.isInteger(ef) || ef < 1 || ef > MAX_EF_SEARCH) throw bad(argument, `ef must be an integer from 1 to ${MAX_EF_SEARCH}; got ${ef}`, ErrorCode.BAD_USER_INPUT, MAX_EF_SEARCH);
  return ef;
}

/** HNSW build parameters of a new collection, in pgvector's ranges (and its rule ef_construction >= 2 m). */
export function checkHnsw(m: number, efConstruction: number): { m: number; efConstruction: number } {
  if (!Number.isInteger(m) || m < 2 || m > 100) throw bad('m', `m must be an integer from 2 to 100; got ${m}`);
  if (!Number.isInteger(efConstruction) || efConstruction < 4 || efConstruction > 1000) throw bad('efConstruction', `efConstruction must be an integer from 4 to 1000; got ${efConstruction}`);
  if (efConstruction < 2 * m) throw bad('efConstruction', `efConstruction must be at least 2 m (${2 * m}); got ${efConstruction}`);
  return { m, efConstruction };
}

export function checkDepth(offset: number, k: number, argument = 'after'): void {
  if (offset + k > STORE_LIMITS.maxDepth) throw bad(argument, `pagination reaches at most the first ${STORE_LIMITS.maxDepth} hits; this page would end at ${offset + k}`, ErrorCode.BAD_USER_INPUT, STORE_LIMITS.maxDepth);
}
