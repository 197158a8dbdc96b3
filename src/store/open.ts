/**
 * Choosing the engine from CLIP_STORE:
 *   unset or ''                 the embedded store (PGlite) in ./data/store under the working directory
 *   a path (or file:PATH)       the embedded store in that folder
 *   postgres://... postgresql:// a PostgreSQL server with pgvector (several replicas may share it)
 * CLIP_STORE_EF_SEARCH sets hnsw.ef_search (default 40), CLIP_STORE_POOL the server pool size.
 */
import path from 'node:path';
import { intSetting } from '../settings';
import type { StoreDriver } from './driver';
import { PgliteDriver } from './pglite-driver';
import { PostgresDriver } from './postgres-driver';
import { CollectionStore } from './store';

export const DEFAULT_STORE_DIR = path.join('data', 'store');

export interface StoreLocation {
  readonly engine: 'pglite' | 'postgres';
  /** The folder (pglite) or the connection string (postgres). */
  readonly target: string;
}

export function storeLocation(env: Readonly<Record<string, string | undefined>>, cwd = process.cwd()): StoreLocation {
  const raw = env.CLIP_STORE ?? '';
  if (/^postgres(ql)?:\/\//i.test(raw)) return { engine: 'postgres', target: raw };
  const dir = raw.startsWith('file:') ? raw.slice(5) : raw;
  return { engine: 'pglite', target: path.resolve(cwd, dir || DEFAULT_STORE_DIR) };
}

export function createDriver(location: StoreLocation, env: Readonly<Record<string, string | undefined>> = {}): StoreDriver {
  return location.engine === 'postgres' ? new PostgresDriver({ connectionString: location.target, max: intSetting(env, 'CLIP_STORE_POOL', 8) }) : new PgliteDriver(location.target);
}

/** Opens (and migrates) the store CLIP_STORE names. */
export async function openStore(env: Readonly<Record<string, string | undefined>>): Promise<CollectionStore> {
  const driver = createDriver(storeLocation(env), env);
  try {
    return await CollectionStore.open(driver, { efSearch: intSetting(env, 'CLIP_STORE_EF_SEARCH', 40) });
  } catch (e) {
    await driver.close().catch(() => undefined);
    throw e;
  }
}

/** A password in a connection string, replaced for logs. */
export function redact(target: string): string {
  return target.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
}
