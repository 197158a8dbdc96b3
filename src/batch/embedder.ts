/**
 * The shared layer between requests and a backend: one batcher per tower, an LRU cache of
 * embeddings keyed by content, and in-flight de-duplication, so that
 * - concurrent requests are merged into full batches (batcher.ts),
 * - an image or caption seen before is never encoded again (cache),
 * - the same item asked for by two requests at once is encoded once (in-flight map).
 * Per-request de-duplication and batching is the DataLoader's job (schema/context.ts); this layer
 * is what makes batching work across requests.
 *
 * Embeddings are the backend's raw projected vectors (not normalised), as float32 rows.
 */
import { inFlightOf, type Backend } from '../backends/backend';
import { alreadyCancelled, watch } from '../control/cancel';
import { ClipqlError, ErrorCode } from '../errors';
import type { CallLimits } from '../control/cancel';
import { Batcher } from './batcher';
import { LruCache } from './lru';
import { SETTINGS } from '../config/settings';

export interface EmbedderOptions {
  /** S, the side of the square tensors the vision tower takes (bundle.imageSize). */
  readonly imageSize: number;
  /** Cached embeddings per tower (entries); 0 disables the cache. Default: CLIP_CACHE_SIZE's (settings.ts). */
  readonly cacheSize?: number;
  readonly maxDelayMs?: number;
  readonly maxQueue?: number;
  /** Batches in flight per tower; default: the backend's capacity (devices × perDevice). */
  readonly maxInFlight?: number;
  /** Called once per backend batch (metrics). */
  readonly onBatch?: (event: BatchEvent) => void;
}

export interface BatchEvent {
  readonly backend: string;
  readonly tower: 'image' | 'text';
  readonly size: number;
  readonly queueWaitMs: number[];
  readonly durationMs: number;
  readonly failed: boolean;
}

export interface EmbedderStats {
  readonly imageBatches: number;
  readonly textBatches: number;
  readonly imageCacheHits: number;
  readonly textCacheHits: number;
  readonly queued: { readonly image: number; readonly text: number };
}

export class Embedder {
  private readonly imageBatcher: Batcher<Uint8Array, Float32Array>;
  private readonly textBatcher: Batcher<Int32Array, Float32Array>;
  private readonly imageCache: LruCache<string, Float32Array>;
  private readonly textCache: LruCache<string, Float32Array>;
  private readonly inflight = new Map<string, Shared>();

  constructor(readonly backend: Backend, options: EmbedderOptions) {
    const info = backend.describe();
    const common = { maxDelayMs: options.maxDelayMs, maxQueue: options.maxQueue, maxInFlight: options.maxInFlight ?? inFlightOf(info.capacity) };
    const size = options.imageSize;
    this.imageBatcher = new Batcher<Uint8Array, Float32Array>({
      ...common,
      name: `${backend.name}/image`,
      maxBatch: info.maxBatch.image,
      preferredSizes: info.capacity.imageBatchSizes,
      onBatch: (i) => options.onBatch?.({ ...i, backend: backend.name, tower: 'image' }),
      run: async (pixels) => splitRows(await backend.encodeImages({ pixels, size })),
    });
    this.textBatcher = new Batcher<Int32Array, Float32Array>({
      ...common,
      name: `${backend.name}/text`,
      maxBatch: info.maxBatch.text,
      onBatch: (i) => options.onBatch?.({ ...i, backend: backend.name, tower: 'text' }),
      run: async (rows) => {
        const n = rows[0].length;
        const ids = new BigInt64Array(rows.length * n);
        rows.forEach((r, i) => r.forEach((v, k) => (ids[i * n + k] = BigInt(v))));
        return splitRows(await backend.encodeTexts({ ids, count: rows.length, contextLength: n }));
      },
    });
    this.imageCache = new LruCache(options.cacheSize ?? SETTINGS.CLIP_CACHE_SIZE.default);
    this.textCache = new LruCache(options.cacheSize ?? SETTINGS.CLIP_CACHE_SIZE.default);
  }

  /**
   * Embedding of the image whose content key is `key` (sha256 of its bytes). `pixels` (its RGB
   * crop, ImageBatch's layout) is only called when the embedding is neither cached nor already
   * being computed; the options it gets are the shared work's (see `cached`), to pass on to
   * preprocessing.
   */
  embedImage(key: string, pixels: (opts: CallLimits) => Promise<Uint8Array>, opts: CallLimits = {}): Promise<Float32Array> {
    return this.cached(`i:${key}`, this.imageCache, async (work) => this.imageBatcher.submit(await pixels(work), work), opts);
  }

