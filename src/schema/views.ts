/** Building the plain GraphQL objects from pipeline results (no model work here). */
import type { Backend } from '../backends/backend';
import type { RequestContext } from './context';
import type { ImageRef } from './image-ref';
import { BackendStatus, Caption, Image, ModelInfo } from './types';
import { describeProbability } from '../similarity/similarity';
import { toGraphQLError } from './errors';

export const RANDOM_WEIGHTS_WARNING =
  'this model has seeded random weights (a test fixture): similarities are meaningless. Run `npm run models -- download ViT-L-14-336` and start with CLIP_MODEL=models/ViT-L-14-336 for real CLIP.';

/** An input image of a request whose context (`ctx.model`) embeds it with `backend`. */
export function imageView(ref: ImageRef, index: number, backend: string, modelName: string): Image {
  return Object.assign(new Image(), { id: `image-${index}`, ...ref.facts, sha256: ref.sha256, ref, backend, modelName });
}

export function captionView(ctx: RequestContext, text: string, index: number, backend: string): Caption {
  const { pipeline } = ctx;
  const modelName = ctx.model.name;
  const tokens = Array.from(pipeline.tokenize(text));
  const tokenCount = pipeline.tokenizer.untruncatedLength(text);
  return Object.assign(new Caption(), { id: `caption-${index}`, text, tokens, tokenCount, truncated: tokenCount > pipeline.bundle.contextLength, backend, modelName });
}

/** The model of `ctx` (a served model; its start-up figures once measured). */
export function modelView(ctx: Pick<RequestContext, 'model' | 'models'>, embedDim?: number): ModelInfo {
  const { name, pipeline } = ctx.model;
  const b = pipeline.bundle;
  const load = ctx.models.loadFigures(name);
  return Object.assign(new ModelInfo(), {
    name,
    bundle: b.name,
    isDefault: ctx.models.default.name === name,
    backends: pipeline.registry.names(),
    startupMs: load?.startupMs,
    memoryBytes: load?.rssBytes,
    fileBytes: load?.fileBytes,
    imageSize: b.imageSize,
    embedDim: embedDim ?? b.embedDim,
    contextLength: b.contextLength,
    randomWeights: b.randomWeights,
    family: b.family.name,
    probability: describeProbability(b.probability),
    probabilitiesAvailable: b.probability.kind !== 'unavailable',
    warning: b.randomWeights ? RANDOM_WEIGHTS_WARNING : undefined,
  });
}

export function backendView(backend: Backend, isDefault: boolean, healthy = true, error?: string): BackendStatus {
  const d = backend.describe();
  return Object.assign(new BackendStatus(), {
    name: d.name,
    device: d.device,
    model: d.model,
    dtype: d.dtype,
    maxImageBatch: d.maxBatch.image,
    maxTextBatch: d.maxBatch.text,
    healthy,
    error,
    details: JSON.stringify(d.details),
    isDefault,
  });
}

/** Copy of a raw embedding as a plain array, L2-normalised unless asked otherwise. */
export function embeddingView(raw: Float32Array, normalize: boolean): number[] {
  if (!normalize) return Array.from(raw);
  let s = 0;
  for (let i = 0; i < raw.length; i++) s += raw[i] * raw[i];
  const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
  const out = new Array<number>(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = Math.fround(raw[i] * inv);
  return out;
}

/**
 * Defines `key` on `view` as computed when a query selects it, once. A ClipqlError it throws
 * leaves with its code: fields of simpleResolvers types bypass the error middleware.
 */
export function computedField<T extends object, K extends keyof T>(view: T, key: K, compute: () => T[K]): T {
  let value: { v: T[K] } | undefined;
  Object.defineProperty(view, key, {
    enumerable: true,
    configurable: true,
    get() {
      try {
        return (value ??= { v: compute() }).v;
      } catch (e) {
        throw toGraphQLError(e);
      }
    },
  });
  return view;
}
