/**
 * The collection types of the schema: collections of stored image embeddings and their search
 * results. Plain data; the store (src/store) and the resolver (resolvers/collection.resolver.ts)
 * fill them.
 */
import 'reflect-metadata';
import { Field, Float, ID, Int, ObjectType } from 'type-graphql';
import { JSONScalar } from './json.scalar';

@ObjectType({ simpleResolvers: true, description: 'A collection of image embeddings, bound to one model.' })
export class Collection {
  @Field()
  name!: string;

  @Field({ description: 'The name of the model whose embeddings it holds (as it was served or run when the collection was made). Adding or searching with other weights, under any name, is MODEL_MISMATCH; the same weights under another name (an alias) are the same model.' })
  model!: string;

  @Field(() => String, { nullable: true, description: "That model's fingerprint: the sha256 of its weights and preprocessing, which the collection is bound to. Null for a collection made before fingerprints, until a model of its recorded name uses it." })
  modelFingerprint?: string;

  @Field(() => Int, { description: 'Embedding dimension D of that model.' })
  dimension!: number;

  @Field(() => Int, { description: 'Items it holds now.' })
  count!: number;

  @Field({ description: 'ISO 8601, UTC.' })
  createdAt!: string;

  @Field({ description: 'The store engine: pglite (embedded) or postgres (a server).' })
  engine!: string;

  @Field(() => Int, { description: "HNSW links per node (pgvector's m), chosen at creation." })
  m!: number;

  @Field(() => Int, { description: "HNSW candidate list while building (pgvector's ef_construction), chosen at creation." })
  efConstruction!: number;
}

/** What every answer that names a stored item shows of it (SearchHit, DuplicateItem). */
@ObjectType({ simpleResolvers: true })
export abstract class StoredItem {
  @Field(() => ID, { description: 'The id given to addImages.' })
  id!: string;

  @Field(() => JSONScalar, { nullable: true, description: 'The metadata given to addImages.' })
  metadata?: unknown;

  @Field({ description: 'SHA-256 of the image bytes, hex.' })
  sha256!: string;

  @Field(() => Int)
  width!: number;

  @Field(() => Int)
  height!: number;

  @Field()
  format!: string;

  /** The stored thumbnail's bytes (not a GraphQL field): encoded only when a query asks for `thumbnail`. */
  stored?: { readonly data: Uint8Array; readonly mime: string } | null;

  @Field(() => String, { nullable: true, description: 'A small thumbnail (longest side 96 px) as a data URL.' })
  get thumbnail(): string | undefined {
    const t = this.stored;
    return t ? `data:${t.mime};base64,${Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).toString('base64')}` : undefined;
  }
}

@ObjectType({ simpleResolvers: true, description: 'One stored image found by a search.' })
export class SearchHit extends StoredItem {
  @Field(() => Int, { description: '1 for the best hit of the whole search (pages continue the count).' })
  rank!: number;

  @Field(() => Float, { description: 'Cosine similarity to the query: the number the similarity matrix gives for this caption (or image) and this image.' })
  score!: number;
}

@ObjectType({ simpleResolvers: true, description: 'A page of search results, best first.' })
export class SearchResult {
  @Field()
  collection!: string;

  @Field({ description: 'The model the query was embedded with (the collection\'s).' })
  model!: string;

  @Field(() => [SearchHit])
  hits!: SearchHit[];

  @Field({ description: 'True when another page follows: pass endCursor as `after`.' })
  hasNextPage!: boolean;

  @Field({ nullable: true, description: 'The cursor after the last hit of this page; null when there are no hits.' })
  endCursor?: string;

  @Field({ description: 'True when the hits are the exact nearest neighbours (an exact scan: asked for with `exact`, or the collection has no HNSW index yet, as during a bulk load); false when they came through the HNSW index, which may miss some.' })
  exact!: boolean;

  @Field(() => Int, { description: 'The HNSW candidate list (hnsw.ef_search) the search ran with: `ef`, raised to the page\'s depth + 1 when that is larger.' })
  ef!: number;
}

@ObjectType({ simpleResolvers: true, description: "One stored item's id and the SHA-256 of its image: what a client indexing a folder compares its files with." })
export class ItemDigest {
  @Field(() => ID)
  id!: string;

  @Field({ description: 'SHA-256 of the image bytes, hex.' })
  sha256!: string;
}

@ObjectType({ simpleResolvers: true, description: 'A page of item digests, in id order.' })
export class ItemDigestPage {
  @Field()
  collection!: string;

  @Field(() => [ItemDigest])
  items!: ItemDigest[];

  @Field({ description: 'True when another page follows: pass endCursor as `after`.' })
  hasNextPage!: boolean;

  @Field(() => ID, { nullable: true, description: "The last item's id (the cursor of the next page); null when the page is empty." })
  endCursor?: string;
}

@ObjectType({ simpleResolvers: true, description: 'What addImages stored.' })
export class AddImagesResult {
  @Field()
  collection!: string;

  @Field(() => [ID], { description: 'The ids stored (added or replaced), in request order.' })
  ids!: string[];

  /** Resolved only when asked (WriteCountResolver): a count of the collection's rows is O(N). */
  count?: number;
}

@ObjectType({ simpleResolvers: true, description: 'What deleteItems removed.' })
export class DeleteItemsResult {
  @Field()
  collection!: string;

  @Field(() => [ID], { description: 'The ids that were there and are gone; unknown ids are not an error.' })
  deleted!: string[];

  /** Resolved only when asked (WriteCountResolver): a count of the collection's rows is O(N). */
  count?: number;
}
