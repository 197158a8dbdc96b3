/**
 * Near-duplicates in a collection: groups of items whose embeddings are within a cosine threshold
 * of each other, found through the collection's HNSW index (each item's k nearest), never by
 * comparing all pairs.
 *
 * The graph: an edge joins two items when one is among the other's k nearest (the index's
 * answer, with hnsw.ef_search ≥ k + 1) and their cosine is at least the threshold. A group is a
 * connected component of that graph with two items or more: copies of copies join one group even
 * when the first and the last are further apart than the threshold.
 *
 * Pages (stateless, keyset on the primary key): a page walks items in id order after the cursor,
 * a statement at a time (SCAN_BATCH anchors, each with its k nearest in one LATERAL join). An
 * item whose component has a smaller id is skipped: that component is reported when the walk
 * reaches its smallest id, which then closes the component breadth first (neighbours of
 * neighbours, looked up by id). So every group is reported once, at its smallest id, whichever
 * page it falls on, and the union of the pages is the whole answer. An edge can only be missed
 * where the index misses a neighbour (recall < 1) or where both items have k or more nearer
 * neighbours within the threshold. The graph is then not symmetric as the walk reads it: an item
 * x whose only edges are in its own list, to items of a component with a smaller id, is left out
 * (the component, closed from its smallest id, never reaches x, and x is not the smallest of its
 * own closure). A larger k narrows that to families of more than k copies.
 *
 * Bounds, so that a page costs bounded time and memory whatever the data: at most `scan` items
 * walked a page, `first` groups, MAX_GROUP items a group (a larger component is reported cut,
 * `complete: false`), MAX_LOOKUPS neighbour lookups by id a page.
 *
 * Byte duplicates (the same sha256) have the same embedding (cosine 1 up to float rounding), so
 * they are always within the threshold: each item says whether another of its group has its bytes.
 */
import { ClipqlError, ErrorCode } from '../errors';
import { pgTextArray, type Queryable } from './driver';
import { itemsTable } from './items-table';

export interface DuplicateOptions {
  /** Cosine at or above which two items are near-duplicates, 0 < threshold ≤ 1; default the store's (CLIP_DUPLICATE_THRESHOLD). */
  readonly threshold?: number;
  /** Neighbours looked at per item (the index's k nearest), 1..MAX_K; default DEFAULT_K. */
  readonly k?: number;
  /** Groups a page, 1..MAX_FIRST; default 20. */
  readonly first?: number;
  /** The previous page's endCursor (an item id: the walk goes on after it); null: from the start. */
  readonly after?: string | null;
  /** Items walked a page at most, 1..MAX_SCAN; default DEFAULT_SCAN. */
  readonly scan?: number;
}

export interface DuplicateItem {
  readonly id: string;
  /** Cosine to the group's first item (1 for that item). */
  readonly score: number;
  readonly sha256: string;
  /** Another item of the group has the same bytes (sha256). */
  readonly sameBytes: boolean;
  readonly metadata: unknown;
  readonly width: number;
  readonly height: number;
  readonly format: string;
  readonly thumbnail: { readonly data: Uint8Array; readonly mime: string } | null;
}

export interface DuplicateGroup {
  /** The smallest id first (the group's key), then by cosine to it, best first. */
  readonly items: DuplicateItem[];
  /** Every item has the same bytes. */
  readonly identical: boolean;
  /** False when the component outgrew MAX_GROUP and was cut there. */
  readonly complete: boolean;
}

export interface DuplicatePage {
  /** The threshold the page ran with. */
  readonly threshold: number;
  readonly groups: DuplicateGroup[];
  /** Items walked by this page. */
  readonly scanned: number;
  /** Where the next page starts (pass as `after`); null when the walk reached the last item. */
  readonly endCursor: string | null;
}

/**
 * The threshold when neither the call nor the store's options give one: CLIP_DUPLICATE_THRESHOLD's
 * default (the same number; a test checks). Chosen by measurement with the committed
 * random-weights model (docs/collections.md#near-duplicates): a trained model needs its own.
 */
export const DEFAULT_DUPLICATE_THRESHOLD = 0.95;
export const DEFAULT_K = 10;
export const MAX_K = 100;
export const MAX_FIRST = 100;
export const DEFAULT_SCAN = 1000;
export const MAX_SCAN = 10_000;
/** Items of one group at most; a larger component is reported cut (complete: false). */
export const MAX_GROUP = 200;
/** Neighbour lookups by id (closing components) per page at most. */
export const MAX_LOOKUPS = 2000;
/** Anchors per statement. */
const SCAN_BATCH = 100;
/** Slack on the threshold for float rounding: identical embeddings give a cosine of 1 ± 1e-7. */
const ROUNDING = 1e-6;

