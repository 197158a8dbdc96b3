/**
 * Every input limit in one place, read from the environment once at start-up. The defaults suit a
 * public service on a small machine; all are configurable.
 */
import { ClipqlError, ErrorCode } from '../errors';

export interface Limits {
  /** CLIP_MAX_IMAGES: images per request. */
  readonly maxImages: number;
  /** CLIP_MAX_CAPTIONS: captions (or labels) per request. */
  readonly maxCaptions: number;
  /** CLIP_MAX_CAPTION_CHARS: characters per caption (CLIP reads 77 tokens; the rest is cut). */
  readonly maxCaptionChars: number;
  /** CLIP_MAX_IMAGE_BYTES: bytes per image, encoded. */
  readonly maxImageBytes: number;
  /** CLIP_MAX_PIXELS: decoded pixels per image (width × height), against decompression bombs. */
  readonly maxPixels: number;
  /** CLIP_MAX_BODY_BYTES: bytes of one HTTP request body. */
  readonly maxBodyBytes: number;
  /** CLIP_MAX_QUERY_DEPTH: nesting depth of a GraphQL operation. */
  readonly maxQueryDepth: number;
  /** CLIP_MAX_FIELDS: fields (aliases included) in one GraphQL operation. */
  readonly maxFields: number;
  /** CLIP_FETCH_TIMEOUT_MS: whole-transfer time for a URL input. */
  readonly fetchTimeoutMs: number;
  /** CLIP_FETCH_MAX_REDIRECTS. */
  readonly fetchMaxRedirects: number;
  /** CLIP_ALLOW_PRIVATE_URLS=1: let URL inputs reach private, loopback and link-local addresses. */
  readonly allowPrivateUrls: boolean;
  /**
   * CLIP_FETCH_ALLOW_HOSTS: comma-separated host[:port] entries (as in the URL) trusted even when
   * they resolve to private addresses, e.g. an internal image store. Redirect targets are checked
   * on their own.
   */
  readonly fetchAllowHosts: readonly string[];
  /** CLIP_REQUEST_TIMEOUT_MS: deadline of one GraphQL request's model work. */
  readonly requestTimeoutMs: number;
}

export const DEFAULT_LIMITS: Limits = {
  maxImages: 64,
  maxCaptions: 256,
  maxCaptionChars: 2000,
  maxImageBytes: 20 * 1024 * 1024,
  maxPixels: 40_000_000,
  maxBodyBytes: 64 * 1024 * 1024,
  maxQueryDepth: 8,
  maxFields: 200,
  fetchTimeoutMs: 10_000,
  fetchMaxRedirects: 3,
  allowPrivateUrls: false,
  fetchAllowHosts: [],
  requestTimeoutMs: 60_000,
};

const ENV: Record<keyof Limits, string> = {
  maxImages: 'CLIP_MAX_IMAGES',
  maxCaptions: 'CLIP_MAX_CAPTIONS',
  maxCaptionChars: 'CLIP_MAX_CAPTION_CHARS',
  maxImageBytes: 'CLIP_MAX_IMAGE_BYTES',
  maxPixels: 'CLIP_MAX_PIXELS',
  maxBodyBytes: 'CLIP_MAX_BODY_BYTES',
  maxQueryDepth: 'CLIP_MAX_QUERY_DEPTH',
  maxFields: 'CLIP_MAX_FIELDS',
  fetchTimeoutMs: 'CLIP_FETCH_TIMEOUT_MS',
  fetchMaxRedirects: 'CLIP_FETCH_MAX_REDIRECTS',
  allowPrivateUrls: 'CLIP_ALLOW_PRIVATE_URLS',
  fetchAllowHosts: 'CLIP_FETCH_ALLOW_HOSTS',
  requestTimeoutMs: 'CLIP_REQUEST_TIMEOUT_MS',
};

export function limitsFromEnv(env: Readonly<Record<string, string | undefined>>): Limits {
  const out: Record<string, number | boolean | readonly string[]> = { ...DEFAULT_LIMITS };
  for (const [key, name] of Object.entries(ENV) as [keyof Limits, string][]) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    if (Array.isArray(DEFAULT_LIMITS[key])) {
      out[key] = raw.split(',').map((h) => h.trim().toLowerCase()).filter(Boolean);
      continue;
    }
    if (typeof DEFAULT_LIMITS[key] === 'boolean') {
      out[key] = ['1', 'true', 'yes'].includes(raw.toLowerCase());
      continue;
    }
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0) throw new ClipqlError(ErrorCode.BAD_USER_INPUT, `${name} must be a non-negative integer, got ${JSON.stringify(raw)}`);
    out[key] = n;
  }
  return out as unknown as Limits;
}
