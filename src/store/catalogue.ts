/**
 * The catalogue of collections (clip_collections): each collection's id, name, model and HNSW
 * parameters, and the one way every read and write reaches a collection (withCollection), with
 * the engine's errors mapped to codes (guard).
 *
 * A collection's id is never reused, so what an id names never changes: the catalogue remembers
 * each collection it has read (name → info, the newest KNOWN_COLLECTIONS), and a search by a
 * remembered name can skip the catalogue read (search.ts). Dropping forgets the name; a search
 * that meets a dropped table forgets it too.
 *
 * Concurrency: writes to a collection's items first lock its catalogue row (FOR SHARE); dropping
 * deletes that row first, then the table. So a drop waits for inserts already running, and those
 * that start after it find no collection (COLLECTION_NOT_FOUND). Reads take no row lock (a row
 * lock would make every search a writing transaction, with a WAL flush at its commit): a read
 * holds the table's AccessShare lock while it reads, so a drop waits for it, and a read that
 * reaches the table after a drop committed gets "relation does not exist", answered as
 * COLLECTION_NOT_FOUND too (guard).
 */
import { ClipqlError, ErrorCode } from '../errors';
import { SqlError, type Queryable, type StoreDriver } from './driver';
import { createItemsTableSql, DEFAULT_HNSW, itemsTable, type HnswParams } from './items-table';
import { checkCollectionName, checkHnsw } from './limits';

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

/** Collections remembered by name (see the file comment); the oldest is forgotten past this. */
const KNOWN_COLLECTIONS = 1024;

/** Sets key to value as the newest entry of `m`, forgetting the oldest past KNOWN_COLLECTIONS. */
export function keep<K, V>(m: Map<K, V>, key: K, value: V): void {
  m.delete(key);
  if (m.size >= KNOWN_COLLECTIONS) m.delete(m.keys().next().value!);
  m.set(key, value);
}

export class Catalogue {
  /** Collections read, by name (see the file comment). */
  readonly known = new Map<string, CollectionInfo>();

  constructor(
    readonly driver: StoreDriver,
    private readonly defaultHnsw: HnswParams = DEFAULT_HNSW,
  ) {}

  async create(name: string, model: ModelRef, options: { readonly hnsw?: Partial<HnswParams> } = {}): Promise<CollectionInfo> {
    checkCollectionName(name, 'name');
    const base = this.defaultHnsw;
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
  async drop(name: string): Promise<boolean> {
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

  async list(): Promise<CollectionInfo[]> {
    return guard(async () => (await this.driver.query<CollectionRow>(`SELECT ${COLLECTION_COLUMNS} FROM clip_collections ORDER BY name`)).map(collectionInfo));
  }

  async get(name: string): Promise<CollectionInfo | undefined> {
    checkCollectionName(name);
    const rows = await guard(() => this.driver.query<CollectionRow>(`SELECT ${COLLECTION_COLUMNS} FROM clip_collections WHERE name = $1`, [name]));
    return rows[0] && collectionInfo(rows[0]);
  }

  /**
   * Runs `fn` in a transaction after checking that the collection exists and, when `model` is
   * given, is bound to it (else MODEL_MISMATCH). `lock` (writes) holds the catalogue row FOR
   * SHARE until the end (see the file comment); `efSearch` sets hnsw.ef_search and strict-order
   * iterative scans for this transaction, in the same statement as the catalogue read (one round
   * trip fewer).
   */
  withCollection<T>(name: string, model: ModelRef | undefined, fn: (tx: Queryable, c: CollectionInfo) => Promise<T>, mode: { lock: boolean; efSearch?: number } = { lock: true }): Promise<T> {
    checkCollectionName(name);
    const settings = mode.efSearch === undefined ? '' : ", set_config('hnsw.ef_search', $2, true) AS ef, set_config('hnsw.iterative_scan', 'strict_order', true) AS scan";
    const sql = `SELECT ${COLLECTION_COLUMNS}${settings} FROM clip_collections WHERE name = $1${mode.lock ? ' FOR SHARE' : ''}`;
    return guard(
      () =>
        this.driver.transaction(async (tx) => {
          const rows = await tx.query<CollectionRow>(sql, mode.efSearch === undefined ? [name] : [name, String(mode.efSearch)]);
          if (rows.length === 0) throw notFound(name);
          const c = collectionInfo(rows[0]);
          keep(this.known, c.name, c);
          if (model && (model.name !== c.model || model.dim !== c.dim)) throw modelMismatch(name, c, model);
          return fn(tx, c);
        }),
      { collection: name },
    );
  }
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

/** Engine errors → codes: unreachable store → STORE_UNAVAILABLE, duplicate name → COLLECTION_EXISTS. */
export async function guard<T>(fn: () => Promise<T>, context: { collection?: string } = {}): Promise<T> {
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
 * The one answer to mixing models: a collection holds one model's embeddings, and an embedding
 * of another model (another name, or another D) is refused, naming both.
 */
export function modelMismatch(name: string, c: Pick<CollectionInfo, 'model' | 'dim'>, model: ModelRef): ClipqlError {
  return new ClipqlError(ErrorCode.MODEL_MISMATCH, `collection "${name}" holds embeddings of model ${c.model} (D = ${c.dim}); this request's embedding is from model ${model.name} (D = ${model.dim})`, {
    details: { argument: 'collection', collectionModel: c.model, collectionDim: c.dim, model: model.name, dim: model.dim },
  });
}
