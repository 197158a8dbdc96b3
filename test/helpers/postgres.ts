/**
 * A real PostgreSQL 15 with pgvector for the server-engine tests, set up the way this machine
 * allows (Debian's postgresql-15, as root):
 *  1. start the cluster if it is down (`pg_ctlcluster --skip-systemctl-redirect 15 main start`);
 *  2. if `CREATE EXTENSION vector` fails, build pgvector from ../shared/vendor/pgvector-0.8.6.tar.gz
 *     (needs postgresql-server-dev-15: scripts/install-system-deps.sh installs it; installed here
 *     when missing) with `make OPTFLAGS="" && make install` (about 10 s, once per machine);
 *  3. make a throwaway database owned by a throwaway password-authenticated role without
 *     superuser (one per database, so test files running at once never share a password), with
 *     the extension created in it by the postgres superuser, and connect over TCP.
 * Elsewhere, set CLIPQL_TEST_POSTGRES to a postgres:// URL of an empty database with pgvector to
 * skip all of this.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { withLockSync } from './lock';
import { sharedFile } from './shared';

const VERSION = '15';
const PG_CONFIG = `/usr/lib/postgresql/${VERSION}/bin/pg_config`;

export interface TestDatabase {
  readonly url: string;
  /** Drops the database (and its connections). */
  drop(): Promise<void>;
}

function sh(cmd: string, args: string[], opts: { input?: string; cwd?: string } = {}): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], timeout: 300_000, ...opts });
}

/** Runs SQL as the postgres superuser through the local socket (peer authentication). */
function psql(sql: string, database = 'postgres'): string {
  return sh('runuser', ['-u', 'postgres', '--', 'psql', '-X', '-q', '-t', '-A', '-v', 'ON_ERROR_STOP=1', '-d', database, '-c', sql]);
}

function cluster(): { port: number; online: boolean } {
  const line = sh('pg_lsclusters', ['-h']).split('\n').find((l) => l.startsWith(`${VERSION} main `));
  if (!line) throw new Error(`no PostgreSQL ${VERSION} cluster "main" (apt-get install postgresql-${VERSION})`);
  const f = line.trim().split(/\s+/);
  return { port: Number(f[2]), online: f[3] === 'online' };
}

// Test files run in parallel processes (npm test: --test-concurrency=2), and two of them may find
// the cluster down at once: two `pg_ctlcluster start` race on postmaster.pid ("lock file is
// empty"), and two pgvector builds race on apt's lock. So the set-up holds a lock across processes.
const SETUP_LOCK = 'postgres';

function ensureRunning(): number {
  if (process.getuid?.() !== 0) throw new Error('starting the test PostgreSQL needs root (or set CLIPQL_TEST_POSTGRES)');
  let c = cluster();
  if (!c.online) {
    sh('pg_ctlcluster', ['--skip-systemctl-redirect', VERSION, 'main', 'start']);
    c = cluster();
    if (!c.online) throw new Error(`PostgreSQL ${VERSION} main did not start`);
  }
  return c.port;
}

function buildPgvector(): void {
  if (!existsSync(path.join(path.dirname(PG_CONFIG), '..', 'lib', 'pgxs', 'src', 'makefiles', 'pgxs.mk')) || !existsSync(`/usr/include/postgresql/${VERSION}/server/postgres.h`)) {
    sh('apt-get', ['install', '-y', '-qq', '--no-install-recommends', `postgresql-server-dev-${VERSION}`]);
    // The headers must match the server, so apt may have upgraded postgresql-15 with them: the
    // running server would then load the new version's libraries (plpgsql.so) and fail. Restart it.
    sh('pg_ctlcluster', ['--skip-systemctl-redirect', VERSION, 'main', 'restart']);
  }
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'pgvector-'));
  try {
    sh('tar', ['-xzf', sharedFile('vendor', 'pgvector-0.8.6.tar.gz'), '-C', tmp, '--strip-components=1']);
    sh('make', ['OPTFLAGS=', '-j2', `PG_CONFIG=${PG_CONFIG}`], { cwd: tmp });
    sh('make', ['install', `PG_CONFIG=${PG_CONFIG}`], { cwd: tmp });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** A fresh empty database with pgvector, and a URL to reach it as a non-superuser role. */
export async function createTestDatabase(): Promise<TestDatabase> {
  if (process.env.CLIPQL_TEST_POSTGRES) return { url: process.env.CLIPQL_TEST_POSTGRES, drop: async () => undefined };
  // Identifiers and the password are made here (hex), never taken from outside.
  const name = `clipql_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  const password = randomBytes(16).toString('hex');
  const db = name;
  const port = withLockSync(SETUP_LOCK, () => {
    const p = ensureRunning();
    psql(`CREATE ROLE ${name} LOGIN NOSUPERUSER PASSWORD '${password}'`);
    psql(`CREATE DATABASE ${name} OWNER ${name}`);
    try {
      psql('CREATE EXTENSION IF NOT EXISTS vector', db);
    } catch {
      buildPgvector();
      psql('CREATE EXTENSION IF NOT EXISTS vector', db);
    }
    return p;
  });
  return {
    url: `postgres://${name}:${password}@127.0.0.1:${port}/${db}`,
    drop: async () => {
      psql(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
      psql(`DROP ROLE IF EXISTS ${name}`);
    },
  };
}
