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
import type { Config } from '../config/config';

/**
 * Images for the vision tower: one RGB crop per image, `size` × `size` × 3 uint8, row-major HWC,
 * exactly as preprocessing leaves it (after resize, centre crop and convert("RGB"); before
 * ToTensor and Normalize). Pixels travel as bytes, a quarter of the float32 tensor: each backend
 * normalises where it is cheapest (the onnx worker thread while it joins the batch, the torch
 * worker on the device), and must give the same float32 values as `toTensor` (preprocess/image/
 * transform.ts, bit-identical to torchvision's ToTensor + Normalize); the conformance and torch
 * tests check this byte for byte.
 */
export interface ImageBatch {
  readonly pixels: readonly Uint8Array[];
  readonly size: number;
}

/**
 * How much work a backend can usefully have in flight, which the Embedder's batchers use
 * (instead of a default) to decide how many batches to dispatch before the first comes back.
 */
export interface BackendCapacity {
  /** Independent executors: GPUs or worker processes (1 for one in-process session). */
  readonly devices: number;
  /**
   * Batches worth having in flight on each executor: 1 when it runs one batch at a time and
   * nothing overlaps (a CPU session: a second batch would only queue and add latency); 2 or more
   * when the next batch's transfer and upload overlap the current one's compute (the torch worker).
   */
  readonly perDevice: number;
  /** Host CPU threads that inference itself keeps busy; the preprocessing pool's default takes the rest. */
  readonly hostThreads: number;
  /**
   * Image batch sizes that run best, ascending (e.g. the sizes captured as CUDA graphs: other
   * sizes are padded up to the next one). Empty: any size up to maxBatch.image is as good.
   */
  readonly imageBatchSizes: readonly number[];
}

/** Batches in flight in all: devices × perDevice. */
export function inFlightOf(c: BackendCapacity): number {
  return c.devices * c.perDevice;
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
  /** Batches in flight and preferred sizes (see BackendCapacity). */
  readonly capacity: BackendCapacity;
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

/** Options every backend factory receives. Backend-specific settings come from `config`. */
export interface BackendOptions {
  readonly bundle: ModelBundle;
  /** The parsed configuration (CLIP_ONNX_THREADS, CLIP_TORCH_DEVICES...: config/settings.ts). */
  readonly config: Config;
  /** Optional structured logger (pino-compatible subset). */
  readonly log?: Logger;
}

export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export type BackendFactory = (options: BackendOptions) => Backend;
