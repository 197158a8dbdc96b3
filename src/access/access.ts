/**
 * The gate in front of every API surface (GraphQL, /v1): who is calling (api-keys.ts) and whether
 * their per-minute allowance lets them in (token-bucket.ts). Off without CLIP_API_KEYS_FILE.
 *
 * - A request costs one request token when it arrives, before its body is read (`admit`).
 * - Images cost one image token each, charged where every surface reads its images
 *   (schema/requests.ts readImages) through the request's `Caller`, so GraphQL and /v1 count alike.
 * - Every key has its own buckets: the defaults (CLIP_RATE_REQUESTS_PER_MINUTE,
 *   CLIP_RATE_IMAGES_PER_MINUTE) unless its line in the keys file overrides them; 0 is unlimited.
 * - Scopes (scopes.ts): each surface states what a request needs and `Caller.authorize` refuses
 *   it whole with FORBIDDEN before any work: GraphQL per root field (server/scope-plugin.ts, after
 *   parsing and before execution), /v1 `read`, /metrics `metrics` or `admin`.
 * - The keys file is read again on `reload()` (SIGHUP, or the file watch of `watch()`): a request
 *   keeps the key it was admitted with, so requests in flight finish; a file that cannot be read or
 *   parsed leaves the keys in force as they were.
 * Refusals are ClipqlErrors: UNAUTHENTICATED (also for an expired key), FORBIDDEN, RATE_LIMITED
 * with `details.retryAfter` (whole seconds until the bucket holds enough), or TOO_MANY_INPUTS for
 * more images than a bucket can ever hold. Each surface answers them in its own shape (HTTP
 * 401/403/429, see server/http-head.ts).
 */
import { unwatchFile, watchFile, type Stats } from 'node:fs';
import { ClipqlError, ErrorCode } from '../errors';
import type { Config } from '../config/config';
import { ApiKeys, type ApiKey } from './api-keys';
import { refusal, type KeyScopes, type Need } from './scopes';
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
  /** GET /metrics needs a key with `metrics` or `admin` (CLIP_METRICS_REQUIRE_KEY, on by default). */
  readonly metricsNeedKey: boolean;
  /** The keys file, read again by reload(); absent: keys given in the constructor only. */
  readonly file?: string;
  readonly now?: () => number;
  readonly onEvent?: (e: AccessEvent) => void;
}

/** The caller of one request: the key's name, its scopes as admitted, and its image allowance. */
export interface Caller {
  readonly key: string;
  readonly scopes: KeyScopes;
  /** Spends `n` image tokens, or throws RATE_LIMITED / TOO_MANY_INPUTS and spends none. */
  chargeImages(n: number, argument?: string): void;
  /** Throws FORBIDDEN naming every action and collection of `needs` the key lacks. */
  authorize(needs: readonly Need[]): void;
}

interface Buckets {
  /** The per-minute rates the buckets were made for: a reload that changes them makes new ones. */
  readonly rates: string;
  readonly requests?: TokenBucket;
  readonly images?: TokenBucket;
}

/** What a reload did, for the log. */
export interface ReloadResult {
  readonly keys: number;
  readonly added: readonly string[];
  readonly removed: readonly string[];
}

export class Access {
  private readonly buckets = new Map<string, Buckets>();

  constructor(
    private keys: ApiKeys,
    readonly options: AccessOptions,
  ) {}

  /** The gate of a configuration; undefined (no gate) without CLIP_API_KEYS_FILE. */
  static fromConfig(c: Config, onEvent?: AccessOptions['onEvent']): Access | undefined {
    const file = c.CLIP_API_KEYS_FILE;
    if (file === undefined) return undefined;
    return new Access(ApiKeys.fromFile(file), {
      file,
      requestsPerMinute: c.CLIP_RATE_REQUESTS_PER_MINUTE,
      imagesPerMinute: c.CLIP_RATE_IMAGES_PER_MINUTE,
      metricsNeedKey: c.CLIP_METRICS_REQUIRE_KEY,
      onEvent,
    });
  }

  get keyCount(): number {
    return this.keys.size;
  }

  /** Lines worth a warning: keys without `actions` (full access), keys already expired. */
  warnings(): string[] {
    const now = (this.options.now ?? Date.now)();
    const full = this.keys.list().filter((k) => !k.scopes.explicit).map((k) => k.name);
    const expired = this.keys.list().filter((k) => k.scopes.expiresAt !== undefined && k.scopes.expiresAt <= now).map((k) => k.name);
    return [
      ...(full.length ? [`API keys without actions= may do everything (read, write, admin, metrics): ${full.join(', ')}; give each the actions it needs (docs/production.md)`] : []),
      ...(expired.length ? [`API keys past their expiry (refused): ${expired.join(', ')}`] : []),
    ];
  }

