/**
 * Collections of image embeddings, searched by cosine similarity, on a StoreDriver (PGlite or a
 * PostgreSQL server: the same SQL with pgvector for both). CollectionStore is the one object the
 * rest of clipql holds; the work is in three modules:
 *
 *   catalogue.ts   the collections (name, model, D, HNSW parameters), the model check, error codes
 *   items.ts       a collection's items: writes, bulk loads, digests, deletes, index builds
 *   search.ts      the k nearest items to a query (exact scan or HNSW, nearest.ts)
 *
 * A collection is bound to a model (its name and dimension D). Its items live in
 * clip_items_<id> (items-table.ts) with a vector(D) column under an HNSW index (cosine ops).
 * Embeddings are stored L2-normalised as float32, so `1 - (a <=> b)`, the score of a hit, is the
 * cosine the similarity matrix gives for the same pair (up to float32 rounding, ~1e-7).
 */
import { Catalogue, guard, type CollectionInfo, type ModelRef } from './catalogue';
import type { StoreDriver } from './driver';
import * as items from './items';
import type { HnswParams } from './items-table';
import { checkDuplicateOptions, DEFAULT_DUPLICATE_THRESHOLD, duplicateEf, duplicatePage, type DuplicateOptions, type DuplicatePage } from './duplicates';
import { migrate } from './migrate';
import type { ExactScanPages, SearchResult } from './nearest';
import { Searcher, type SearchOptions } from './search';

export type { Hit, SearchResult } from './nearest';
export { bindingOf, modelMismatch, type CollectionInfo, type ModelRef } from './catalogue';
export { BUILD_AFTER_MIN_ITEMS, buildMemoryMiB, type BulkLoadOptions, type BulkLoadResult, type NewItem } from './items';
export { DEFAULT_EF_SEARCH, searchSession, type SearchOptions } from './search';

export interface StoreOptions extends items.BuildOptions {
  /** hnsw.ef_search for queries (pgvector's default 40); raised to offset + k when that is larger. */
  readonly efSearch?: number;
  /** Default HNSW parameters of new collections (pgvector's: m 16, ef_construction 64). */
  readonly hnsw?: HnswParams;
  /** Table sizes up to which a search that does not say `exact` scans exactly (nearest.ts; default EXACT_SCAN_PAGES). */
  readonly exactScanPages?: ExactScanPages;
  /** `duplicates`' threshold when a call gives none (CLIP_DUPLICATE_THRESHOLD; default DEFAULT_DUPLICATE_THRESHOLD). */
  readonly duplicateThreshold?: number;
}

export class CollectionStore {
  private readonly cat: Catalogue;
  private readonly searcher: Searcher;

  private constructor(
    readonly driver: StoreDriver,
    private readonly options: StoreOptions,
  ) {
    this.cat = new Catalogue(driver, options.hnsw);
    this.searcher = new Searcher(this.cat, options.efSearch, options.exactScanPages);
  }

  /** Applies pending migrations, then serves. */
  static async open(driver: StoreDriver, options: StoreOptions = {}): Promise<CollectionStore> {
    await guard(() => migrate(driver));
    return new CollectionStore(driver, options);
  }

  get engine(): StoreDriver['engine'] {
    return this.driver.engine;
  }

  createCollection(name: string, model: ModelRef, options: { readonly hnsw?: Partial<HnswParams> } = {}): Promise<CollectionInfo> {
    return this.cat.create(name, model, options);
  }

  /** Resolves to false when there was no such collection. */
  dropCollection(name: string): Promise<boolean> {
    return this.cat.drop(name);
  }

  collections(): Promise<CollectionInfo[]> {
    return this.cat.list();
  }

  collection(name: string): Promise<CollectionInfo | undefined> {
    return this.cat.get(name);
  }

  /** Items in a collection (COLLECTION_NOT_FOUND if it is gone): a count(*), O(N). */
  count(name: string): Promise<number> {
    return items.countItems(this.cat, name);
  }

