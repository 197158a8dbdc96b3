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
import type { Backend } from '../backends/backend';
import { ClipqlError, ErrorCode } from '../errors';
import { Batcher, type SubmitOptions } from './batcher';
import { LruCache } from './lru';

export interface EmbedderOptions {
  /** S, the side of the square tensors the vision tower takes (bundle.imageSize). */
  readonly imageSize: number;
  /** Cached embeddings per tower (entries); 0 disables the cache. Default 10,000. */
  readonly cacheSize?: number;
  readonly maxDelayMs?: number;
  readonly maxQueue?: number;
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
  private readonly imageBatcher: Batcher<Float32Array, Float32Array>;
  private readonly textBatcher: Batcher<Int32Array, Float32Array>;
  private readonly imageCache: LruCache<string, Float32Array>;
  private readonly textCache: LruCache<string, Float32Array>;
  private readonly inflight = new Map<string, Promise<Float32Array>>();

  constructor(readonly backend: Backend, options: EmbedderOptions) {
    const info = backend.describe();
    const common = { maxDelayMs: options.maxDelayMs, maxQueue: options.maxQueue, maxInFlight: options.maxInFlight };
    const size = options.imageSize;
    this.imageBatcher = new Batcher<Float32Array, Float32Array>({
      ...common,
      name: `${backend.name}/image`,
      maxBatch: info.maxBatch.image,
      onBatch: (i) => options.onBatch?.({ ...i, backend: backend.name, tower: 'image' }),
      run: async (tensors) => {
        const per = 3 * size * size;
        const data = new Float32Array(tensors.length * per);
        tensors.forEach((t, i) => data.set(t, i * per));
        return splitRows(await backend.encodeImages({ data, count: tensors.length, size }));
      },
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
    this.imageCache = new LruCache(options.cacheSize ?? 10_000);
    this.textCache = new LruCache(options.cacheSize ?? 10_000);
  }

  /**
   * Embedding of the image whose content key is `key` (sha256 of its bytes). `tensor` is only
   * called when the embedding is neither cached nor already being computed.
   */
  embedImage(key: string, tensor: () => Promise<Float32Array>, opts: SubmitOptions = {}): Promise<Float32Array> {
    return this.cached(`i:${key}`, this.imageCache, async () => this.imageBatcher.submit(await tensor(), opts), opts);
  }

  /**
   * Embedding of a tokenised caption. Keyed by the token ids themselves: captions that differ only
   * in case, spacing or HTML escapes read the same to the model and share one embedding.
   */
  embedTokens(tokens: Int32Array, opts: SubmitOptions = {}): Promise<Float32Array> {
    return this.cached(`t:${tokens.join(',')}`, this.textCache, () => this.textBatcher.submit(tokens, opts), opts);
  }

  private cached(key: string, cache: LruCache<string, Float32Array>, compute: () => Promise<Float32Array>, opts: SubmitOptions): Promise<Float32Array> {
    const hit = cache.get(key);
    if (hit) return Promise.resolve(hit);
    const running = this.inflight.get(key);
    if (running) return withCallerLimits(running, opts);
    const p = compute().then(
      (v) => {
        cache.set(key, v);
        return v;
      },
    );
    this.inflight.set(key, p);
    const forget = () => this.inflight.delete(key);
    p.then(forget, forget);
    return p;
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

function splitRows(e: { data: Float32Array; count: number; dim: number }): Float32Array[] {
  return Array.from({ length: e.count }, (_, i) => e.data.slice(i * e.dim, (i + 1) * e.dim));
}

/** A second caller of an in-flight computation still gets its own deadline and cancellation. */
function withCallerLimits<T>(p: Promise<T>, opts: SubmitOptions): Promise<T> {
  if (opts.deadline === undefined && !opts.signal) return p;
  return new Promise<T>((resolve, reject) => {
    const timer = opts.deadline === undefined ? undefined : setTimeout(() => reject(new ClipqlError(ErrorCode.TIMEOUT, 'the request\'s deadline passed before its work was done')), Math.max(0, opts.deadline - Date.now()));
    const onAbort = () => reject(opts.signal!.reason instanceof Error ? opts.signal!.reason : new ClipqlError(ErrorCode.TIMEOUT, 'the request was cancelled'));
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => {
      if (timer) clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
    });
  });
}
