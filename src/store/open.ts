/**
 * Choosing the engine from CLIP_STORE (config/settings.ts):
 *   unset                       the embedded store (PGlite) in ./data/store under the working directory
 *   a path (or file:PATH)       the embedded store in that folder
 *   postgres://... postgresql:// a PostgreSQL server with pgvector (several replicas may share it)
 * CLIP_STORE_EF_SEARCH sets hnsw.ef_search (default 40), CLIP_STORE_POOL the server pool size.
 */
import path from 'node:path';
import type { Config } from '../config/config';
import type { ConnectionSettings, StoreDriver } from './driver';
import { PgliteDriver } from './pglite-driver';
import { PostgresDriver } from './postgres-driver';
import { CollectionStore, searchSession } from './store';

export const DEFAULT_STORE_DIR = path.join('data', 'store');

export interface StoreLocation {
  readonly engine: 'pglite' | 'postgres';
  /** The folder (pglite) or the connection string (postgres). */
  readonly target: string;
}

/** The store settings of a configuration. */
export type StoreSettings = Pick<Config, 'CLIP_STORE' | 'CLIP_STORE_POOL' | 'CLIP_STORE_EF_SEARCH'> & Partial<Pick<Config, 'CLIP_DUPLICATE_THRESHOLD'>>;

export function storeLocation(c: Pick<Config, 'CLIP_STORE'>, cwd = process.cwd()): StoreLocation {
  const raw = c.CLIP_STORE ?? '';
  if (/^postgres(ql)?:\/\//i.test(raw)) return { engine: 'postgres', target: raw };
  const dir = raw.startsWith('file:') ? raw.slice(5) : raw;
  return { engine: 'pglite', target: path.resolve(cwd, dir || DEFAULT_STORE_DIR) };
}

export function createDriver(location: StoreLocation, pool = 8, session: ConnectionSettings = {}): StoreDriver {
  return location.engine === 'postgres' ? new PostgresDriver({ connectionString: location.target, max: pool, session }) : new PgliteDriver(location.target, session);
}

/** Opens (and migrates) the store CLIP_STORE names. */
export async function openStore(c: StoreSettings): Promise<CollectionStore> {
  // Connections start with the searches' settings, so a search is one statement (store.ts).
  const driver = createDriver(storeLocation(c), c.CLIP_STORE_POOL, searchSession(c.CLIP_STORE_EF_SEARCH));
  try {
    return await CollectionStore.open(driver, { efSearch: c.CLIP_STORE_EF_SEARCH, duplicateThreshold: c.CLIP_DUPLICATE_THRESHOLD });
  } catch (e) {
    await driver.close().catch(() => undefined);
    throw e;
  }
}

/** A password in a connection string, replaced for logs. */
export function redact(target: string): string {
  return target.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
}
