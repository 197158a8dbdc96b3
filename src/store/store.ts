/**
 * Collections of image embeddings, searched by cosine similarity: one module that speaks SQL with
 * pgvector to a StoreDriver (PGlite or a PostgreSQL server: the same SQL for both).
 *
 * A collection is bound to a model (its name and dimension D). Its items live in
 * clip_items_<id> (items-table.ts) with a vector(D) column under an HNSW index (cosine ops).
 * Embeddings are stored L2-normalised as float32, so `1 - (a <=> b)`, the score of a hit, is the
 * cosine the similarity matrix gives for the same pair (up to float32 rounding, ~1e-7).
 *
 * Concurrency: writes to a collection's items first lock its catalogue row (FOR SHARE); dropping
 * deletes that row first, then the table. So a drop waits for inserts already running, and those
 * that start after it find no collection (COLLECTION_NOT_FOUND). Reads (search, count) take no row
 * lock (a row lock would make every search a writing transaction, with a WAL flush at its
 * commit): a search holds the table's AccessShare lock while it reads, so a drop waits for it,
 * and a search that reaches the table after a drop committed gets "relation does not exist",
 * answered as COLLECTION_NOT_FOUND too.
 * Every write is one transaction: a process killed mid-call loses only unacknowledged work.
 *
 * A search is one statement when it can be: the store remembers each collection it has read
 * (name → id, model, D; a collection's id is never reused, so what an id names never changes),
 * and a driver opened with searchSession() already has hnsw.ef_search and iterative scans set on
 * every connection. A search by a remembered name with the session's ef_search is then only the
 * index query: no BEGIN, catalogue read or COMMIT. If the collection was dropped meanwhile (by
 * this process or another replica), the table is gone ("relation does not exist"): the store
 * forgets the name and takes the full path, which finds the new collection of that name or none.
 */
import { ClipqlError, ErrorCode } from '../errors';
import { normalizeRows } from '../similarity/similarity';
import { pgTextArray, SqlError, type Queryable, type SessionSettings, type SqlValue, type StoreDriver } from './driver';
import { checkDuplicateOptions, DEFAULT_DUPLICATE_THRESHOLD, duplicateEf, duplicatePage, type DuplicateOptions, type DuplicatePage } from './duplicates';
import { createItemsTableSql, DEFAULT_HNSW, hnswIndexSql, itemsTable, type HnswParams } from './items-table';
import { checkCollectionName, checkDepth, checkEf, checkHnsw, checkItemId, checkItemIds, checkK, MAX_EF_SEARCH, STORE_LIMITS } from './limits';
import { migrate } from './migrate';
import { nearest, planFor, type SearchPlan, type ExactScanPages, type SearchResult } from './nearest';

export type { Hit, SearchResult } from './nearest';

/** The model whose embeddings a collection holds. */
export interface ModelRef {
  readonly name: string;
  readonly dim: number;
}

export interface CollectionInfo {
  readonly id: number;
  readonly name: string;
  readonly model: string;
  readonly dim: number;
  /** ISO 8601. */
  readonly createdAt: string;
  /** The HNSW parameters its index is built with (chosen at creation; migration 002). */
  readonly hnsw: HnswParams;
}

export interface NewItem {
  readonly id: string;
  /** Raw or normalised; stored normalised. Its length must be the collection's D. */
  readonly embedding: Float32Array;
  /** Compact JSON text (limits.ts metadataText), or null. */
  readonly metadata: string | null;
  readonly sha256: string;
  readonly width: number;
  readonly height: number;
  readonly format: string;
  readonly thumbnail: { readonly data: Uint8Array; readonly mime: string } | null;
}

export interface SearchOptions {
  readonly k: number;
  /** Hits to skip (pagination). */
  readonly offset?: number;
  /** JSON object text the metadata must contain (jsonb @>), or null. */
  readonly filter?: string | null;
  /** Fetch one row more than k (the caller tells from it whether a next page exists). */
  readonly lookahead?: boolean;
  /** hnsw.ef_search for this search (1..1000; raised to offset + k + 1); default the store's. */
  readonly ef?: number;
  /**
   * true: an exact scan (every item compared: recall 1.0, time linear in the collection's size);
   * false: the HNSW index; omitted: an exact scan where it is cheap, else the index (nearest.ts).
   */
  readonly exact?: boolean;
}

