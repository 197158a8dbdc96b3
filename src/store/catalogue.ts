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
import { shortFingerprint } from '../bundle/fingerprint';

/**
 * The model whose embeddings a collection holds or a request brings: a ModelIdentity
 * (bundle/fingerprint.ts). Without a fingerprint (tools and tests that have no model folder) a
 * model matches only collections recorded without one, by name.
 */
export interface ModelRef {
  /** The name it is served or run under; what messages show. */
  readonly name: string;
  readonly dim: number;
  /** sha256 hex of the weights and preprocessing. */
  readonly fingerprint?: string;
  readonly family?: string;
  /** The bundle folder's name: a collection recorded by name before fingerprints may carry it. */
  readonly folder?: string;
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
  /** Its model's fingerprint and family (migration 003); null: recorded by name only (see bindingOf). */
  readonly fingerprint: string | null;
  readonly family: string | null;
}

/**
 * How a model relates to a collection: "same" (its embeddings belong there), "adopt" (a collection
 * recorded by name only, before fingerprints, met by a model of that name and D: the model's
 * fingerprint is recorded, and it is "same" from then on), or "other" (MODEL_MISMATCH). One rule
 * for every caller: the CLI, the server and the indexer all reach collections through it.
 */
export function bindingOf(c: Pick<CollectionInfo, 'model' | 'dim' | 'fingerprint'>, model: ModelRef): 'same' | 'adopt' | 'other' {
  if (c.dim !== model.dim) return 'other';
  if (c.fingerprint !== null) return c.fingerprint === model.fingerprint ? 'same' : 'other';
  if (c.model !== model.name && c.model !== model.folder) return 'other';
  return model.fingerprint ? 'adopt' : 'same';
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
          const [row] = await tx.query<CollectionRow>(
            `INSERT INTO clip_collections (name, model, dim, hnsw_m, hnsw_ef_construction, model_fingerprint, model_family) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${COLLECTION_COLUMNS}`,
            [name, model.name, model.dim, hnsw.m, hnsw.efConstruction, model.fingerprint ?? null, model.fingerprint ? (model.family ?? null) : null],
          );
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
          let c = collectionInfo(rows[0]);
          const binding = model ? bindingOf(c, model) : 'same';
          if (binding === 'adopt') c = await adopt(tx, c, model!);
          keep(this.known, c.name, c); // remembered even when refused: the next search of it is one statement
          if (binding === 'other') throw modelMismatch(name, c, model!);
          return fn(tx, c);
        }),
      { collection: name },
    );
  }
}

/**
 * Binds a collection recorded by name only to `model`'s fingerprint (bindingOf's "adopt"). If
 * another process bound it meanwhile, the row now says to what, and that is checked instead.
 */
async function adopt(tx: Queryable, c: CollectionInfo, model: ModelRef): Promise<CollectionInfo> {
  const rows = await tx.query<CollectionRow>(`UPDATE clip_collections SET model_fingerprint = $2, model_family = $3 WHERE id = $1 AND model_fingerprint IS NULL RETURNING ${COLLECTION_COLUMNS}`, [c.id, model.fingerprint!, model.family ?? null]);
  if (rows.length) return collectionInfo(rows[0]);
  const [now] = await tx.query<CollectionRow>(`SELECT ${COLLECTION_COLUMNS} FROM clip_collections WHERE id = $1`, [c.id]);
  if (!now) throw notFound(c.name);
  const info = collectionInfo(now);
  if (bindingOf(info, model) !== 'same') throw modelMismatch(c.name, info, model);
  return info;
}

const COLLECTION_COLUMNS = "id, name, model, dim, hnsw_m, hnsw_ef_construction, model_fingerprint, model_family, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS created_at";

interface CollectionRow {
  id: number;
  name: string;
  model: string;
  dim: number;
  hnsw_m: number;
  hnsw_ef_construction: number;
  model_fingerprint: string | null;
  model_family: string | null;
  created_at: string;
}

function collectionInfo(r: CollectionRow): CollectionInfo {
  return { id: r.id, name: r.name, model: r.model, dim: r.dim, createdAt: r.created_at, hnsw: { m: r.hnsw_m, efConstruction: r.hnsw_ef_construction }, fingerprint: r.model_fingerprint, family: r.model_family };
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
 * of another model (other weights or preprocessing, under any name, or another D) is refused,
 * naming both and saying how to get a collection of the new model.
 */
export function modelMismatch(name: string, c: Pick<CollectionInfo, 'model' | 'dim' | 'fingerprint'>, model: ModelRef): ClipqlError {
  const weights = (f: string | null | undefined) => (f ? `, weights ${shortFingerprint(f)}` : '');
  const why = c.dim !== model.dim ? 'another dimension' : c.model === model.name || c.model === model.folder ? 'other weights under the same name' : 'another model';
  return new ClipqlError(
    ErrorCode.MODEL_MISMATCH,
    `collection "${name}" holds embeddings of model ${c.model} (D = ${c.dim})${weights(c.fingerprint)}; this request's embedding is from model ${model.name} (D = ${model.dim})${weights(model.fingerprint)}: ${why}, whose embeddings cannot be compared. ` +
      `Search it with the model it was indexed with, or re-index the images with this one into a new collection: \`clipql index PATH... --collection NEW_NAME --model ${model.name}\``,
    { details: { argument: 'collection', collectionModel: c.model, collectionDim: c.dim, collectionFingerprint: c.fingerprint, model: model.name, dim: model.dim, fingerprint: model.fingerprint ?? null } },
  );
}
