/**
 * Shared steps of the query resolvers: checking list sizes, reading images, loading embeddings
 * through the request's DataLoaders, with errors that name the argument they came from.
 */
import { Kind, type GraphQLResolveInfo, type SelectionSetNode } from 'graphql';
import { ClipqlError, ErrorCode } from '../errors';
import { scoresOf } from '../pipeline';
import type { RequestContext } from './context';
import { atArgument, readImageInput, readImageItem, type ImageRef } from './image-ref';
import type { ImageInput } from './inputs';

export function checkImages(images: readonly ImageInput[], ctx: RequestContext, argument = 'images'): void {
  if (images.length === 0) throw new ClipqlError(ErrorCode.BAD_USER_INPUT, `${argument}: at least one image is required`, { details: { argument } });
  if (images.length > ctx.limits.maxImages) {
    throw new ClipqlError(ErrorCode.TOO_MANY_INPUTS, `${argument}: ${images.length} images given, at most ${ctx.limits.maxImages} are allowed per request`, { details: { argument, limit: ctx.limits.maxImages } });
  }
}

export function checkCaptions(captions: readonly string[], ctx: RequestContext, argument = 'captions'): void {
  if (captions.length === 0) throw new ClipqlError(ErrorCode.BAD_USER_INPUT, `${argument}: at least one caption is required`, { details: { argument } });
  if (captions.length > ctx.limits.maxCaptions) {
    throw new ClipqlError(ErrorCode.TOO_MANY_INPUTS, `${argument}: ${captions.length} given, at most ${ctx.limits.maxCaptions} are allowed per request`, { details: { argument, limit: ctx.limits.maxCaptions } });
  }
  captions.forEach((c, i) => {
    if (c.length > ctx.limits.maxCaptionChars) {
      throw new ClipqlError(ErrorCode.TOO_MANY_INPUTS, `${argument}[${i}]: ${c.length} characters, at most ${ctx.limits.maxCaptionChars} are allowed (CLIP reads only 77 tokens)`, { details: { argument: `${argument}[${i}]`, limit: ctx.limits.maxCaptionChars } });
    }
  });
}

/** The `model` argument of every query that encodes: resolved by ctx.forModel (served-models.ts). */
export const MODEL_ARGUMENT = 'Served model name, one of Query.models; the default model when omitted. Unknown: MODEL_NOT_FOUND.';

/** The backend a request asked for (or the default), started; BACKEND_UNAVAILABLE otherwise. */
export async function resolveBackend(ctx: RequestContext, name?: string | null): Promise<string> {
  const backend = name ?? ctx.pipeline.defaultBackend;
  await ctx.pipeline.embedder(backend);
  return backend;
}

/**
 * Reads a request's images; with API keys on, they are charged to the caller's images per minute
 * first. `use`: 'store', images to be stored in a collection (readImageItem: upright, decoded
 * once with their thumbnail); else query images (readImageInput: PIL's pixels, decoded only if
 * not cached), 'embed' when the request embeds them (an unseen image's crop comes with its
 * probe), 'facts' when it only reads their hash and header.
 */
export async function readImages(images: readonly ImageInput[], ctx: RequestContext, argument = 'images', use: 'embed' | 'facts' | 'store' = 'embed'): Promise<ImageRef[]> {
  ctx.caller?.chargeImages(images.length, argument);
  return Promise.all(
    images.map((input, i) =>
      (use === 'store' ? readImageItem(input, ctx.pipeline, ctx.limits, ctx) : readImageInput(input, ctx.pipeline, ctx.limits, ctx, use === 'embed')).catch((e: unknown) => {
        throw atArgument(e, images.length === 1 && argument === 'image' ? argument : `${argument}[${i}]`);
      }),
    ),
  );
}

export async function imageEmbeddings(refs: readonly ImageRef[], ctx: RequestContext, backend: string, argument = 'images'): Promise<Float32Array[]> {
  const loader = ctx.imageLoader(backend);
  return Promise.all(refs.map((r, i) => loader.load(r).catch((e: unknown) => { throw atArgument(e, refs.length === 1 && argument === 'image' ? argument : `${argument}[${i}]`); })));
}

export async function textEmbeddings(texts: readonly string[], ctx: RequestContext, backend: string, argument = 'captions'): Promise<Float32Array[]> {
  const loader = ctx.textLoader(backend);
  return Promise.all(texts.map((t, i) => loader.load(t).catch((e: unknown) => { throw atArgument(e, `${argument}[${i}]`); })));
}

/** True when the field being resolved selects `name` among its subfields (through fragments too). */
export function selects(info: GraphQLResolveInfo, name: string): boolean {
  const seen = new Set<string>();
  const within = (set: SelectionSetNode | undefined): boolean =>
    (set?.selections ?? []).some((s) => {
      if (s.kind === Kind.FIELD) return s.name.value === name;
      if (s.kind === Kind.INLINE_FRAGMENT) return within(s.selectionSet);
      if (seen.has(s.name.value)) return false;
      seen.add(s.name.value);
      return within(info.fragments[s.name.value]?.selectionSet);
    });
  return info.fieldNodes.some((n) => within(n.selectionSet));
}

export { scoresOf };
