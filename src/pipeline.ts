/**
 * The library's front door: a model bundle, its tokenizer, the backends that can run it, and one
 * Embedder (batcher + cache) per backend. The CLI and the GraphQL schema both sit on top of it.
 *
 *   bytes ──decode/resize/crop/normalise──▶ tensor ─┐
 *                                                   ├─▶ Embedder (batch, cache) ─▶ Backend ─▶ embeddings
 *   text ───clean/BPE/77 ids────────────────▶ ids ──┘
 *   embeddings ──L2 normalise, text @ image.T──▶ similarity (similarity/similarity.ts)
 */
import os from 'node:os';
import path from 'node:path';
import type { Backend, BackendCapacity, BackendOptions } from './backends/backend';
import { defaultRegistry, type BackendRegistry } from './backends/registry';
import { Embedder, type BatchEvent, type EmbedderOptions } from './batch/embedder';
import { QueryProbes, type PendingCrop } from './batch/query-probes';
import type { CallLimits } from './control/cancel';
import { defaultCacheDir, loadBundle, type ModelBundle } from './bundle/bundle';
import { familyOf, fingerprintBundle, type ModelIdentity } from './bundle/fingerprint';
import { ClipqlError, ErrorCode } from './errors';
import { parseConfig, type Config } from './config/config';
import { defaultBpeVocab, defaultPython } from './paths';
import type { ImageProbe } from './preprocess/image/probe';
import { PreprocessPool, type PoolStats } from './preprocess/pool';
import type { DecodeLimits } from './preprocess/image/decode';
import type { TextTokenizer } from './families/family';
import type { ImageItem, ItemMode } from './preprocess/image/image-item';
import { STORED_THUMBNAIL_SIDE } from './preprocess/image/thumbnail';
import { STORE_LIMITS } from './store/limits';
import { analyse, normalizeRows, similarityMatrix, type SimilarityResult } from './similarity/similarity';

export interface PipelineOptions {
  /** Model bundle folder. */
  readonly modelDir: string;
  /** Default backend name (default: CLIP_BACKEND when `config` is given, else the registry's first, onnx). */
  readonly backend?: string;
  /** The parsed configuration; without it, `env` is parsed (library and test use), else the defaults. */
  readonly config?: Config;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly log?: BackendOptions['log'];
  /** "exact" (PIL-identical) or "fast" (sharp's resize); default CLIP_PREPROCESS. */
  readonly preprocessMode?: 'exact' | 'fast';
  /** Stored items' decoding (collections, the indexer): "shrink" or "exact"; default CLIP_COLLECTION_PREPROCESS. */
  readonly itemMode?: ItemMode;
  /** For tests: replaces what the config gives (CLIP_MAX_IMAGE_BYTES, CLIP_MAX_PIXELS). */
  readonly decodeLimits?: Partial<DecodeLimits>;
  /** For tests, and onBatch: replaces what the config gives (CLIP_CACHE_SIZE, CLIP_BATCH_DELAY_MS, CLIP_QUEUE_MAX). */
  readonly embedder?: Omit<EmbedderOptions, 'imageSize'>;
  /** Preprocessing threads (default: CLIP_PREPROCESS_THREADS, else defaultPreprocessThreads; 0 = inline). */
  readonly preprocessThreads?: number;
  /** Build the backend registry (tests pass their own). */
  readonly registry?: (options: BackendOptions) => BackendRegistry;
  /**
   * A preprocessing pool to share (several models in one server: one pool for all, issue 17).
   * The pipeline then neither sizes it (preprocessThreads is ignored) nor closes it: its owner
   * does, after every pipeline using it is closed.
   */
  readonly pool?: PreprocessPool;
}

export interface EmbeddedSimilarity extends SimilarityResult {
  /** Unnormalised embeddings as the backend returned them, in input order. */
  readonly imageEmbeddings: Float32Array[];
  readonly textEmbeddings: Float32Array[];
  readonly tokens: Int32Array[];
}

