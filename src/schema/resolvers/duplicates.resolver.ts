import 'reflect-metadata';
import { Arg, Ctx, Float, Int, Query, Resolver } from 'type-graphql';
import { checkCollectionName } from '../../store/limits';
import { DEFAULT_K, DEFAULT_SCAN, MAX_FIRST, MAX_K, MAX_SCAN } from '../../store/duplicates';
import type { RequestContext } from '../context';
import { DuplicateGroup, DuplicateItem, DuplicatePage } from '../duplicates.type';

@Resolver()
export class DuplicatesResolver {
  @Query(() => DuplicatePage, {
    description:
      "Near-duplicates in a collection: groups of items whose embeddings are within a cosine threshold, found through the collection's HNSW index (each item's k nearest, not all pairs); exact byte duplicates are marked (sameBytes, identical). A page walks up to `scan` items in id order: follow endCursor while hasNextPage.",
  })
  async duplicates(
    @Arg('collection') collection: string,
    @Arg('threshold', () => Float, { nullable: true, description: "Cosine at or above which two items are near-duplicates, above 0 and at most 1; the server's CLIP_DUPLICATE_THRESHOLD when omitted (0.95 unless set). It depends on the model: docs/collections.md#near-duplicates." }) threshold: number | null,
    @Arg('k', () => Int, { defaultValue: DEFAULT_K, description: `Neighbours looked at per item (the index's k nearest), 1 to ${MAX_K}: an item with more near-duplicates than k may be joined through the others.` }) k: number,
    @Arg('first', () => Int, { defaultValue: 20, description: `Groups a page at most, 1 to ${MAX_FIRST}.` }) first: number,
    @Arg('scan', () => Int, { defaultValue: DEFAULT_SCAN, description: `Items a page walks at most, 1 to ${MAX_SCAN} (bounds a page's time: each item is one index search).` }) scan: number,
    @Arg('after', () => String, { nullable: true, description: 'endCursor of the previous page.' }) after: string | null,
    @Ctx() ctx: RequestContext,
  ): Promise<DuplicatePage> {
    checkCollectionName(collection);
    const page = await (await ctx.store()).duplicates(collection, { threshold: threshold ?? undefined, k, first, scan, after });
    return Object.assign(new DuplicatePage(), {
      collection,
      threshold: page.threshold,
      scanned: page.scanned,
      hasNextPage: page.endCursor !== null,
      endCursor: page.endCursor ?? undefined,
      groups: page.groups.map((g) =>
        Object.assign(new DuplicateGroup(), {
          identical: g.identical,
          complete: g.complete,
          items: g.items.map(({ thumbnail, ...i }) => Object.assign(new DuplicateItem(), { ...i, stored: thumbnail })),
        }),
      ),
    });
  }
}