export interface BulkLoadOptions {
  /** Rows per statement and transaction (default 200). */
  readonly chunk?: number;
  /** Called after each committed chunk with the number stored so far. */
  readonly onProgress?: (stored: number) => void | Promise<void>;
  /** Stops between chunks: what was committed stays, whole; the index is then left to the next bulkLoad or ensureIndex. */
  readonly signal?: AbortSignal;
}

export interface BulkLoadResult {
  readonly stored: number;
  /** Whether the HNSW index was dropped for the load and built once after it (an empty collection and a large load). */
  readonly indexBuiltAfter: boolean;
  /** Seconds the index build took (0 when none). */
  readonly indexSeconds: number;
}

export interface StoreOptions {
  /** hnsw.ef_search for queries (pgvector's default 40); raised to offset + k when that is larger. */
  readonly efSearch?: number;
  /** Default HNSW parameters of new collections (pgvector's: m 16, ef_construction 64). */
  readonly hnsw?: HnswParams;
  /** Most maintenance_work_mem an index build may take, MiB (default 1024 on a server, 256 on PGlite). */
  readonly buildMemoryMiB?: number;
  /** max_parallel_maintenance_workers for an index build on a server (default 2; PGlite has none). */
  readonly buildWorkers?: number;
  /** Table sizes up to which a search that does not say `exact` scans exactly (nearest.ts; default EXACT_SCAN_PAGES). */
  readonly exactScanPages?: ExactScanPages;
  /** `duplicates`' threshold when a call gives none (CLIP_DUPLICATE_THRESHOLD; default DEFAULT_DUPLICATE_THRESHOLD). */
  readonly duplicateThreshold?: number;
}

/** A load into an empty collection of at least this many items builds the index after the rows. */
export const BUILD_AFTER_MIN_ITEMS = 1000;

export const DEFAULT_EF_SEARCH = 40;
/** Collections remembered by name (see the file comment); the oldest is forgotten past this. */
const KNOWN_COLLECTIONS = 1024;

/** Sets key to value as the newest entry of `m`, forgetting the oldest past KNOWN_COLLECTIONS. */
function keep<K, V>(m: Map<K, V>, key: K, value: V): void {
  m.delete(key);
  if (m.size >= KNOWN_COLLECTIONS) m.delete(m.keys().next().value!);
  m.set(key, value);
}

/**
 * The session settings that let a search with `efSearch` be one statement: give them to the
 * driver (StoreDriver.session) and the same efSearch to CollectionStore.open.
 */
export function searchSession(efSearch = DEFAULT_EF_SEARCH): SessionSettings {
  return { 'hnsw.ef_search': String(efSearch), 'hnsw.iterative_scan': 'strict_order' };
}

export class CollectionStore {
  private readonly known = new Map<string, CollectionInfo>();
  /** Each collection's table size (pages) as its last search saw it, by id (never reused): the next search's plan (nearest.ts). */
  private readonly pages = new Map<number, number>();

  private constructor(
    readonly driver: StoreDriver,
    private readonly options: StoreOptions,
  ) {}

  /** Applies pending migrations, then serves. */
  static async open(driver: StoreDriver, options: StoreOptions = {}): Promise<CollectionStore> {
    await guard(() => migrate(driver));
    return new CollectionStore(driver, options);
  }

  get engine(): StoreDriver['engine'] {
    return this.driver.engine;
  }

  async createCollection(name: string, model: ModelRef, options: { readonly hnsw?: Partial<HnswParams> } = {}): Promise<CollectionInfo> {
    checkCollectionName(name, 'name');
    const base = this.options.hnsw ?? DEFAULT_HNSW;
    const hnsw = checkHnsw(options.hnsw?.m ?? base.m, options.hnsw?.efConstruction ?? base.efConstruction);
    return guard(
      () =>
        this.driver.transaction(async (tx) => {
          const [row] = await tx.query<CollectionRow>(`INSERT INTO clip_collections (name, model, dim, hnsw_m, hnsw_ef_construction) VALUES ($1, $2, $3, $4, $5) RETURNING ${COLLECTION_COLUMNS}`, [name, model.name, model.dim, hnsw.m, hnsw.efConstruction]);
          for (const s of createItemsTableSql(row.id, model.dim, hnsw)) await tx.query(s);
          return collectionInfo(row);
        }),
      { collection: name },
    );
  }