/** hnsw.ef_search for a walk with k neighbours (the item itself comes back too). */
export function duplicateEf(k: number): number {
  return Math.max(40, k + 1);
}

function bad(argument: string, message: string): ClipqlError {
  return new ClipqlError(ErrorCode.BAD_USER_INPUT, `${argument}: ${message}`, { details: { argument } });
}

function intIn(v: number | undefined, fallback: number, min: number, max: number, argument: string): number {
  const n = v ?? fallback;
  if (!Number.isInteger(n) || n < min || n > max) throw bad(argument, `${argument} must be an integer from ${min} to ${max}; got ${n}`);
  return n;
}

/** The options with their defaults, each checked (BAD_USER_INPUT naming the argument). */
export function checkDuplicateOptions(o: DuplicateOptions & { readonly threshold: number }): Required<DuplicateOptions> {
  if (typeof o.threshold !== 'number' || !(o.threshold > 0 && o.threshold <= 1)) throw bad('threshold', `a cosine threshold is a number above 0 and at most 1; got ${o.threshold}`);
  if (o.after !== null && o.after !== undefined && (typeof o.after !== 'string' || o.after.length === 0 || o.after.length > 256)) throw bad('after', 'not a cursor this service gave (pass a page\'s endCursor)');
  return {
    threshold: o.threshold,
    k: intIn(o.k, DEFAULT_K, 1, MAX_K, 'k'),
    first: intIn(o.first, 20, 1, MAX_FIRST, 'first'),
    scan: intIn(o.scan, DEFAULT_SCAN, 1, MAX_SCAN, 'scan'),
    after: o.after ?? null,
  };
}

interface NeighbourRow {
  id: string;
  nid: string | null;
}

/**
 * Each anchor's neighbours within the threshold among its k nearest, by the index. `anchors` is
 * the SQL that yields the anchors' (item_id, embedding), with its own parameters from $3 on.
 */
function neighbourSql(t: string, anchors: string): string {
  return `SELECT a.item_id AS id, n.item_id AS nid FROM (${anchors}) a
    LEFT JOIN LATERAL (SELECT b.item_id, 1 - (b.embedding <=> a.embedding) AS score FROM ${t} b ORDER BY b.embedding <=> a.embedding LIMIT $1) n
      ON n.item_id <> a.item_id AND n.score >= $2::float8
    ORDER BY a.item_id`;
}

/**
 * Rows → id → neighbour ids, set in `into` (replacing what it held for those ids: an anchor may
 * have been looked up by id before); the ids in the rows' order (each anchor appears once, with or
 * without neighbours).
 */
function collect(rows: readonly NeighbourRow[], into: Map<string, string[]>): string[] {
  const fresh = new Map<string, string[]>();
  for (const r of rows) {
    let list = fresh.get(r.id);
    if (!list) fresh.set(r.id, (list = []));
    if (r.nid !== null) list.push(r.nid);
  }
  for (const [id, list] of fresh) into.set(id, list);
  return [...fresh.keys()];
}

/**
 * The two neighbour statements (exported for the tests, which EXPLAIN them). Both take $1 k + 1
 * (the item itself comes back) and $2 the threshold less the rounding slack; `walk` then the
 * cursor ($3, null: from the start) and the anchors ($4), `byIds` a text[] of ids ($3).
 */
export function duplicateSql(collectionId: number): { walk: string; byIds: string } {
  const t = itemsTable(collectionId);
  return {
    walk: neighbourSql(t, `SELECT item_id, embedding FROM ${t} WHERE $3::text IS NULL OR item_id > $3 ORDER BY item_id LIMIT $4`),
    byIds: neighbourSql(t, `SELECT item_id, embedding FROM ${t} WHERE item_id = ANY($3::text[])`),
  };
}

