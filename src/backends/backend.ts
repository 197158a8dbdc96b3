/**
 * The one extension point for model execution. A backend turns preprocessed batches into
 * (unnormalised) CLIP embeddings; everything around it — decoding, tokenising, batching, caching,
 * similarity — is shared. A new backend is one file implementing `Backend` plus one line in
 * `defaultRegistry()` (registry.ts).
 *
 * Contract, for every implementation (checked by test/backends/conformance.test.ts):
 * - `init()` may be called any number of times, concurrently: it returns one shared promise. If it
 *   rejects, the backend is unusable and every later call rejects with the same reason.
 * - `encodeImages` / `encodeTexts` return exactly `batch.count` rows of `dim` floats, in the order
 *   of the inputs, row-major; a failure rejects the whole call with a `ClipqlError` (the batcher
 *   above isolates requests). They never block the event loop for the duration of inference:
 *   in-process native inference runs on a worker thread, out-of-process backends in a child.
 * - Input buffers may be transferred (detached) by the call; callers must not reuse them.
 * - `dispose()` frees sessions/workers; calls in flight reject with BACKEND_UNAVAILABLE.
 */
import type { ModelBundle } from '../bundle/bundle';

/**
 * Images for the vision tower: one [3, size, size] float32 tensor (CHW, already normalised) per
 * image, in order. Separate tensors rather than one buffer: joining them is the backend's business,
 * so that it happens where it is cheap (the onnx worker copies them into a buffer it reuses, off
 * the event loop; joining 16 ViT-B/32 images on the main thread cost about 20 ms a batch there).
 */
export interface ImageBatch {
  readonly tensors: readonly Float32Array[];
  readonly size: number;
}

/** The batch as one [count, 3, size, size] buffer (for backends that need one). */
export function joinImages(batch: ImageBatch): Float32Array {
  const per = 3 * batch.size * batch.size;
  const data = new Float32Array(batch.tensors.length * per);
  batch.tensors.forEach((t, i) => data.set(t, i * per));
  return data;
}

/** [count, contextLength] token ids (int64, as ONNX CLIP exports take them), zero padded. */
export interface TokenBatch {
  readonly ids: BigInt64Array;
  readonly count: number;
  readonly contextLength: number;
}

/** [count, dim] float32 row-major: projected embeddings, not yet L2-normalised. */
export interface Embeddings {
  readonly data: Float32Array;
  readonly count: number;
  readonly dim: number;
}

/** What a backend tells the API about itself (Query.backends). */
export interface BackendInfo {
  /** Registry name, e.g. "onnx", "torch". */
  readonly name: string;
  /** Where inference runs, e.g. "cpu", "cuda:0", "cpu (2 threads)". */
  readonly device: string;
  /** Bundle name the backend serves. */
  readonly model: string;
  /** Largest batch the backend accepts per tower; the batcher never sends more. */
  readonly maxBatch: { readonly image: number; readonly text: number };
  /** Numeric precision of inference, e.g. "float32", "float16". */
  readonly dtype: string;
  /** Free-form details (execution provider, threads, worker pids...). */
  readonly details: Readonly<Record<string, string | number | boolean>>;
}

export interface Backend {
  readonly name: string;
  /** Load the model and warm it up. Shared promise; see the contract above. */
  init(): Promise<void>;
  encodeImages(batch: ImageBatch): Promise<Embeddings>;
  encodeTexts(batch: TokenBatch): Promise<Embeddings>;
  describe(): BackendInfo;
  /** Cheap liveness check (e.g. worker alive); rejects when the backend cannot serve. */
  health(): Promise<void>;
  dispose(): Promise<void>;
}

/** Options every backend factory receives. Backend-specific settings come from `env`. */
export interface BackendOptions {
  readonly bundle: ModelBundle;
  /** Environment to read backend-specific settings from (CLIP_ONNX_THREADS, CLIP_TORCH_DEVICES...). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Optional structured logger (pino-compatible subset). */
  readonly log?: Logger;
}

export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export type BackendFactory = (options: BackendOptions) => Backend;
