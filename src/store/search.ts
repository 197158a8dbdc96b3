/**
 * A collection searched by cosine: the k items nearest to a query, best first, by an exact scan
 * or the HNSW index (nearest.ts chooses, or the caller says).
 *
 * A search is one statement when it can be: the catalogue remembers each collection it has read
 * (name → id, model, D; ids are never reused), and a driver opened with searchSession() already
 * has hnsw.ef_search and iterative scans set on every connection. A search by a remembered name
 * with the session's ef_search is then only the index query: no BEGIN, catalogue read or COMMIT.
 * If the collection was dropped meanwhile (by this process or another replica), the table is gone
 * ("relation does not exist"): the name is forgotten and the full path taken, which finds the new
 * collection of that name or none.
 */
import { ClipqlError, ErrorCode } from '../errors';
import { normalizeRows } from '../similarity/similarity';
import { bindingOf, guard, keep, type Catalogue, type ModelRef } from './catalogue';
import type { ConnectionSettings, Queryable, SqlValue } from './driver';
import { checkDepth, checkEf, checkK, MAX_EF_SEARCH } from './limits';
import { nearest, planFor, type ExactScanPages, type SearchPlan, type SearchResult } from './nearest';

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

export const DEFAULT_EF_SEARCH = 40;

/**
 * The connection settings that let a search with `efSearch` be one statement: give them to the
 * driver (StoreDriver.session) and the same efSearch to CollectionStore.open.
 */
export function searchSession(efSearch = DEFAULT_EF_SEARCH): ConnectionSettings {
  return { 'hnsw.ef_search': String(efSearch), 'hnsw.iterative_scan': 'strict_order' };
}

export class Searcher {
  /** Each collection's table size (pages) as its last search saw it, by id (never reused): the next search's plan (nearest.ts). */
  private readonly pages = new Map<number, number>();

  constructor(
    private readonly cat: Catalogue,
    private readonly efSearch = DEFAULT_EF_SEARCH,
    private readonly exactScanPages?: ExactScanPages,
  ) {}

  /**
   * hnsw.ef_search is raised to offset + k, and iterative index scans (strict order) keep a
   * filtered or deep page full: without them HNSW returns at most ef_search rows before the
   * filter is applied.
   */
  async search(name: string, model: ModelRef, query: Float32Array, options: SearchOptions): Promise<SearchResult> {
    const k = checkK(options.k);
    const offset = options.offset ?? 0;
    checkDepth(offset, k);
    if (query.length !== model.dim) throw new RangeError(`a query of ${query.length} values for a model of D = ${model.dim}`);
    const wanted = options.ef === undefined ? this.efSearch : checkEf(options.ef);
    const ef = Math.min(MAX_EF_SEARCH, Math.max(wanted, offset + k + 1));
    const params: SqlValue[] = [this.cat.driver.vector(normalizeRows(query, 1, query.length)), k + (options.lookahead ? 1 : 0), offset];
    if (options.filter) params.push(options.filter);
    const known = this.cat.known.get(name);
    if (known && bindingOf(known, model) === 'same' && this.sessionHas(ef)) {
      try {
        return await guard(() => this.nearest(this.cat.driver, known.id, params, options.exact, ef), { collection: name });
      } catch (e) {
        // Dropped since it was remembered: forget it and take the full path below.
        if (!(e instanceof ClipqlError && e.code === ErrorCode.COLLECTION_NOT_FOUND)) throw e;
        if (this.cat.known.get(name) === known) this.cat.known.delete(name);
      }
    }
    return this.cat.withCollection(name, model, (tx, c) => this.nearest(tx, c.id, params, options.exact, ef), { lock: false, efSearch: ef });
  }

  /** One search's statement, its plan as told (`exact`) or chosen by the size its collection's last search saw. */
  private async nearest(q: Queryable, id: number, params: readonly SqlValue[], exact: boolean | undefined, ef: number): Promise<SearchResult> {
    const plan: SearchPlan = exact === undefined ? planFor(this.pages.get(id), params.length > 3, this.exactScanPages) : exact ? 'exact' : 'index';
    const result = await nearest(q, id, params, plan, ef, this.exactScanPages);
    keep(this.pages, id, result.pages);
    return result;
  }

  /** Whether every connection already searches with this ef_search (and strict-order iterative scans). */
  private sessionHas(ef: number): boolean {
    const session = this.cat.driver.session;
    return session['hnsw.ef_search'] === String(ef) && session['hnsw.iterative_scan'] === 'strict_order';
  }
}