/** One page of near-duplicate groups of collection `collectionId` (options checked by checkDuplicateOptions). */
export async function duplicatePage(q: Queryable, collectionId: number, o: Required<DuplicateOptions>): Promise<DuplicatePage> {
  const t = itemsTable(collectionId);
  const base = [o.k + 1, o.threshold - ROUNDING];
  const { walk: nextAnchors, byIds } = duplicateSql(collectionId);
  const neighbours = new Map<string, string[]>();
  let lookups = 0;
  const lookUp = async (ids: string[]) => {
    lookups += ids.length;
    collect(await q.query<NeighbourRow>(byIds, [...base, pgTextArray(ids)]), neighbours);
    for (const id of ids) if (!neighbours.has(id)) neighbours.set(id, []); // deleted meanwhile
  };
  const found: Array<{ members: string[]; complete: boolean }> = [];
  let cursor = o.after;
  let scanned = 0;
  let end = false;
  walk: while (found.length < o.first && scanned < o.scan && lookups < MAX_LOOKUPS) {
    const batch = Math.min(SCAN_BATCH, o.scan - scanned);
    const anchors = collect(await q.query<NeighbourRow>(nextAnchors, [...base, cursor, batch]), neighbours);
    const last = anchors.length < batch; // the walk reached the collection's last item
    for (const a of anchors) {
      cursor = a;
      scanned++;
      const direct = neighbours.get(a)!;
      if (direct.length > 0 && !direct.some((n) => n < a)) {
        const group = await close(a, neighbours, lookUp);
        if (group) found.push(group);
      }
      if (found.length >= o.first || lookups >= MAX_LOOKUPS) {
        end = last && a === anchors.at(-1);
        break walk;
      }
    }
    if (last) {
      end = true;
      break;
    }
  }
  return { threshold: o.threshold, groups: await describe(q, t, found), scanned, endCursor: end ? null : cursor };
}

/**
 * The connected component of `a`, breadth first, up to MAX_GROUP items; null as soon as it holds
 * an id smaller than `a` (the component is then reported at its smallest id).
 */
async function close(a: string, neighbours: Map<string, string[]>, lookUp: (ids: string[]) => Promise<void>): Promise<{ members: string[]; complete: boolean } | null> {
  const seen = new Set([a]);
  let frontier = [a];
  while (frontier.length > 0) {
    const missing = frontier.filter((id) => !neighbours.has(id));
    if (missing.length > 0) await lookUp(missing);
    const next: string[] = [];
    for (const id of frontier) {
      for (const n of neighbours.get(id)!) {
        if (seen.has(n)) continue;
        if (n < a) return null;
        if (seen.size >= MAX_GROUP) return { members: [...seen], complete: false };
        seen.add(n);
        next.push(n);
      }
    }
    frontier = next;
  }
  return { members: [...seen], complete: true };
}

interface MemberRow {
  item_id: string;
  anchor: string;
  score: number;
  sha256: string;
  metadata: unknown;
  width: number;
  height: number;
  format: string;
  thumbnail: Uint8Array | null;
  thumbnail_mime: string | null;
}

/** Every member's row and cosine to its group's smallest id, in one statement. */
async function describe(q: Queryable, t: string, found: ReadonlyArray<{ members: string[]; complete: boolean }>): Promise<DuplicateGroup[]> {
  if (found.length === 0) return [];
  const items: string[] = [];
  const anchors: string[] = [];
  for (const g of found) {
    const anchor = g.members.reduce((m, x) => (x < m ? x : m));
    for (const m of g.members) {
      items.push(m);
      anchors.push(anchor);
    }
  }
  const rows = await q.query<MemberRow>(
    `SELECT m.item_id, g.anchor, 1 - (m.embedding <=> a.embedding) AS score, m.sha256, m.metadata, m.width, m.height, m.format, m.thumbnail, m.thumbnail_mime
       FROM unnest($1::text[], $2::text[]) AS g(item, anchor) JOIN ${t} m ON m.item_id = g.item JOIN ${t} a ON a.item_id = g.anchor`,
    [pgTextArray(items), pgTextArray(anchors)],
  );
  const byAnchor = new Map<string, MemberRow[]>();
  for (const r of rows) byAnchor.set(r.anchor, [...(byAnchor.get(r.anchor) ?? []), r]);
  const groups: DuplicateGroup[] = [];
  for (const g of found) {
    const anchor = g.members.reduce((m, x) => (x < m ? x : m));
    const members = (byAnchor.get(anchor) ?? []).sort((x, y) => (x.item_id === anchor ? -1 : y.item_id === anchor ? 1 : Number(y.score) - Number(x.score) || (x.item_id < y.item_id ? -1 : 1)));
    if (members.length < 2) continue; // items deleted while the page ran
    const count = new Map<string, number>();
    for (const m of members) count.set(m.sha256, (count.get(m.sha256) ?? 0) + 1);
    groups.push({
      items: members.map((m) => ({
        id: m.item_id,
        score: m.item_id === anchor ? 1 : Number(m.score),
        sha256: m.sha256,
        sameBytes: count.get(m.sha256)! > 1,
        metadata: m.metadata ?? null,
        width: m.width,
        height: m.height,
        format: m.format,
        thumbnail: m.thumbnail ? { data: new Uint8Array(m.thumbnail), mime: m.thumbnail_mime ?? 'application/octet-stream' } : null,
      })),
      identical: count.size === 1,
      complete: g.complete,
    });
  }
  return groups;
}
