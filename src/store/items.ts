/**
 * A collection's items (clip_items_<id>, items-table.ts): writes, bulk loads with the index built
 * after the rows, digests for indexers, deletes, and the index build itself. Each call is one
 * transaction through the catalogue (catalogue.ts: existence, model binding, the row lock that
 * orders writes before a drop); a process killed mid-call loses only unacknowledged work.
 * Embeddings are stored L2-normalised as float32, so `1 - (a <=> b)` is their cosine.
 *
 * No write counts the collection's rows afterwards (count(*) is O(N)): `count` is its own call.
 */
import { normalizeRows } from '../similarity/similarity';
import type { Catalogue, ModelRef } from './catalogue';
import { pgTextArray, type Queryable, type SqlValue } from './driver';
import { hnswIndexSql, itemsTable } from './items-table';
import { checkItemId, checkItemIds, STORE_LIMITS } from './limits';

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

/** What an index build may use (StoreOptions). */
export interface BuildOptions {
  /** Most maintenance_work_mem an index build may take, MiB (default 1024 on a server, 256 on PGlite). */
  readonly buildMemoryMiB?: number;
  /** max_parallel_maintenance_workers for an index build on a server (default 2; PGlite has none). */
  readonly buildWorkers?: number;
}

/** A load into an empty collection of at least this many items builds the index after the rows. */
export const BUILD_AFTER_MIN_ITEMS = 1000;

/** Items in a collection (COLLECTION_NOT_FOUND if it is gone): O(N), so only when asked. */
export async function countItems(cat: Catalogue, name: string): Promise<number> {
  return cat.withCollection(name, undefined, async (tx, c) => (await tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${itemsTable(c.id)}`))[0].n, { lock: false });
}

/** Adds or replaces items by id, in one transaction (all or none); MODEL_MISMATCH unless `model` is the collection's. */
export async function upsertItems(cat: Catalogue, name: string, model: ModelRef, items: readonly NewItem[]): Promise<number> {
  checkItems(items, model);
  return cat.withCollection(name, model, async (tx, c) => {
    const t = itemsTable(c.id);
    for (let i = 0; i < items.length; i += 200) await insertRows(tx, t, items.slice(i, i + 200), (v) => cat.driver.vector(v));
    return items.length;
  });
}

/** CollectionStore.bulkLoad (its comment says what it does). */
export async function bulkLoad(cat: Catalogue, build: BuildOptions, name: string, model: ModelRef, items: readonly NewItem[], options: BulkLoadOptions = {}): Promise<BulkLoadResult> {
  checkItems(items, model);
  const chunk = Math.max(1, Math.min(options.chunk ?? 200, 5000));
  const deferred = await deferIndex(cat, name, model, items.length);
  let stored = 0;
  for (let i = 0; i < items.length; i += chunk) {
    options.signal?.throwIfAborted();
    const part = items.slice(i, i + chunk);
    await cat.withCollection(name, model, (tx, c) => insertRows(tx, itemsTable(c.id), part, (v) => cat.driver.vector(v)));
    stored += part.length;
    await options.onProgress?.(stored);
  }
  options.signal?.throwIfAborted();
  const indexSeconds = await ensureIndex(cat, build, name);
  return { stored, indexBuiltAfter: deferred, indexSeconds };
}

/** CollectionStore.deferIndex. */
export async function deferIndex(cat: Catalogue, name: string, model: ModelRef, expected: number): Promise<boolean> {
  return cat.withCollection(name, model, async (tx, c) => {
    if (expected < BUILD_AFTER_MIN_ITEMS) return false;
    const t = itemsTable(c.id);
    const [{ empty }] = await tx.query<{ empty: boolean }>(`SELECT NOT EXISTS (SELECT 1 FROM ${t}) AS empty`);
    if (empty) await tx.query(`DROP INDEX IF EXISTS ${t}_hnsw`);
    return empty;
  });
}

export async function digests(cat: Catalogue, name: string): Promise<Map<string, string>> {
  return cat.withCollection(name, undefined, async (tx, c) => new Map((await tx.query<{ item_id: string; sha256: string }>(`SELECT item_id, sha256 FROM ${itemsTable(c.id)}`)).map((r) => [r.item_id, r.sha256])), { lock: false });
}

/** Keyset pages (on the primary key), so a page costs the same however deep it is. */
export async function digestPage(cat: Catalogue, name: string, after: string | null, limit: number): Promise<Array<{ id: string; sha256: string }>> {
  return cat.withCollection(
    name,
    undefined,
    async (tx, c) =>
      (await tx.query<{ item_id: string; sha256: string }>(`SELECT item_id, sha256 FROM ${itemsTable(c.id)} WHERE $1::text IS NULL OR item_id > $1 ORDER BY item_id LIMIT $2`, [after, limit])).map((r) => ({ id: r.item_id, sha256: r.sha256 })),
    { lock: false },
  );
}

/** CollectionStore.ensureIndex. */
export async function ensureIndex(cat: Catalogue, build: BuildOptions, name: string): Promise<number> {
  const engine = cat.driver.engine;
  return cat.withCollection(name, undefined, async (tx, c) => {
    const t = itemsTable(c.id);
    const [{ present }] = await tx.query<{ present: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS present`, [`${t}_hnsw`]);
    if (present) return 0;
    const [{ n }] = await tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${t}`);
    const cap = build.buildMemoryMiB ?? (engine === 'postgres' ? 1024 : 256);
    await tx.query("SELECT set_config('maintenance_work_mem', $1, true)", [`${buildMemoryMiB(n, c.dim, c.hnsw.m, cap)}MB`]);
    if (engine === 'postgres') await tx.query("SELECT set_config('max_parallel_maintenance_workers', $1, true)", [String(build.buildWorkers ?? 2)]);
    const started = performance.now();
    await tx.query(hnswIndexSql(c.id, c.hnsw));
    return (performance.now() - started) / 1000;
  });
}

/** Deletes items by id; resolves to the ids that were there. Unknown ids are not an error. */
export async function deleteItems(cat: Catalogue, name: string, ids: readonly string[]): Promise<string[]> {
  checkItemIds(ids, 'ids', STORE_LIMITS.maxDeleteIds);
  return cat.withCollection(name, undefined, async (tx, c) => (await tx.query<{ item_id: string }>(`DELETE FROM ${itemsTable(c.id)} WHERE item_id = ANY($1::text[]) RETURNING item_id`, [pgTextArray(ids)])).map((r) => r.item_id));
}

/** The stored (normalised) embedding of one item, or undefined. For tests and tools. */
export async function embedding(cat: Catalogue, name: string, id: string): Promise<Float32Array | undefined> {
  checkItemId(id, 'id');
  return cat.withCollection(
    name,
    undefined,
    async (tx, c) => {
      const rows = await tx.query<{ e: string }>(`SELECT embedding::text AS e FROM ${itemsTable(c.id)} WHERE item_id = $1`, [id]);
      return rows[0] ? Float32Array.from(JSON.parse(rows[0].e) as number[]) : undefined;
    },
    { lock: false },
  );
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