  /**
   * Embedding of a tokenised caption. Keyed by the token ids themselves: captions that differ only
   * in case, spacing or HTML escapes read the same to the model and share one embedding.
   */
  embedTokens(tokens: Int32Array, opts: CallLimits = {}): Promise<Float32Array> {
    return this.cached(`t:${tokens.join(',')}`, this.textCache, (work) => this.textBatcher.submit(tokens, work), opts);
  }

  /**
   * One request's images as one submission (the DataLoader's batch function calls this): the
   * same as embedImage for each, and their crops join the batch queue together. An item that fails
   * is an Error in its slot (DataLoader's contract); the others are unaffected.
   */
  embedImages(items: readonly ImageItem[], opts: CallLimits = {}): Promise<Array<Float32Array | Error>> {
    this.calls.images++;
    return Promise.all(items.map((it) => settle(this.embedImage(it.key, it.pixels, opts))));
  }

  /** One request's captions as one submission: their misses enter the text queue together. */
  embedTokensMany(rows: readonly Int32Array[], opts: CallLimits = {}): Promise<Array<Float32Array | Error>> {
    this.calls.texts++;
    return Promise.all(this.textBatcher.together(() => rows.map((t) => settle(this.embedTokens(t, opts)))));
  }

  /** Calls of embedImages / embedTokensMany so far (tests: a request's items arrive in one call). */
  readonly calls = { images: 0, texts: 0 };

  /**
   * The cache and the in-flight map. Work for a key is shared by every caller that asks while it
   * runs, so no single caller's deadline or abort may cancel it: each caller waits under its own
   * limits, and the shared work is cancelled (dropped from the queues) only when the last caller
   * has given up. A caller leaving early never fails the others (a client that disconnects does
   * not fail another client's request for the same image).
   */
  private cached(key: string, cache: LruCache<string, Float32Array>, compute: (work: CallLimits) => Promise<Float32Array>, opts: CallLimits): Promise<Float32Array> {
    const hit = cache.get(key);
    if (hit) return Promise.resolve(hit);
    let shared = this.inflight.get(key);
    if (!shared) {
      const controller = new AbortController();
      const promise = compute({ signal: controller.signal }).then((v) => {
        cache.set(key, v);
        return v;
      });
      const entry: Shared = { promise, controller, callers: 0 };
      const forget = () => {
        if (this.inflight.get(key) === entry) this.inflight.delete(key);
      };
      promise.then(forget, forget);
      this.inflight.set(key, entry);
      shared = entry;
    }
    const entry = shared;
    entry.callers++;
    return withCallerLimits(entry.promise, opts, () => {
      if (--entry.callers > 0) return;
      if (this.inflight.get(key) === entry) this.inflight.delete(key);
      entry.controller.abort(new ClipqlError(ErrorCode.TIMEOUT, 'every request waiting for this item has given up'));
    });
  }

  stats(): EmbedderStats {
    return {
      imageBatches: this.imageBatcher.batches,
      textBatches: this.textBatcher.batches,
      imageCacheHits: this.imageCache.hits,
      textCacheHits: this.textCache.hits,
      queued: { image: this.imageBatcher.queueLength, text: this.textBatcher.queueLength },
    };
  }

  /** Stop accepting work (shutdown); queued work still completes. */
  close(): void {
    this.imageBatcher.close();
    this.textBatcher.close();
  }
}

/** An image of a request: its content key (sha256) and, if it must be encoded, its RGB crop. */
export interface ImageItem {
  readonly key: string;
  readonly pixels: (opts: CallLimits) => Promise<Uint8Array>;
}

const settle = <T>(p: Promise<T>): Promise<T | Error> => p.catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))));

function splitRows(e: { data: Float32Array; count: number; dim: number }): Float32Array[] {
  return Array.from({ length: e.count }, (_, i) => e.data.slice(i * e.dim, (i + 1) * e.dim));
}

/** Work shared by the callers that asked for one key while it ran. */
interface Shared {
  readonly promise: Promise<Float32Array>;
  /** Aborted when the last caller gives up: the work leaves the queues undone. */
  readonly controller: AbortController;
  /** Callers still waiting. */
  callers: number;
}

/**
 * Each caller of shared work waits under its own deadline and cancellation; `leave` is called
 * once if the caller gives up before the work is done.
 */
function withCallerLimits<T>(p: Promise<T>, opts: CallLimits, leave: () => void): Promise<T> {
  const cancelled = alreadyCancelled({ signal: opts.signal }, 'shared work');
  if (cancelled) {
    leave();
    return Promise.reject(cancelled);
  }
  if (opts.deadline === undefined && !opts.signal) return p;
  return new Promise<T>((resolve, reject) => {
    const unwatch = watch(opts, 'shared work', (e) => {
      reject(e);
      leave();
    });
    p.then(
      (v) => {
        unwatch();
        resolve(v);
      },
      (e: unknown) => {
        unwatch();
        reject(e);
      },
    );
  });
}
