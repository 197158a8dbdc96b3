/**
 * Shared steps of the collection resolver: the served model as the store sees it, cursors, and
 * views of the store's rows. (Thumbnails come with each item's one decode: pipeline.prepareItem.)
 */
import { ClipqlError, ErrorCode } from '../errors';
import { bindingOf, type CollectionInfo, type Hit, type ModelRef } from '../store/store';
import { Collection, SearchHit } from './collection.type';
import type { RequestContext } from './context';

/**
 * The context a request on `collection` encodes with: the model it names; else the served model
 * the collection is bound to (the same weights' fingerprint, whatever name serves them: an alias
 * finds a collection made by the CLI under the folder's name); else the default, whose mismatch
 * the store then names. With one served model there is nothing to choose and no store read.
 */
export async function collectionContext(request: RequestContext, collection: string, modelName: string | null): Promise<RequestContext> {
  if ((modelName ?? '') !== '' || request.models.list().length === 1) return request.forModel(modelName);
  const c = await (await request.store()).collection(collection);
  if (c) {
    const first = request.models.default;
    for (const m of [first, ...request.models.list().filter((x) => x !== first)]) {
      // identities are computed at start-up (server/open-models.ts): a lookup, not a hash
      const id = await m.pipeline.identity(m.name).catch(() => undefined);
      if (id && bindingOf(c, id) !== 'other') return request.forModel(m.name);
    }
  }
  return request.forModel(null);
}

/** The model `ctx` embeds with, as the store records it: its identity under its served name (D from the config, else a probe). */
export async function servedModel(ctx: RequestContext, backend: string): Promise<ModelRef> {
  const dim = ctx.pipeline.bundle.embedDim ?? (await ctx.textLoader(backend).load('')).length;
  return ctx.pipeline.identity(ctx.model.name, dim);
}

/**
 * Cursors are opaque to clients: base64url of {"o": offset}. A cursor names a position in the
 * ranking, so it is meaningful only with the same query, and pages of a collection that changes
 * in between may overlap or skip (as with any offset pagination).
 */
export function encodeCursor(offset: number): string {
  return Buffer.from(JSON.stringify({ o: offset })).toString('base64url');
}

export function decodeCursor(cursor: string | null | undefined): number {
  if (cursor === null || cursor === undefined) return 0;
  try {
    if (cursor.length > 64) throw new Error('too long');
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { o?: unknown };
    if (Number.isSafeInteger(v.o) && (v.o as number) >= 0) return v.o as number;
  } catch {
    // fall through
  }
  throw new ClipqlError(ErrorCode.BAD_USER_INPUT, 'after: not a cursor this service gave (pass a SearchResult.endCursor)', { details: { argument: 'after' } });
}

export function collectionView(c: CollectionInfo, engine: string): Collection {
  return Object.assign(new Collection(), { name: c.name, model: c.model, modelFingerprint: c.fingerprint ?? undefined, dimension: c.dim, createdAt: c.createdAt, engine, m: c.hnsw.m, efConstruction: c.hnsw.efConstruction, count: undefined as unknown as number });
}

export function hitView(h: Hit, rank: number): SearchHit {
  return Object.assign(new SearchHit(), {
    id: h.id,
    rank,
    score: h.score,
    metadata: h.metadata,
    sha256: h.sha256,
    width: h.width,
    height: h.height,
    format: h.format,
    stored: h.thumbnail,
  });
}