  /**
   * Adds or replaces items by id, all in one transaction (all or none). `model` is the model the
   * embeddings come from: MODEL_MISMATCH unless it is the collection's.
   */
  upsert(name: string, model: ModelRef, rows: readonly items.NewItem[]): Promise<number> {
    return items.upsertItems(this.cat, name, model, rows);
  }

  /**
   * Many items at once, for a first load or an indexer: many rows per statement, one transaction
   * per chunk (each all or nothing), and, when the collection is empty and the load large
   * (BUILD_AFTER_MIN_ITEMS), its HNSW index dropped first and built once after the rows, as
   * pgvector advises (row by row, each insert walks the graph). The collection stays searchable
   * throughout: while it has no index a search is an exact scan and says so (SearchResult.exact),
   * and the build (CREATE INDEX, which takes a SHARE lock) blocks writers only, not searches.
   * Ids repeated across calls replace, as upsert does.
   */
  bulkLoad(name: string, model: ModelRef, rows: readonly items.NewItem[], options: items.BulkLoadOptions = {}): Promise<items.BulkLoadResult> {
    return items.bulkLoad(this.cat, this.options, name, model, rows, options);
  }

  /**
   * The first step of a bulk load of `expected` items: when the collection is empty and the load
   * large (BUILD_AFTER_MIN_ITEMS), drops its HNSW index so that ensureIndex builds it once after
   * the rows. Resolves to whether it did. (bulkLoad and the folder indexer call it.)
   */
  deferIndex(name: string, model: ModelRef, expected: number): Promise<boolean> {
    return items.deferIndex(this.cat, name, model, expected);
  }

  /** Every item's id and sha256: what an indexer compares a folder with. */
  digests(name: string): Promise<Map<string, string>> {
    return items.digests(this.cat, name);
  }

  /**
   * One page of id -> sha256, in id order after `after` (exclusive; null: from the start), at
   * most `limit` rows: what a client indexing through the server compares its files with.
   */
  digestPage(name: string, after: string | null, limit: number): Promise<Array<{ id: string; sha256: string }>> {
    return items.digestPage(this.cat, name, after, limit);
  }

  /**
   * Builds the collection's HNSW index if it has none (after a bulk load, or one that was
   * interrupted), with its own m and ef_construction, maintenance_work_mem sized for its rows
   * (up to buildMemoryMiB) and, on a server, parallel maintenance workers. Resolves to the
   * seconds the build took, 0 when the index was there.
   */
  ensureIndex(name: string): Promise<number> {
    return items.ensureIndex(this.cat, this.options, name);
  }

  /** Deletes items by id; resolves to the ids that were there. Unknown ids are not an error. */
  delete(name: string, ids: readonly string[]): Promise<string[]> {
    return items.deleteItems(this.cat, name, ids);
  }

  /** The k items nearest to `query` by cosine, best first, after skipping `offset` (search.ts). */
  search(name: string, model: ModelRef, query: Float32Array, options: SearchOptions): Promise<SearchResult> {
    return this.searcher.search(name, model, query, options);
  }

  /** One page of near-duplicate groups (duplicates.ts: the graph, the walk, the bounds). */
  async duplicates(name: string, options: DuplicateOptions): Promise<DuplicatePage> {
    const o = checkDuplicateOptions({ ...options, threshold: options.threshold ?? this.options.duplicateThreshold ?? DEFAULT_DUPLICATE_THRESHOLD });
    return this.cat.withCollection(name, undefined, (tx, c) => duplicatePage(tx, c.id, o), { lock: false, efSearch: duplicateEf(o.k) });
  }

  /** The stored (normalised) embedding of one item, or undefined. For tests and tools. */
  embedding(name: string, id: string): Promise<Float32Array | undefined> {
    return items.embedding(this.cat, name, id);
  }

  close(): Promise<void> {
    return this.driver.close();
  }
}