  /** Resolves to false when there was no such collection. */
  async dropCollection(name: string): Promise<boolean> {
    checkCollectionName(name, 'name');
    return guard(() =>
      this.driver.transaction(async (tx) => {
        this.known.delete(name);
        const rows = await tx.query<{ id: number }>('DELETE FROM clip_collections WHERE name = $1 RETURNING id', [name]);
        if (rows.length === 0) return false;
        await tx.query(`DROP TABLE IF EXISTS ${itemsTable(rows[0].id)}`);
        return true;
      }),
    );
  }

  async collections(): Promise<CollectionInfo[]> {
    return guard(async () => (await this.driver.query<CollectionRow>(`SELECT ${COLLECTION_COLUMNS} FROM clip_collections ORDER BY name`)).map(collectionInfo));
  }

  async collection(name: string): Promise<CollectionInfo | undefined> {
    checkCollectionName(name);
    const rows = await guard(() => this.driver.query<CollectionRow>(`SELECT ${COLLECTION_COLUMNS} FROM clip_collections WHERE name = $1`, [name]));
    return rows[0] && collectionInfo(rows[0]);
  }

  /** Items in a collection (COLLECTION_NOT_FOUND if it is gone). */
  async count(name: string): Promise<number> {
    return this.withCollection(name, undefined, async (tx, c) => (await tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${itemsTable(c.id)}`))[0].n, { lock: false });
  }

  /**
   * Adds or replaces items by id, all in one transaction (all or none). `model` is the model the
   * embeddings come from: MODEL_MISMATCH unless it is the collection's.
   */
  async upsert(name: string, model: ModelRef, items: readonly NewItem[]): Promise<number> {
    checkItems(items, model);
    return this.withCollection(name, model, async (tx, c) => {
      const t = itemsTable(c.id);
      for (let i = 0; i < items.length; i += 200) await insertRows(tx, t, items.slice(i, i + 200), (v) => this.driver.vector(v));
      return items.length;
    });
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
  async bulkLoad(name: string, model: ModelRef, items: readonly NewItem[], options: BulkLoadOptions = {}): Promise<BulkLoadResult> {
    checkItems(items, model);
    const chunk = Math.max(1, Math.min(options.chunk ?? 200, 5000));
    const deferred = await this.deferIndex(name, model, items.length);
    let stored = 0;
    for (let i = 0; i < items.length; i += chunk) {
      options.signal?.throwIfAborted();
      const part = items.slice(i, i + chunk);
      await this.withCollection(name, model, (tx, c) => insertRows(tx, itemsTable(c.id), part, (v) => this.driver.vector(v)));
      stored += part.length;
      await options.onProgress?.(stored);
    }
    options.signal?.throwIfAborted();
    const indexSeconds = await this.ensureIndex(name);
    return { stored, indexBuiltAfter: deferred, indexSeconds };
  }

  /**
   * The first step of a bulk load of `expected` items: when the collection is empty and the load
   * large (BUILD_AFTER_MIN_ITEMS), drops its HNSW index so that ensureIndex builds it once after
   * the rows. Resolves to whether it did. (bulkLoad and the folder indexer call it.)
   */
  async deferIndex(name: string, model: ModelRef, expected: number): Promise<boolean> {
    return this.withCollection(name, model, async (tx, c) => {
      if (expected < BUILD_AFTER_MIN_ITEMS) return false;
      const t = itemsTable(c.id);
      const [{ empty }] = await tx.query<{ empty: boolean }>(`SELECT NOT EXISTS (SELECT 1 FROM ${t}) AS empty`);
      if (empty) await tx.query(`DROP INDEX IF EXISTS ${t}_hnsw`);
      return empty;
    });
  }

  /** Every item's id and sha256: what an indexer compares a folder with. */
  async digests(name: string): Promise<Map<string, string>> {
    return this.withCollection(name, undefined, async (tx, c) => new Map((await tx.query<{ item_id: string; sha256: string }>(`SELECT item_id, sha256 FROM ${itemsTable(c.id)}`)).map((r) => [r.item_id, r.sha256])), { lock: false });
  }

  /**
   * One page of id -> sha256, in id order after `after` (exclusive; null: from the start), at
   * most `limit` rows: what a client indexing through the server compares its files with. Keyset
   * pages (on the primary key), so a page costs the same however deep it is.
   */
  async digestPage(name: string, after: string | null, limit: number): Promise<Array<{ id: string; sha256: string }>> {
    return this.withCollection(
      name,
      undefined,
      async (tx, c) =>
        (await tx.query<{ item_id: string; sha256: string }>(`SELECT item_id, sha256 FROM ${itemsTable(c.id)} WHERE $1::text IS NULL OR item_id > $1 ORDER BY item_id LIMIT $2`, [after, limit])).map((r) => ({ id: r.item_id, sha256: r.sha256 })),
      { lock: false },
    );
  }

  /**
   * Builds the collection's HNSW index if it has none (after a bulk load, or one that was
   * interrupted), with its own m and ef_construction, maintenance_work_mem sized for its rows
   * (up to buildMemoryMiB) and, on a server, parallel maintenance workers. Resolves to the
   * seconds the build took, 0 when the index was there.
   */
  async ensureIndex(name: string): Promise<number> {
    return this.withCollection(name, undefined, async (tx, c) => {
      const t = itemsTable(c.id);
      const [{ present }] = await tx.query<{ present: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS present`, [`${t}_hnsw`]);
      if (present) return 0;
      const [{ n }] = await tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${t}`);
      const cap = this.options.buildMemoryMiB ?? (this.driver.engine === 'postgres' ? 1024 : 256);
      await tx.query("SELECT set_config('maintenance_work_mem', $1, true)", [`${buildMemoryMiB(n, c.dim, c.hnsw.m, cap)}MB`]);
      if (this.driver.engine === 'postgres') await tx.query("SELECT set_config('max_parallel_maintenance_workers', $1, true)", [String(this.options.buildWorkers ?? 2)]);
      const started = performance.now();
      await tx.query(hnswIndexSql(c.id, c.hnsw));
      return (performance.now() - started) / 1000;
    });
  }

  /** Deletes items by id; resolves to the ids that were there. Unknown ids are not an error. */
  async delete(name: string, ids: readonly string[]): Promise<string[]> {
    checkItemIds(ids, 'ids', STORE_LIMITS.maxDeleteIds);
    return this.withCollection(name, undefined, async (tx, c) => (await tx.query<{ item_id: string }>(`DELETE FROM ${itemsTable(c.id)} WHERE item_id = ANY($1::text[]) RETURNING item_id`, [pgTextArray(ids)])).map((r) => r.item_id));
  }

  /**
   * The k items nearest to `query` by cosine, best first, after skipping `offset`: an exact scan
   * or the HNSW index (approximate), as options.exact says, else by the collection's size
   * (nearest.ts). hnsw.ef_search is raised to offset + k, and iterative index scans (strict order)
   * keep a filtered or deep page full: without them HNSW returns at most ef_search rows before the
   * filter is applied.
   */
  async search(name: string, model: ModelRef, query: Float32Array, options: SearchOptions): Promise<SearchResult> {
    const k = checkK(options.k);
    const offset = options.offset ?? 0;
    checkDepth(offset, k);
    if (query.length !== model.dim) throw new RangeError(`a query of ${query.length} values for a model of D = ${model.dim}`);
    const wanted = options.ef === undefined ? (this.options.efSearch ?? DEFAULT_EF_SEARCH) : checkEf(options.ef);
    const ef = Math.min(MAX_EF_SEARCH, Math.max(wanted, offset + k + 1));
    const params: SqlValue[] = [this.driver.vector(normalizeRows(query, 1, query.length)), k + (options.lookahead ? 1 : 0), offset];
    if (options.filter) params.push(options.filter);
    const known = this.known.get(name);
    if (known && known.model === model.name && known.dim === model.dim && this.sessionHas(ef)) {
      try {
        return await guard(() => this.nearest(this.driver, known.id, params, options.exact, ef), { collection: name });
      } catch (e) {
        // Dropped since it was remembered: forget it and take the full path below.
        if (!(e instanceof ClipqlError && e.code === ErrorCode.COLLECTION_NOT_FOUND)) throw e;
        if (this.known.get(name) === known) this.known.delete(name);
      }
    }
    return this.withCollection(name, model, (tx, c) => this.nearest(tx, c.id, params, options.exact, ef), { lock: false, efSearch: ef });
  }

  /** One search's statement, its plan as told (`exact`) or chosen by the size its collection's last search saw. */
  private async nearest(q: Queryable, id: number, params: readonly SqlValue[], exact: boolean | undefined, ef: number): Promise<SearchResult> {
    const plan: SearchPlan = exact === undefined ? planFor(this.pages.get(id), params.length > 3, this.options.exactScanPages) : exact ? 'exact' : 'index';
    const result = await nearest(q, id, params, plan, ef, this.options.exactScanPages);
    keep(this.pages, id, result.pages);
    return result;
  }

  /** Whether every connection already searches with this ef_search (and strict-order iterative scans). */
  private sessionHas(ef: number): boolean {
    const session = this.driver.session;
    return session['hnsw.ef_search'] === String(ef) && session['hnsw.iterative_scan'] === 'strict_order';
  }

  private remember(c: CollectionInfo): void {
    keep(this.known, c.name, c);
  }

  /** One page of near-duplicate groups (duplicates.ts: the graph, the walk, the bounds). */
  async duplicates(name: string, options: DuplicateOptions): Promise<DuplicatePage> {
    const o = checkDuplicateOptions({ ...options, threshold: options.threshold ?? this.options.duplicateThreshold ?? DEFAULT_DUPLICATE_THRESHOLD });
    return this.withCollection(name, undefined, (tx, c) => duplicatePage(tx, c.id, o), { lock: false, efSearch: duplicateEf(o.k) });
  }

  /** The stored (normalised) embedding of one item, or undefined. For tests and tools. */
  async embedding(name: string, id: string): Promise<Float32Array | undefined> {
    checkItemId(id, 'id');
    return this.withCollection(name, undefined, async (tx, c) => {
      const rows = await tx.query<{ e: string }>(`SELECT embedding::text AS e FROM ${itemsTable(c.id)} WHERE item_id = $1`, [id]);
      return rows[0] ? Float32Array.from(JSON.parse(rows[0].e) as number[]) : undefined;
    }, { lock: false });
  }

  close(): Promise<void> {
    return this.driver.close();
  }

  /**
   * Runs `fn` in a transaction after checking that the collection exists and, when `model` is
   * given, is bound to it. `lock` (writes) holds the catalogue row FOR SHARE until the end (see
   * the file comment); `efSearch` sets hnsw.ef_search and strict-order iterative scans for this
   * transaction, in the same statement as the catalogue read (one round trip fewer).
   */
  private withCollection<T>(name: string, model: ModelRef | undefined, fn: (tx: Queryable, c: CollectionInfo) => Promise<T>, mode: { lock: boolean; efSearch?: number } = { lock: true }): Promise<T> {
    checkCollectionName(name);
    const settings = mode.efSearch === undefined ? '' : ", set_config('hnsw.ef_search', $2, true) AS ef, set_config('hnsw.iterative_scan', 'strict_order', true) AS scan";
    const sql = `SELECT ${COLLECTION_COLUMNS}${settings} FROM clip_collections WHERE name = $1${mode.lock ? ' FOR SHARE' : ''}`;
    return guard(
      () =>
        this.driver.transaction(async (tx) => {
          const rows = await tx.query<CollectionRow>(sql, mode.efSearch === undefined ? [name] : [name, String(mode.efSearch)]);
          if (rows.length === 0) throw notFound(name);
          const c = collectionInfo(rows[0]);
          this.remember(c);
          if (model && (model.name !== c.model || model.dim !== c.dim)) {
            throw modelMismatch(name, c, model);
          }
          return fn(tx, c);
        }),
      { collection: name },
    );
  }
}


function checkItems(items: readonly NewItem[], model: ModelRef): void {
  checkItemIds(items.map((i) => i.id), 'ids');
  for (const it of items) {
    if (it.embedding.length !== model.dim) throw new RangeError(`an embedding of ${it.embedding.length} values for a model of D = ${model.dim}`);
    if (it.thumbnail && it.thumbnail.data.length > STORE_LIMITS.maxThumbnailBytes) throw new RangeError(`a thumbnail of ${it.thumbnail.data.length} bytes (limit ${STORE_LIMITS.maxThumbnailBytes})`);
  }
}

const ITEM_COLUMNS = 9;

/** One INSERT ... VALUES (...), (...) ... ON CONFLICT DO UPDATE for `rows` (9 parameters a row). */
async function insertRows(tx: Queryable, t: string, rows: readonly NewItem[], vector: (v: Float32Array) => SqlValue): Promise<void> {
  const values: string[] = [];
  const params: SqlValue[] = [];
  for (const it of rows) {
    const b = params.length;
    values.push(`($${b + 1}, $${b + 2}::vector, $${b + 3}::jsonb, $${b + 4}, $${b + 5}, $${b + 6}, $${b + 7}, $${b + 8}, $${b + 9})`);
    params.push(it.id, vector(normalizeRows(it.embedding, 1, it.embedding.length)), it.metadata, it.sha256, it.width, it.height, it.format, it.thumbnail?.data ?? null, it.thumbnail?.mime ?? null);
  }
  if (params.length !== rows.length * ITEM_COLUMNS) throw new Error('insertRows: column count');
  await tx.query(
    `INSERT INTO ${t} (item_id, embedding, metadata, sha256, width, height, format, thumbnail, thumbnail_mime)
     VALUES ${values.join(', ')}
     ON CONFLICT (item_id) DO UPDATE SET embedding = EXCLUDED.embedding, metadata = EXCLUDED.metadata, sha256 = EXCLUDED.sha256,
       width = EXCLUDED.width, height = EXCLUDED.height, format = EXCLUDED.format, thumbnail = EXCLUDED.thumbnail,
       thumbnail_mime = EXCLUDED.thumbnail_mime, added_at = now()`,
    params,
  );
}

/**
 * maintenance_work_mem for building the HNSW graph of n vectors of D in memory (pgvector builds
 * much slower once the graph outgrows it): per element the vector (4 D + 8 bytes), about 2 m
 * neighbours on layer 0 and m above at ~12 bytes each, and ~200 bytes of element overhead, plus a
 * quarter; at least 64 MiB, at most `capMiB`.
 */
export function buildMemoryMiB(n: number, dim: number, m: number, capMiB: number): number {
  const bytes = n * (4 * dim + 8 + 36 * m + 200) * 1.25;
  return Math.max(64, Math.min(capMiB, Math.ceil(bytes / 2 ** 20)));
}

const COLLECTION_COLUMNS = "id, name, model, dim, hnsw_m, hnsw_ef_construction, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS created_at";

interface CollectionRow {
  id: number;
  name: string;
  model: string;
  dim: number;
  hnsw_m: number;
  hnsw_ef_construction: number;
  created_at: string;
}

function collectionInfo(r: CollectionRow): CollectionInfo {
  return { id: r.id, name: r.name, model: r.model, dim: r.dim, createdAt: r.created_at, hnsw: { m: r.hnsw_m, efConstruction: r.hnsw_ef_construction } };
}

function notFound(name: string): ClipqlError {
  return new ClipqlError(ErrorCode.COLLECTION_NOT_FOUND, `collection: there is no collection named "${name}"`, { details: { argument: 'collection' } });
}

/**
 * pgvector's text form of an L2-normalised copy. Each float32 is written as the shortest decimal
 * that reads back as the same double; pgvector's strtof then gives back the same float32.
 */

/** Engine errors → codes: unreachable store → STORE_UNAVAILABLE, duplicate name → COLLECTION_EXISTS. */
async function guard<T>(fn: () => Promise<T>, context: { collection?: string } = {}): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (!(e instanceof SqlError)) throw e;
    if (e.sqlState === '23505' && context.collection !== undefined) {
      throw new ClipqlError(ErrorCode.COLLECTION_EXISTS, `name: a collection named "${context.collection}" already exists`, { details: { argument: 'name' } });
    }
    // A table dropped between a read's catalogue lookup and its query (reads take no row lock).
    if (e.sqlState === '42P01' && context.collection !== undefined) throw notFound(context.collection);
    if (e.sqlState === undefined || /^(08|57P|53)/.test(e.sqlState)) {
      throw new ClipqlError(ErrorCode.STORE_UNAVAILABLE, `the collection store is unavailable: ${e.message}`, { cause: e });
    }
    throw e;
  }
}

/**
 * The one answer to mixing models (issue 17): a collection holds one model's embeddings, and an
 * embedding of another model (another name, or another D) is refused, naming both.
 */
export function modelMismatch(name: string, c: Pick<CollectionInfo, 'model' | 'dim'>, model: ModelRef): ClipqlError {
  return new ClipqlError(ErrorCode.MODEL_MISMATCH, `collection "${name}" holds embeddings of model ${c.model} (D = ${c.dim}); this request's embedding is from model ${model.name} (D = ${model.dim})`, {
    details: { argument: 'collection', collectionModel: c.model, collectionDim: c.dim, model: model.name, dim: model.dim },
  });
}
