/**
 * Versioned migrations: numbered SQL files in migrations/ (NNN_name.sql), applied in order, all
 * pending ones in one transaction, each recorded in clip_migrations. The same files run on PGlite
 * and on a server. An advisory lock serialises replicas that start at once: the second waits,
 * then finds the work done.
 *
 * A file holds statements separated by a ';' at the end of a line (drivers run one statement per
 * call, as PostgreSQL's extended protocol requires); no statement may contain such a line inside.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../paths';
import type { StoreDriver } from './driver';

/** The SQL files are read from the source tree (tsc does not copy them to dist/). */
export const MIGRATIONS_DIR = path.join(REPO_ROOT, 'src', 'store', 'migrations');
/** Any constant; the same in every replica. */
const LOCK_KEY = 727_711_018;

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly statements: readonly string[];
}

export function loadMigrations(dir = MIGRATIONS_DIR): Migration[] {
  const files = readdirSync(dir).filter((f) => /^\d{3}_[a-z0-9_]+\.sql$/.test(f)).sort();
  const out = files.map((f) => ({
    version: Number(f.slice(0, 3)),
    name: f.slice(4, -4),
    statements: readFileSync(path.join(dir, f), 'utf8')
      .split(/;[ \t]*$/m)
      .map((s) => s.replace(/^\s*--.*$/gm, '').trim())
      .filter(Boolean),
  }));
  out.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migrations must be numbered 001, 002... without gaps: ${files[i]} is number ${i + 1}`);
  });
  return out;
}

/** Applies the pending migrations; resolves to the versions applied now (empty when current). */
export async function migrate(driver: StoreDriver, migrations: readonly Migration[] = loadMigrations()): Promise<number[]> {
  return driver.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [LOCK_KEY]);
    await tx.query('CREATE TABLE IF NOT EXISTS clip_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())');
    const done = new Set((await tx.query<{ version: number }>('SELECT version FROM clip_migrations')).map((r) => r.version));
    const known = new Set(migrations.map((m) => m.version));
    const unknown = [...done].filter((v) => !known.has(v));
    if (unknown.length) throw new Error(`the store was migrated by a newer clipql (versions ${unknown.join(', ')} are unknown here)`);
    const applied: number[] = [];
    for (const m of migrations) {
      if (done.has(m.version)) continue;
      for (const s of m.statements) await tx.query(s);
      await tx.query('INSERT INTO clip_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      applied.push(m.version);
    }
    return applied;
  });
}