  /**
   * Reads the keys file again and puts it in force for the requests that arrive from now on;
   * throws (and keeps the keys as they were) when it cannot be read or parsed.
   */
  reload(): ReloadResult {
    if (this.options.file === undefined) throw new ClipqlError(ErrorCode.BAD_USER_INPUT, 'no keys file to reload');
    const next = ApiKeys.fromFile(this.options.file);
    const before = new Set(this.keys.list().map((k) => k.name));
    const after = new Set(next.list().map((k) => k.name));
    this.keys = next;
    for (const name of this.buckets.keys()) if (!after.has(name)) this.buckets.delete(name);
    return { keys: next.size, added: [...after].filter((n) => !before.has(n)), removed: [...before].filter((n) => !after.has(n)) };
  }

  /**
   * Reloads when the keys file changes. A stat every `intervalMs` (fs.watchFile) rather than
   * inotify (fs.watch): an editor's or Kubernetes' replace-by-rename keeps being seen. Returns the
   * function that stops watching.
   */
  watch(onChange: () => void, intervalMs = 250): () => void {
    const file = this.options.file;
    if (file === undefined) return () => {};
    const listener = (cur: Stats, prev: Stats) => {
      if (cur.mtimeMs !== prev.mtimeMs || cur.ino !== prev.ino || cur.size !== prev.size) onChange();
    };
    watchFile(file, { interval: intervalMs, persistent: false }, listener);
    return () => unwatchFile(file, listener);
  }

  /** Who calls; throws UNAUTHENTICATED (also for an expired key). Spends nothing. */
  authenticate(authorization: string | undefined): ApiKey {
    const key = this.keys.authenticate(authorization);
    const expiresAt = key?.scopes.expiresAt;
    if (key && expiresAt !== undefined && expiresAt <= (this.options.now ?? Date.now)()) {
      this.options.onEvent?.({ key: key.name, kind: 'requests', outcome: ErrorCode.UNAUTHENTICATED, count: 1 });
      throw new ClipqlError(ErrorCode.UNAUTHENTICATED, `the API key ${key.name} expired at ${new Date(expiresAt).toISOString()}`);
    }
    if (!key) {
      this.options.onEvent?.({ key: '(none)', kind: 'requests', outcome: ErrorCode.UNAUTHENTICATED, count: 1 });
      // The message never echoes what was sent: it may be a real key with a typo.
      const why = authorization === undefined || authorization === '' ? 'no API key: send `Authorization: Bearer <key>`' : /^Bearer[ \t]+\S+[ \t]*$/i.test(authorization) ? 'unknown API key' : 'the Authorization header must be `Bearer <key>`';
      throw new ClipqlError(ErrorCode.UNAUTHENTICATED, why);
    }
    return key;
  }

  /**
   * Authenticates and spends one request token; throws UNAUTHENTICATED or RATE_LIMITED. The
   * Caller keeps the key's scopes as they are now: a reload does not change a request in flight.
   */
  admit(authorization: string | undefined): Caller {
    const key = this.authenticate(authorization);
    const buckets = this.bucketsOf(key);
    this.spend(key.name, 'requests', buckets.requests, 1);
    return {
      key: key.name,
      scopes: key.scopes,
      chargeImages: (n, argument) => this.spend(key.name, 'images', buckets.images, n, argument),
      authorize: (needs) => {
        const refused = refusal(key.name, key.scopes, needs);
        if (refused) throw refused;
      },
    };
  }

  /** GET /metrics: a key with `metrics` or `admin`; throws UNAUTHENTICATED or FORBIDDEN. Spends nothing. */
  authorizeMetrics(authorization: string | undefined): void {
    const key = this.authenticate(authorization);
    const refused = refusal(key.name, key.scopes, [{ action: 'metrics', what: 'GET /metrics' }]);
    if (refused) throw refused;
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
    const requests = key.limits.requestsPerMinute ?? this.options.requestsPerMinute;
    const images = key.limits.imagesPerMinute ?? this.options.imagesPerMinute;
    const rates = `${requests}/${images}`;
    let b = this.buckets.get(key.name);
    if (!b || b.rates !== rates) {
      const now = this.options.now ?? Date.now;
      b = { rates, requests: requests > 0 ? new TokenBucket(requests, now) : undefined, images: images > 0 ? new TokenBucket(images, now) : undefined };
      this.buckets.set(key.name, b);
    }
    return b;
  }
}
