/**
 * The gate in front of every API surface (GraphQL, /v1): who is calling (api-keys.ts) and whether
 * their per-minute allowance lets them in (token-bucket.ts). Off without CLIP_API_KEYS_FILE.
 *
 * - A request costs one request token when it arrives, before its body is read (`admit`).
 * - Images cost one image token each, charged where every surface reads its images
 *   (schema/requests.ts readImages) through the request's `Caller`, so GraphQL and /v1 count alike.
 * - Every key has its own buckets: the defaults (CLIP_RATE_REQUESTS_PER_MINUTE,
 *   CLIP_RATE_IMAGES_PER_MINUTE) unless its line in the keys file overrides them; 0 is unlimited.
 * Refusals are ClipqlErrors: UNAUTHENTICATED, RATE_LIMITED with `details.retryAfter` (whole
 * seconds until the bucket holds enough), or TOO_MANY_INPUTS for more images than a bucket can
 * ever hold. Each surface answers them in its own shape (HTTP 401/429, see server/http-head.ts).
 */
import { ClipqlError, ErrorCode } from '../errors';
import type { Config } from '../config/config';
import { ApiKeys, type ApiKey } from './api-keys';
import { TokenBucket } from './token-bucket';

export interface AccessEvent {
  /** The key's name from the keys file; "(none)" for a missing or unknown key. Never the key. */
  readonly key: string;
  readonly kind: 'requests' | 'images';
  readonly outcome: 'admitted' | ErrorCode;
  /** Requests (1) or images counted. */
  readonly count: number;
}

export interface AccessOptions {
  readonly requestsPerMinute: number;
  readonly imagesPerMinute: number;
  /** GET /metrics needs a key too (CLIP_METRICS_REQUIRE_KEY=1). */
  readonly metricsNeedKey: boolean;
  readonly now?: () => number;
  readonly onEvent?: (e: AccessEvent) => void;
}

/** The caller of one request: the key's name, and its image allowance. */
export interface Caller {
  readonly key: string;
  /** Spends `n` image tokens, or throws RATE_LIMITED / TOO_MANY_INPUTS and spends none. */
  chargeImages(n: number, argument?: string): void;
}

interface Buckets {
  readonly requests?: TokenBucket;
  readonly images?: TokenBucket;
}

export class Access {
  private readonly buckets = new Map<string, Buckets>();

  constructor(
    private readonly keys: ApiKeys,
    readonly options: AccessOptions,
  ) {}

  /** The gate of a configuration; undefined (no gate) without CLIP_API_KEYS_FILE. */
  static fromConfig(c: Config, onEvent?: AccessOptions['onEvent']): Access | undefined {
    const file = c.CLIP_API_KEYS_FILE;
    if (file === undefined) return undefined;
    return new Access(ApiKeys.fromFile(file), {
      requestsPerMinute: c.CLIP_RATE_REQUESTS_PER_MINUTE,
      imagesPerMinute: c.CLIP_RATE_IMAGES_PER_MINUTE,
      metricsNeedKey: c.CLIP_METRICS_REQUIRE_KEY,
      onEvent,
    });
  }

  get keyCount(): number {
    return this.keys.size;
  }

  /** Who calls; throws UNAUTHENTICATED. Spends nothing (used for /metrics). */
  authenticate(authorization: string | undefined): ApiKey {
    const key = this.keys.authenticate(authorization);
    if (!key) {
      this.options.onEvent?.({ key: '(none)', kind: 'requests', outcome: ErrorCode.UNAUTHENTICATED, count: 1 });
      // The message never echoes what was sent: it may be a real key with a typo.
      const why = authorization === undefined || authorization === '' ? 'no API key: send `Authorization: Bearer <key>`' : /^Bearer[ \t]+\S+[ \t]*$/i.test(authorization) ? 'unknown API key' : 'the Authorization header must be `Bearer <key>`';
      throw new ClipqlError(ErrorCode.UNAUTHENTICATED, why);
    }
    return key;
  }

  /** Authenticates and spends one request token; throws UNAUTHENTICATED or RATE_LIMITED. */
  admit(authorization: string | undefined): Caller {
    const key = this.authenticate(authorization);
    const buckets = this.bucketsOf(key);
    this.spend(key.name, 'requests', buckets.requests, 1);
    return { key: key.name, chargeImages: (n, argument) => this.spend(key.name, 'images', buckets.images, n, argument) };
  }

  private spend(name: string, kind: AccessEvent['kind'], bucket: TokenBucket | undefined, n: number, argument?: string): void {
    const waitMs = bucket ? bucket.take(n) : 0;
    if (waitMs === Infinity) {
      this.options.onEvent?.({ key: name, kind, outcome: ErrorCode.TOO_MANY_INPUTS, count: n });
      throw new ClipqlError(ErrorCode.TOO_MANY_INPUTS, `${n} ${kind} in one request, but the API key ${name} may send at most ${bucket!.capacity} a minute`, { details: { limit: bucket!.capacity, ...(argument ? { argument } : {}) } });
    }
    if (waitMs > 0) {
      this.options.onEvent?.({ key: name, kind, outcome: ErrorCode.RATE_LIMITED, count: n });
      const retryAfter = Math.max(1, Math.ceil(waitMs / 1000));
      throw new ClipqlError(ErrorCode.RATE_LIMITED, `the API key ${name} has used its ${bucket!.perMinute} ${kind} a minute: retry in ${retryAfter} s`, { details: { retryAfter, limit: bucket!.perMinute, ...(argument ? { argument } : {}) } });
    }
    this.options.onEvent?.({ key: name, kind, outcome: 'admitted', count: n });
  }

  private bucketsOf(key: ApiKey): Buckets {
    let b = this.buckets.get(key.name);
    if (!b) {
      const requests = key.limits.requestsPerMinute ?? this.options.requestsPerMinute;
      const images = key.limits.imagesPerMinute ?? this.options.imagesPerMinute;
      const now = this.options.now ?? Date.now;
      b = { requests: requests > 0 ? new TokenBucket(requests, now) : undefined, images: images > 0 ? new TokenBucket(images, now) : undefined };
      this.buckets.set(key.name, b);
    }
    return b;
  }
}