export class ClipPipeline {
  private readonly embedders = new Map<string, Promise<Embedder>>();
  private readonly batchListeners: Array<(e: BatchEvent) => void> = [];
  private fingerprint?: Promise<string>;
  readonly defaultBackend: string;
  /** The decoding limits every image of this pipeline is held to (from the config; see PipelineOptions). */
  readonly decodeLimits: DecodeLimits;
  private readonly embedderOptions: Omit<EmbedderOptions, 'imageSize'>;
  /** Query images' probes (probeImage): remembered as long as the embedding cache could hold them. */
  private readonly probes: QueryProbes;

  private constructor(
    readonly bundle: ModelBundle,
    readonly tokenizer: TextTokenizer,
    readonly registry: BackendRegistry,
    readonly config: Config,
    private readonly options: PipelineOptions,
    private readonly pool: PreprocessPool,
    private readonly ownsPool: boolean,
  ) {
    this.defaultBackend = options.backend ?? (options.config ? config.CLIP_BACKEND : registry.defaultName);
    // One configuration path: the CLI, the server and the indexer all get these from the Config.
    this.decodeLimits = { maxBytes: config.CLIP_MAX_IMAGE_BYTES, maxPixels: config.CLIP_MAX_PIXELS, ...options.decodeLimits };
    this.embedderOptions = { cacheSize: config.CLIP_CACHE_SIZE, maxDelayMs: config.CLIP_BATCH_DELAY_MS, maxQueue: config.CLIP_QUEUE_MAX, ...options.embedder };
    this.probes = new QueryProbes(pool, this.decodeLimits, this.embedderOptions.cacheSize ?? config.CLIP_CACHE_SIZE);
  }

  static async open(options: PipelineOptions): Promise<ClipPipeline> {
    const config = options.config ?? parseConfig(options.env ?? {}).config;
    const bundle = await loadBundle(options.modelDir, {
      bpeVocab: defaultBpeVocab(config),
      cacheDir: config.CLIP_CACHE_DIR ?? defaultCacheDir(config.XDG_CACHE_HOME),
      python: config.CLIP_TORCH_PYTHON ?? defaultPython(),
    });
    const tokenizer = await bundle.family.openTokenizer(bundle.files, bundle.config);
    const backendOptions: BackendOptions = { bundle, config, log: options.log };
    const registry = (options.registry ?? defaultRegistry)(backendOptions);
    if (options.pool) return new ClipPipeline(bundle, tokenizer, registry, config, options, options.pool, false);
    const capacity = registry.peek(options.backend ?? (options.config ? config.CLIP_BACKEND : registry.defaultName))?.describe().capacity;
    const pool = openPreprocessPool(config, capacity, options.preprocessThreads);
    return new ClipPipeline(bundle, tokenizer, registry, config, options, pool, true);
  }

  /** The preprocessing pool, to share with further pipelines (PipelineOptions.pool); closed by the pipeline that made it. */
  get preprocessPool(): PreprocessPool {
    return this.pool;
  }

  /** The Embedder for a backend (started on first use; a failed start is remembered). */
  embedder(name = this.defaultBackend): Promise<Embedder> {
    let e = this.embedders.get(name);
    if (!e) {
      const onBatch = (b: BatchEvent) => {
        this.embedderOptions.onBatch?.(b);
        for (const l of this.batchListeners) l(b);
      };
      e = this.registry.get(name).then((backend: Backend) => new Embedder(backend, { ...this.embedderOptions, imageSize: this.bundle.imageSize, onBatch }));
      this.embedders.set(name, e);
    }
    return e;
  }

  /** Calls `listener` once per backend batch of every Embedder (metrics). */
  onBatch(listener: (e: BatchEvent) => void): void {
    this.batchListeners.push(listener);
  }

