import 'reflect-metadata';
import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { collectionAllowed } from '../../access/scopes';
import { ClipqlError, ErrorCode } from '../../errors';
import { checkCollectionName, checkDigestPage, checkEf, checkHnsw, checkItemIds, checkK, filterText, metadataText } from '../../store/limits';
import { AddImagesResult, Collection, DeleteItemsResult, ItemDigestPage, SearchResult } from '../collection.type';
import { collectionContext, collectionView, decodeCursor, encodeCursor, hitView, servedModel } from '../collection-requests';
import type { RequestContext } from '../context';
import { ImageInput } from '../inputs';
import { JSONScalar } from '../json.scalar';
import { checkCaptions, checkImages, imageEmbeddings, readImages, resolveBackend, textEmbeddings } from '../requests';
import { bindingOf, modelMismatch } from '../../store/store';
import { storedItem } from '../../store/new-item';

/** addImages' and search's `model`: one policy for every mix of models (served-models.ts). */
const COLLECTION_MODEL = "Served model to encode with (Query.models). When omitted: the served model holding the collection's weights (by fingerprint, under any name), else the default. It must be the collection's model, else MODEL_MISMATCH naming both; unknown: MODEL_NOT_FOUND.";

@Resolver(() => Collection)
export class CollectionResolver {
  @Query(() => [Collection], { description: "Every collection of the store, by name, with its model and item count; with API keys, only those the key's collections= covers." })
  async collections(@Ctx() ctx: RequestContext): Promise<Collection[]> {
    const store = await ctx.store();
    const scopes = ctx.caller?.scopes;
    return (await store.collections()).filter((c) => !scopes || collectionAllowed(scopes, c.name)).map((c) => collectionView(c, store.engine));
  }

  @FieldResolver(() => Int, { description: 'Items it holds now.' })
  async count(@Root() c: Collection, @Ctx() ctx: RequestContext): Promise<number> {
    return (await ctx.store()).count(c.name);
  }

  @Mutation(() => Collection, { description: 'A new, empty collection bound to a served model (COLLECTION_EXISTS if the name is taken): addImages and search with another model are MODEL_MISMATCH.' })
  async createCollection(
    @Arg('name') name: string,
    @Arg('model', () => String, { nullable: true, description: 'The served model to bind it to (Query.models); the default model when omitted. Unknown: MODEL_NOT_FOUND.' }) modelName: string | null,
    @Arg('m', () => Int, { defaultValue: 16, description: "HNSW links per node (pgvector's m), 2 to 100: more links, better recall, a larger and slower-to-build index." }) m: number,
    @Arg('efConstruction', () => Int, { defaultValue: 64, description: "HNSW candidate list while building (pgvector's ef_construction), 2 m to 1000." }) efConstruction: number,
    @Ctx() request: RequestContext,
  ): Promise<Collection> {
    checkCollectionName(name, 'name');
    checkHnsw(m, efConstruction);
    const ctx = request.forModel(modelName);
    const backend = await resolveBackend(ctx);
    const served = await servedModel(ctx, backend);
    const store = await ctx.store();
    return collectionView(await store.createCollection(name, served, { hnsw: { m, efConstruction } }), store.engine);
  }

  @Mutation(() => Boolean, { description: 'Deletes a collection and its items. True if it existed. Searches running at that moment finish first; later ones get COLLECTION_NOT_FOUND.' })
  async dropCollection(@Arg('name') name: string, @Ctx() ctx: RequestContext): Promise<boolean> {
    checkCollectionName(name, 'name');
    return (await ctx.store()).dropCollection(name);
  }

  @Mutation(() => AddImagesResult, { description: 'Encodes images (batched and cached, like every query) and stores them under the given ids, in one transaction. An id already there is replaced.' })
  async addImages(
    @Arg('collection') collection: string,
    @Arg('images', () => [ImageInput]) images: ImageInput[],
    @Arg('ids', () => [ID], { description: 'One per image, in order; unique within the call.' }) ids: string[],
    @Arg('metadata', () => [JSONScalar], { nullable: 'itemsAndList', description: 'One JSON value (or null) per image, in order; at most 8 KiB of JSON each.' }) metadata: unknown[] | null,
    @Arg('model', () => String, { nullable: true, description: COLLECTION_MODEL }) modelName: string | null,
    @Ctx() request: RequestContext,
  ): Promise<AddImagesResult> {
    checkCollectionName(collection);
    const ctx = await collectionContext(request, collection, modelName);
    checkImages(images, ctx);
    if (ids.length !== images.length) throw new ClipqlError(ErrorCode.BAD_USER_INPUT, `ids: ${ids.length} ids for ${images.length} images; give one id per image`, { details: { argument: 'ids' } });
    if (metadata && metadata.length !== images.length) throw new ClipqlError(ErrorCode.BAD_USER_INPUT, `metadata: ${metadata.length} values for ${images.length} images; give one (or null) per image`, { details: { argument: 'metadata' } });
    checkItemIds(ids);
    const meta = images.map((_, i) => metadataText(metadata?.[i], `metadata[${i}]`));
    const backend = await resolveBackend(ctx);
    const model = await servedModel(ctx, backend);
    const store = await ctx.store();
    // Before any encoding: a missing collection or another model's fails fast.
    const c = await store.collection(collection);
    if (!c) throw new ClipqlError(ErrorCode.COLLECTION_NOT_FOUND, `collection: there is no collection named "${collection}"`, { details: { argument: 'collection' } });
    if (bindingOf(c, model) === 'other') throw modelMismatch(collection, c, model);
    const refs = await readImages(images, ctx, 'images', 'store');
    const embeddings = await imageEmbeddings(refs, ctx, backend);
    await store.upsert(
      collection,
      { ...model, dim: embeddings[0].length },
      refs.map((r, i) => storedItem(ids[i], r.item!, embeddings[i], meta[i])),
    );
    return Object.assign(new AddImagesResult(), { collection, ids });
  }

