/**
 * The DDL of one collection's item table. Identifiers cannot be bound as parameters, so this is
 * the one place where SQL text is built: only from the collection's integer id (assigned by the
 * database's serial column) and its dimension (an integer the model gave), both checked to be
 * safe integers here. No name, id or other client text ever enters SQL text.
 */

export interface HnswParams {
  /** Links per node (pgvector's default 16). */
  readonly m: number;
  /** Candidate list while building (pgvector's default 64). */
  readonly efConstruction: number;
}

export const DEFAULT_HNSW: HnswParams = { m: 16, efConstruction: 64 };

function int(n: number, what: string, min: number, max: number): number {
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new RangeError(`${what} must be an integer from ${min} to ${max}, got ${n}`);
  return n;
}

/** "clip_items_<id>" for the collection whose clip_collections.id is `id`. */
export function itemsTable(id: number): string {
  return `clip_items_${int(id, 'collection id', 1, Number.MAX_SAFE_INTEGER)}`;
}

/** The largest D whose embeddings are kept in the row (see createItemsTableSql). */
export const PLAIN_MAX_DIM = 1536;

export function createItemsTableSql(id: number, dim: number, hnsw: HnswParams = DEFAULT_HNSW): string[] {
  const t = itemsTable(id);
  int(dim, 'dimension', 1, 2000); // HNSW indexes vector columns of up to 2,000 dimensions
  return [
    `CREATE TABLE ${t} (
      item_id text PRIMARY KEY,
      embedding vector(${dim}) NOT NULL,
      metadata jsonb,
      sha256 text NOT NULL,
      width integer NOT NULL,
      height integer NOT NULL,
      format text NOT NULL,
      thumbnail bytea,
      thumbnail_mime text,
      added_at timestamptz NOT NULL DEFAULT now()
    )`,
    // Embeddings stay in the row (no TOAST): a vector over ~2 KB (D > ~500) is otherwise moved
    // out of line, and PostgreSQL's planner, which prices a sequential scan by the main table's
    // pages only, then finds scanning every row cheaper than the HNSW index: measured here, a
    // 20,000-item D = 768 collection answered each search by a 92 ms exact scan. Up to D = 1536
    // (6,152 bytes) the row still fits a page beside the other columns (those may be TOASTed).
    // An ALTER, not a column option: STORAGE in CREATE TABLE needs PostgreSQL 16; tests run 15.
    ...(dim <= PLAIN_MAX_DIM ? [`ALTER TABLE ${t} ALTER COLUMN embedding SET STORAGE PLAIN`] : []),
    hnswIndexSql(id, hnsw),
  ];
}

/** The collection's HNSW index (cosine), `clip_items_<id>_hnsw`; IF NOT EXISTS, so that a rebuild after a bulk load is idempotent. */
export function hnswIndexSql(id: number, hnsw: HnswParams): string {
  const t = itemsTable(id);
  return `CREATE INDEX IF NOT EXISTS ${t}_hnsw ON ${t} USING hnsw (embedding vector_cosine_ops) WITH (m = ${int(hnsw.m, 'm', 2, 100)}, ef_construction = ${int(hnsw.efConstruction, 'ef_construction', 4, 1000)})`;
}