  /**
   * The RGB crop of one image, as the backends take it (ImageBatch): BAD_IMAGE & co. for bad
   * bytes; OVERLOADED when the preprocessing queue is full. A deadline or abort in `opts` drops it
   * from that queue. `upright`: EXIF orientation applied first (not PIL's Image.open).
   */
  async imagePixels(bytes: Uint8Array, opts?: CallLimits, upright = false): Promise<Uint8Array> {
    const { pixels } = await this.pool.run(bytes, this.bundle.image, this.preprocessMode, this.decodeLimits, opts, upright);
    return pixels;
  }

  /** Preprocessing threads in use (CLIP_PREPROCESS_THREADS, or the default for the default backend). */
  get preprocessThreads(): number {
    return this.pool.threads;
  }

  /** The preprocessing threads' queue (/metrics). */
  preprocessStats(): PoolStats {
    return this.pool.stats();
  }

  /**
   * sha256 and header facts of an image (preprocess/image/probe.ts), the header read on a
   * preprocessing thread, none for an image seen before; `crop`: the caller will embed it (PIL's
   * pixels, no orientation), so an unseen image's crop comes back from the same trip
   * (batch/query-probes.ts), waiting for a thread no later than `deadline`.
   */
  probeImage(bytes: Uint8Array, crop = false, deadline?: number): Promise<ImageProbe & { crop?: PendingCrop }> {
    return this.probes.probe(bytes, crop ? { cfg: this.bundle.image, mode: this.preprocessMode, deadline } : undefined);
  }

  /** The queries' preprocessing (CLIP_PREPROCESS, or the option). */
  private get preprocessMode(): 'exact' | 'fast' {
    return this.options.preprocessMode ?? this.config.CLIP_PREPROCESS;
  }

  /**
   * This model's identity (bundle/fingerprint.ts) under `name` (default: its folder's name): what
   * a collection is bound to. The fingerprint is computed once (a failure is not remembered); D
   * comes from config.json, else from one embedding.
   */
  async identity(name = this.bundle.name, dim?: number): Promise<ModelIdentity> {
    const d = dim ?? this.bundle.embedDim ?? (await this.embedText('')).length;
    // weights served instead of the folder's (CLIP_TORCH_MODEL, when torch is the default backend) are the model
    const override = this.defaultBackend === 'torch' ? this.config.CLIP_TORCH_MODEL : undefined;
    this.fingerprint ??= fingerprintBundle(this.bundle, d, this.config.CLIP_CACHE_DIR ?? defaultCacheDir(this.config.XDG_CACHE_HOME), override && path.resolve(override)).catch((e: unknown) => {
      this.fingerprint = undefined;
      throw e;
    });
    return { name, folder: this.bundle.name, fingerprint: await this.fingerprint, family: familyOf(this.bundle), dim: d };
  }

  /**
   * A collection item from one read, one hash and one decode on a preprocessing thread
   * (preprocess/image/image-item.ts): EXIF orientation applied, the collections' mode
   * (CLIP_COLLECTION_PREPROCESS), and the stored thumbnail. `sha256`: the bytes' hash when the
   * caller has it. BAD_IMAGE & co. for bad bytes; OVERLOADED when the queue is full.
   */
  prepareItem(bytes: Uint8Array, sha256?: string, opts?: CallLimits): Promise<ImageItem> {
    const mode = this.options.itemMode ?? this.config.CLIP_COLLECTION_PREPROCESS;
    return this.pool.item(bytes, this.bundle.image, { mode, orient: true, thumbnail: STORED_THUMBNAIL_SIDE, thumbnailMaxBytes: STORE_LIMITS.maxThumbnailBytes, sha256, limits: this.decodeLimits }, opts);
  }

  /**
   * The embedding of a prepared item (its crop is at hand). Cached under its hash and how it was
   * decoded, so that an item's embedding never answers for the API's PIL-identical one.
   */
  async embedItem(item: ImageItem, backend?: string, opts?: CallLimits): Promise<Float32Array> {
    const embedder = await this.embedder(backend);
    return embedder.embedImage(itemKey(item), async () => item.pixels, opts);
  }