  @Mutation(() => DeleteItemsResult, { description: 'Deletes items by id.' })
  async deleteItems(@Arg('collection') collection: string, @Arg('ids', () => [ID]) ids: string[], @Ctx() ctx: RequestContext): Promise<DeleteItemsResult> {
    checkCollectionName(collection);
    const store = await ctx.store();
    const deleted = await store.delete(collection, ids);
    return Object.assign(new DeleteItemsResult(), { collection, deleted });
  }

  @Query(() => ItemDigestPage, { description: "The collection's ids with the SHA-256 of each image, a page at a time in id order: what `clipql index --server` compares a folder with, to send only new and changed files." })
  async itemDigests(
    @Arg('collection') collection: string,
    @Arg('after', () => ID, { nullable: true, description: 'endCursor of the previous page (an id: the page starts after it).' }) after: string | null,
    @Arg('first', () => Int, { defaultValue: 1000, description: 'Items per page, 1 to 10,000.' }) first: number,
    @Ctx() ctx: RequestContext,
  ): Promise<ItemDigestPage> {
    checkCollectionName(collection);
    checkDigestPage(first);
    // One more row than asked tells whether a next page exists.
    const rows = await (await ctx.store()).digestPage(collection, after ?? null, first + 1);
    const items = rows.slice(0, first);
    return Object.assign(new ItemDigestPage(), { collection, items, hasNextPage: rows.length > first, endCursor: items.at(-1)?.id });
  }

  @Query(() => SearchResult, { description: 'The items nearest to a caption or an image (exactly one), by cosine similarity, best first: an exact scan of a small collection, else HNSW (approximate; see `exact`).' })
  async search(
    @Arg('collection') collection: string,
    @Arg('text', () => String, { nullable: true, description: 'A caption, encoded by the text tower (cached).' }) text: string | null,
    @Arg('image', () => ImageInput, { nullable: true, description: 'An image, encoded by the image tower (cached).' }) image: ImageInput | null,
    @Arg('k', () => Int, { defaultValue: 10, description: 'Hits per page, 1 to 100.' }) k: number,
    @Arg('filter', () => JSONScalar, { nullable: true, description: 'A JSON object the hits\' metadata must contain (PostgreSQL jsonb @>).' }) filter: unknown,
    @Arg('after', () => String, { nullable: true, description: 'endCursor of the previous page.' }) after: string | null,
    @Arg('model', () => String, { nullable: true, description: COLLECTION_MODEL }) modelName: string | null,
    @Arg('ef', () => Int, { nullable: true, description: "HNSW candidate list (hnsw.ef_search), 1 to 1000: higher, better recall and slower; the server's default (pgvector's 40) when omitted; raised to the page's depth + 1." }) ef: number | null,
    @Arg('exact', () => Boolean, { nullable: true, description: "true: compare every item (recall 1.0; time grows with the collection); false: the HNSW index; omitted: an exact scan where it is cheap (a collection of up to about 1,000 items of D = 768, 4,000 with a filter: docs/collections.md), else the index. The answer's `exact` says which." }) exact: boolean | null,
    @Ctx() request: RequestContext,
  ): Promise<SearchResult> {
    checkCollectionName(collection);
    const ctx = await collectionContext(request, collection, modelName);
    if ((text === null || text === undefined) === (image === null || image === undefined)) {
      throw new ClipqlError(ErrorCode.BAD_USER_INPUT, 'text: give exactly one of text and image', { details: { argument: 'text' } });
    }
    checkK(k);
    if (ef !== null && ef !== undefined) checkEf(ef);
    const offset = decodeCursor(after);
    const filterJson = filterText(filter);
    const backend = await resolveBackend(ctx);
    const model = await servedModel(ctx, backend);
    let query: Float32Array;
    if (text !== null && text !== undefined) {
      checkCaptions([text], ctx, 'text');
      [query] = await textEmbeddings([text], ctx, backend, 'text');
    } else {
      const refs = await readImages([image!], ctx, 'image');
      [query] = await imageEmbeddings(refs, ctx, backend, 'image');
    }
    const store = await ctx.store();
    // One more row than asked tells whether a next page exists.
    const found = await store.search(collection, { ...model, dim: query.length }, query, { k, offset, filter: filterJson, lookahead: true, ef: ef ?? undefined, exact: exact ?? undefined });
    const rows = found.hits;
    const hits = rows.slice(0, k).map((h, i) => hitView(h, offset + i + 1));
    return Object.assign(new SearchResult(), {
      collection,
      model: model.name,
      hits,
      hasNextPage: rows.length > k,
      endCursor: hits.length ? encodeCursor(offset + hits.length) : undefined,
      exact: found.exact,
      ef: found.ef,
    });
  }
}

/** Counting a collection's rows is O(N): a write counts only when its result's `count` is asked for. */
const WRITE_COUNT = 'Items in the collection afterwards: a count of its rows, O(N) in its size, made only when this field is asked for.';

@Resolver(() => AddImagesResult)
export class AddImagesCountResolver {
  @FieldResolver(() => Int, { description: WRITE_COUNT })
  async count(@Root() r: AddImagesResult, @Ctx() ctx: RequestContext): Promise<number> {
    return (await ctx.store()).count(r.collection);
  }
}

@Resolver(() => DeleteItemsResult)
export class DeleteItemsCountResolver {
  @FieldResolver(() => Int, { description: WRITE_COUNT })
  async count(@Root() r: DeleteItemsResult, @Ctx() ctx: RequestContext): Promise<number> {
    return (await ctx.store()).count(r.collection);
  }
}
