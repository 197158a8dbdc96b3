/**
 * The query of a search, and its plan: an exact scan or the collection's HNSW index.
 *
 * An exact scan compares every item (recall 1.0); its time grows with the table, which it reads
 * whole. Through the index a search reads a few hundred items but may miss some (recall < 1),
 * most with a filter: HNSW finds candidates first and filters them after, and pgvector's
 * iterative scan gives up after hnsw.max_scan_tuples (20,000) index tuples.
 *
 * `auto` (the default) scans exactly where that is cheap, judged by the table's size in pages
 * (what the scan reads; rows of D = 768 take one 8 KB page per two items with the vector kept in
 * the row, items-table.ts): at most EXACT_MAX_PAGES, or EXACT_MAX_PAGES_FILTERED with a filter (StoreOptions.exactScanPages).
 * Both were chosen by measurement (scripts/bench/collections/exact-threshold.ts, docs/collections.md):
 * the largest sizes at which the exact scan's p50 was within about a millisecond of the index's.
 * The decision costs no round trip: every search's statement also answers the table's size,
 * which the store keeps per collection (CollectionStore.search) and decides the next search of
 * that collection by, with a statement that has one plan. The first search of a collection (size
 * not yet known) decides inside its statement: a one-row CTE reads the size and whether the index
 * is valid, and the hits come from one of two branches of a UNION ALL, each gated by a condition
 * on that row alone, which PostgreSQL evaluates once and which leaves the other branch
 * unexecuted. That statement costs about 0.3 ms more than a one-plan one (planning both
 * branches, starting the idle one), hence the kept size. A kept size can only be stale by
 * growth (a table's pages are not given back without VACUUM FULL): then one search scans a
 * table a little past the limit, exactly, and says so.
 */
import type { Queryable, SqlValue } from './driver';
import { itemsTable } from './items-table';

export interface Hit {
  readonly id: string;
  /** Cosine similarity to the query. */
  readonly score: number;
  readonly metadata: unknown;
  readonly sha256: string;
  readonly width: number;
  readonly height: number;
  readonly format: string;
  readonly thumbnail: { readonly data: Uint8Array; readonly mime: string } | null;
}

export interface SearchResult {
  readonly hits: Hit[];
  /**
   * True when the hits are the exact nearest neighbours: an exact scan was asked for or chosen
   * (a small collection), or the collection has no valid HNSW index (a bulk load builds it after
   * the rows: bulkLoad). False when they came through the HNSW index, which may miss some.
   */
  readonly exact: boolean;
  /** The hnsw.ef_search the search ran with (whether or not the index was used). */
  readonly ef: number;
  /** The items table's size in pages when it ran (what the next plan is chosen by). */
  readonly pages: number;
}

/** `exact` and `index` force a plan; `auto` chooses by the table's size (see the file comment). */
export type SearchPlan = 'auto' | 'exact' | 'index';

/** Table sizes, in pages, up to which `auto` scans exactly. */
export interface ExactScanPages {
  /** Without a filter; default EXACT_MAX_PAGES. */
  readonly unfiltered: number;
  /** With a metadata filter (the index then reads more and finds less); default EXACT_MAX_PAGES_FILTERED. */
  readonly filtered: number;
}

/** Pages (8 KB) up to which an unfiltered search scans exactly: about 1,000 items of D = 768. */
export const EXACT_MAX_PAGES = 500;
/** The same with a metadata filter: about 4,000 items of D = 768. */
export const EXACT_MAX_PAGES_FILTERED = 2000;
export const EXACT_SCAN_PAGES: ExactScanPages = { unfiltered: EXACT_MAX_PAGES, filtered: EXACT_MAX_PAGES_FILTERED };

/** The plan for a table of `pages` (undefined: not known yet, decided in the statement). */
export function planFor(pages: number | undefined, filtered: boolean, limits: ExactScanPages = EXACT_SCAN_PAGES): SearchPlan {
  if (pages === undefined) return 'auto';
  return pages <= (filtered ? limits.filtered : limits.unfiltered) ? 'exact' : 'index';
}

const COLUMNS = 'item_id, 1 - (embedding <=> $1::vector) AS score, metadata, sha256, width, height, format, thumbnail, thumbnail_mime';
// Ordering by the distance plus 0, an expression the index cannot answer, makes PostgreSQL compare
// every row (pgvector's own advice for exact search).
const BY_SCAN = '(embedding <=> $1::vector) + 0';
const BY_INDEX = 'embedding <=> $1::vector';

/**
 * The hits of one search. params are [query vector, limit, offset, filter?] (filter: JSON text
 * the metadata must contain). The hits are joined to the plan's one-row CTE, so that an empty
 * answer still tells how it was searched.
 */
export async function nearest(q: Queryable, collectionId: number, params: readonly SqlValue[], plan: SearchPlan, ef: number, limits: ExactScanPages = EXACT_SCAN_PAGES): Promise<SearchResult> {
  const rows = await q.query<HitRow & { indexed: boolean; scan: boolean; pages: number }>(searchSql(collectionId, plan, params.length > 3, limits), params);
  const first = rows[0];
  const exact = first.scan === true || first.indexed !== true;
  return { hits: rows.filter((r) => r.item_id !== null).map(hit), exact, ef, pages: Number(first.pages) };
}

/**
 * The statement nearest() runs (exported for the tests, which EXPLAIN it). Its parameters are
 * [query vector, limit, offset] and, when `filtered`, the filter as $4.
 */
export function searchSql(collectionId: number, plan: SearchPlan, filtered: boolean, limits: ExactScanPages = EXACT_SCAN_PAGES): string {
  const t = itemsTable(collectionId);
  const filter = filtered ? 'metadata @> $4::jsonb' : 'true';
  const pages = filtered ? limits.filtered : limits.unfiltered;
  if (!Number.isSafeInteger(pages) || pages < 0) throw new RangeError(`exact-scan pages must be a whole number, got ${pages}`); // it enters SQL text
  const size = `pg_relation_size('${t}'::regclass) / current_setting('block_size')::int`;
  const scan = plan === 'exact' ? 'true' : plan === 'index' ? 'false' : `${size} <= ${pages}`;
  const branch = (gate: string, order: string) => `(SELECT ${COLUMNS} FROM ${t} WHERE ${gate} AND ${filter} ORDER BY ${order} LIMIT $2 OFFSET $3)`;
  const hits = plan === 'auto' ? `${branch('p.scan', BY_SCAN)} UNION ALL ${branch('NOT p.scan', BY_INDEX)}` : branch('true', plan === 'exact' ? BY_SCAN : BY_INDEX);
  return `WITH p AS (SELECT coalesce((SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass('${t}_hnsw')), false) AS indexed, ${size} AS pages, ${scan} AS scan)
     SELECT p.indexed, p.pages, p.scan, h.* FROM p LEFT JOIN LATERAL (${hits}) h ON true`;
}

interface HitRow {
  item_id: string;
  score: number;
  metadata: unknown;
  sha256: string;
  width: number;
  height: number;
  format: string;
  thumbnail: Uint8Array | null;
  thumbnail_mime: string | null;
}

function hit(r: HitRow): Hit {
  return {
    id: r.item_id,
    score: Number(r.score),
    metadata: r.metadata ?? null,
    sha256: r.sha256,
    width: r.width,
    height: r.height,
    format: r.format,
    thumbnail: r.thumbnail ? { data: new Uint8Array(r.thumbnail), mime: r.thumbnail_mime ?? 'application/octet-stream' } : null,
  };
}