  tokenize(text: string): Int32Array {
    return this.tokenizer.tokenize(text, this.bundle.contextLength);
  }

  /**
   * A query image's embedding, the way the API computes it (schema/image-ref.ts): hash and header
   * on a preprocessing thread, then PIL's pixels decoded only when the embedding is not cached.
   */
  async embedImage(bytes: Uint8Array, backend?: string, opts?: CallLimits): Promise<Float32Array> {
    const embedder = await this.embedder(backend);
    const { sha256: key } = await this.probeImage(bytes);
    return embedder.embedImage(key, (work) => this.imagePixels(bytes, work), opts);
  }

  async embedText(text: string, backend?: string, opts?: CallLimits): Promise<Float32Array> {
    const embedder = await this.embedder(backend);
    return embedder.embedTokens(this.tokenize(text), opts);
  }

  /** The walkthrough's computation for a set of images and captions. */
  async similarity(images: Uint8Array[], captions: string[], backend?: string): Promise<EmbeddedSimilarity> {
    if (images.length === 0) throw new ClipqlError(ErrorCode.BAD_USER_INPUT, 'at least one image is required');
    if (captions.length === 0) throw new ClipqlError(ErrorCode.BAD_USER_INPUT, 'at least one caption is required');
    const [imageEmbeddings, textEmbeddings] = await Promise.all([
      Promise.all(images.map((b) => this.embedImage(b, backend))),
      Promise.all(captions.map((c) => this.embedText(c, backend))),
    ]);
    // assigned onto analyse's result: its probabilities stay computed when read
    return Object.assign(analyse(scoresOf(textEmbeddings, imageEmbeddings), this.bundle.probability), {
      imageEmbeddings,
      textEmbeddings,
      tokens: captions.map((c) => this.tokenize(c)),
    });
  }

  async close(): Promise<void> {
    for (const e of this.embedders.values()) await e.then((x) => x.close(), () => undefined);
    await this.registry.disposeAll();
    if (this.ownsPool) await this.pool.close();
  }
}

/**
 * The preprocessing pool for `config`: CLIP_PREPROCESS_THREADS threads (or `threads`), else the
 * default for a backend of `capacity`; images waiting beyond CLIP_PREPROCESS_QUEUE_MAX are
 * refused with OVERLOADED (preprocess/pool.ts).
 */
export function openPreprocessPool(config: Config, capacity: BackendCapacity | undefined, threads?: number): PreprocessPool {
  const n = threads ?? config.CLIP_PREPROCESS_THREADS ?? defaultPreprocessThreads(os.availableParallelism(), capacity);
  return new PreprocessPool(n, { maxQueue: config.CLIP_PREPROCESS_QUEUE_MAX });
}

/**
 * Preprocessing threads when CLIP_PREPROCESS_THREADS is not set: the cores that the default
 * backend's inference leaves (BackendCapacity.hostThreads), less one for the event loop, at least
 * one. The onnx backend on the CPU takes every core (1 thread, as measured best on 2 cores in
 * BENCHMARKS.md); a GPU backend takes one core per worker, so a 16-core machine with one GPU gets
 * 14 threads, about what one GPU needs to be fed PIL-exact crops (README: "Preprocessing threads").
 */
export function defaultPreprocessThreads(cores: number, capacity: BackendCapacity | undefined): number {
  if (!capacity) return 1;
  return Math.max(1, cores - capacity.hostThreads - 1);
}

/** The embedding cache's key of a collection item: its hash, how it was decoded, upright. */
export function itemKey(item: ImageItem): string {
  return `${item.sha256}:${item.decodedAs}:upright`;
}

/** Cosine similarity matrix (rows = captions) from raw embeddings. */
export function scoresOf(textEmbeddings: Float32Array[], imageEmbeddings: Float32Array[]): number[][] {
  const norm = (rows: Float32Array[]) => rows.map((r) => normalizeRows(r, 1, r.length));
  return similarityMatrix(norm(textEmbeddings), norm(imageEmbeddings));
}
