/**
 * Every input limit in one place, taken from the configuration (config/settings.ts: the
 * CLIP_MAX_* and CLIP_FETCH_* settings). The defaults suit a public service on a small machine.
 */
import { parseConfig, type Config } from '../config/config';

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


/** The limits a configuration sets (config/settings.ts documents and bounds each). */
export function limitsFromConfig(c: Config): Limits {
  return {
    maxImages: c.CLIP_MAX_IMAGES,
    maxCaptions: c.CLIP_MAX_CAPTIONS,
    maxCaptionChars: c.CLIP_MAX_CAPTION_CHARS,
    maxImageBytes: c.CLIP_MAX_IMAGE_BYTES,
    maxPixels: c.CLIP_MAX_PIXELS,
    maxBodyBytes: c.CLIP_MAX_BODY_BYTES,
    maxQueryDepth: c.CLIP_MAX_QUERY_DEPTH,
    maxFields: c.CLIP_MAX_FIELDS,
    fetchTimeoutMs: c.CLIP_FETCH_TIMEOUT_MS,
    fetchMaxRedirects: c.CLIP_FETCH_MAX_REDIRECTS,
    allowPrivateUrls: c.CLIP_ALLOW_PRIVATE_URLS,
    fetchAllowHosts: c.CLIP_FETCH_ALLOW_HOSTS,
    requestTimeoutMs: c.CLIP_REQUEST_TIMEOUT_MS,
  };
}

/** The limits of the default configuration. */
export const DEFAULT_LIMITS: Limits = limitsFromConfig(parseConfig({}).config);
