/**
 * Per-request state. DataLoaders are made here, once per request (DataLoader's own advice: a
 * loader is a per-request cache, never a cross-request store of user data). They key images by
 * the sha256 of their bytes and captions by their text, so one request's duplicates are encoded
 * once and its items go down together; the shared Embedder below them merges batches across
 * requests and caches embeddings.
 *
 * A context is bound to one served model (`model`, `pipeline`): the default one, or the one
 * `forModel` returns for a request's `model` argument. Loaders are per model and backend, so one
 * model's embeddings never answer for another's.
 */
import DataLoader from 'dataloader';
import type { Caller } from '../access/access';
import type { Limits } from '../input/limits';
import { ClipqlError, ErrorCode } from '../errors';
import type { ClipPipeline } from '../pipeline';
import type { ServedModel, ServedModels } from '../served-models';
import type { CollectionStore } from '../store/store';
import type { ImageRef } from './image-ref';

export interface RequestContext {
  /** The model this context encodes with, and its pipeline. */
  readonly model: ServedModel;
  readonly pipeline: ClipPipeline;
  /** Every served model. */
  readonly models: ServedModels;
  /**
   * This request's context for the model named `name` (the default when null or omitted; the
   * same object for the same model within a request); MODEL_NOT_FOUND naming `argument` when
   * the server does not serve it.
   */
  forModel(name?: string | null, argument?: string): RequestContext;
  readonly limits: Limits;
  /** Absolute time after which model work for this request fails with TIMEOUT. */
  readonly deadline: number;
  /** Aborted when the client goes away. */
  readonly signal: AbortSignal;
  /** Who calls, when API keys are on (access/access.ts): images are charged to it in readImages. */
  readonly caller?: Caller;
  imageLoader(backend: string): DataLoader<ImageRef, Float32Array, string>;
  textLoader(backend: string): DataLoader<string, Float32Array, string>;
  /** The collection store, opened on first use (shared by all requests; see store/handle.ts). */
  store(): Promise<CollectionStore>;
}

const noStore = () => Promise.reject(new ClipqlError(ErrorCode.STORE_UNAVAILABLE, 'this server has no collection store'));

/**
 * A request's context, bound to the default model of `models`. `signal` may be a function that
 * makes it on first use (server/http-io.ts requestSignal).
 */
export function createContext(models: ServedModels, limits: Limits, signal: AbortSignal | (() => AbortSignal), caller?: Caller, store: () => Promise<CollectionStore> = noStore): RequestContext {
  const deadline = Date.now() + limits.requestTimeoutMs;
  const signalOf = typeof signal === 'function' ? signal : () => signal;
  const scoped = new Map<string, RequestContext>();
  const forModel = (name?: string | null, argument = 'model'): RequestContext => {
    const model = models.resolve(name, argument);
    let c = scoped.get(model.name);
    if (!c) {
      c = modelContext(model, models, forModel, limits, { deadline, get signal() { return signalOf(); } }, caller, store);
      scoped.set(model.name, c);
    }
    return c;
  };
  return forModel();
}

function modelContext(
  model: ServedModel,
  models: ServedModels,
  forModel: RequestContext['forModel'],
  limits: Limits,
  opts: { deadline: number; signal: AbortSignal },
  caller: Caller | undefined,
  store: () => Promise<CollectionStore>,
): RequestContext {
  const { pipeline } = model;
  const { deadline } = opts;
  const images = new Map<string, DataLoader<ImageRef, Float32Array, string>>();
  const texts = new Map<string, DataLoader<string, Float32Array, string>>();
  return Object.assign(new LazySignal(opts), {
    model,
    pipeline,
    models,
    forModel,
    limits,
    deadline,
    caller,
    store,
    imageLoader(backend: string) {
      let l = images.get(backend);
      if (!l) {
        l = new DataLoader<ImageRef, Float32Array, string>(
          // The request's new images, after DataLoader's per-request cache, as one submission; a
          // failed item is an Error in its slot: it fails its own field, not its neighbours.
          async (refs) => {
            const embedder = await pipeline.embedder(backend);
            return embedder.embedImages(refs.map((r) => ({ key: r.key, pixels: (work) => r.pixels(work) })), opts);
          },
          { cacheKeyFn: (r) => r.key },
        );
        images.set(backend, l);
      }
      return l;
    },
    textLoader(backend: string) {
      let l = texts.get(backend);
      if (!l) {
        l = new DataLoader<string, Float32Array, string>(async (captions) => {
          const embedder = await pipeline.embedder(backend);
          const rows: Array<Int32Array | Error> = captions.map((c) => {
            try {
              return pipeline.tokenize(c);
            } catch (e) {
              return e instanceof Error ? e : new Error(String(e));
            }
          });
          const ok = rows.filter((r): r is Int32Array => !(r instanceof Error));
          const done = await embedder.embedTokensMany(ok, opts);
          let k = 0;
          return rows.map((r) => (r instanceof Error ? r : done[k++]));
        });
        texts.set(backend, l);
      }
      return l;
    },
  });
}

/**
 * A context's `signal`, a getter on the prototype: Apollo copies the context's own properties
 * into a new object for each operation (Object.assign, which calls an own getter), and an own
 * getter would make the request's AbortSignal there, for every request (about 20 µs with its
 * abort, server/http-io.ts); the copy keeps the prototype, so the signal is made on first use.
 */
class LazySignal {
  constructor(private readonly signalSource: { readonly signal: AbortSignal }) {}

  get signal(): AbortSignal {
    return this.signalSource.signal;
  }
}
