/**
 * Per-request state. DataLoaders are made here, once per request (DataLoader's own advice: a
 * loader is a per-request cache, never a cross-request store of user data). They key images by
 * the sha256 of their bytes and captions by their text, so one request's duplicates are encoded
 * once and its items go down together; the shared Embedder below them merges batches across
 * requests and caches embeddings.
 */
import DataLoader from 'dataloader';
import type { Limits } from '../input/limits';
import { ClipqlError, ErrorCode } from '../errors';
import type { ClipPipeline } from '../pipeline';
import type { CollectionStore } from '../store/store';
import type { ImageRef } from './image-ref';

export interface RequestContext {
  readonly pipeline: ClipPipeline;
  readonly limits: Limits;
  /** Absolute time after which model work for this request fails with TIMEOUT. */
  readonly deadline: number;
  /** Aborted when the client goes away. */
  readonly signal: AbortSignal;
  imageLoader(backend: string): DataLoader<ImageRef, Float32Array, string>;
  textLoader(backend: string): DataLoader<string, Float32Array, string>;
  /** The collection store, opened on first use (shared by all requests; see store/handle.ts). */
  store(): Promise<CollectionStore>;
}

const noStore = () => Promise.reject(new ClipqlError(ErrorCode.STORE_UNAVAILABLE, 'this server has no collection store'));

export function createContext(pipeline: ClipPipeline, limits: Limits, signal: AbortSignal, store: () => Promise<CollectionStore> = noStore): RequestContext {
  const deadline = Date.now() + limits.requestTimeoutMs;
  const opts = { deadline, signal };
  const images = new Map<string, DataLoader<ImageRef, Float32Array, string>>();
  const texts = new Map<string, DataLoader<string, Float32Array, string>>();
  // A failed item is returned as an Error in its slot: it fails its own field, not its neighbours.
  const settle = <T>(p: Promise<T>): Promise<T | Error> => p.catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))));
  return {
    pipeline,
    limits,
    deadline,
    signal,
    store,
    imageLoader(backend) {
      let l = images.get(backend);
      if (!l) {
        l = new DataLoader<ImageRef, Float32Array, string>(
          async (refs) => {
            const embedder = await pipeline.embedder(backend);
            return Promise.all(refs.map((r) => settle(embedder.embedImage(r.sha256, (work) => r.tensor(work), opts))));
          },
          { cacheKeyFn: (r) => r.sha256 },
        );
        images.set(backend, l);
      }
      return l;
    },
    textLoader(backend) {
      let l = texts.get(backend);
      if (!l) {
        l = new DataLoader<string, Float32Array, string>(async (captions) => {
          const embedder = await pipeline.embedder(backend);
          return Promise.all(captions.map((c) => settle(Promise.resolve().then(() => embedder.embedTokens(pipeline.tokenize(c), opts)))));
        });
        texts.set(backend, l);
      }
      return l;
    },
  };
}
