/**
 * The server engine: PostgreSQL with pgvector through node-postgres, for several clipql replicas
 * sharing one store. A pool of connections; each transaction holds one of them until it ends.
 * Connection failures surface as SqlError without SQLSTATE (the store reports STORE_UNAVAILABLE);
 * the pool reconnects by itself on the next query.
 */
import { Pool, type PoolClient } from 'pg';
import { checkConnectionSettings, SqlError, vectorBinary, type Queryable, type ConnectionSettings, type SqlValue, type StoreDriver } from './driver';

export interface PostgresDriverOptions {
  /** postgres://user:password@host:port/database (or ?host=/run/postgresql for a socket). */
  readonly connectionString: string;
  /** Pool size (default 8). */
  readonly max?: number;
  /** Set on every connection at start-up (`-c name=value` options): no statement of its own. */
  readonly session?: ConnectionSettings;
}

export class PostgresDriver implements StoreDriver {
  readonly engine = 'postgres' as const;
  readonly session: ConnectionSettings;
  /** See StoreDriver.vector: pgvector's binary form, a binary parameter. */
  readonly vector = vectorBinary;
  private readonly pool: Pool;
  private closed?: Promise<void>;

  constructor(options: PostgresDriverOptions) {
    this.session = checkConnectionSettings(options.session ?? {});
    const startup = Object.entries(this.session).map(([k, v]) => `-c ${k}=${v}`).join(' ');
    this.pool = new Pool({ connectionString: options.connectionString, max: options.max ?? 8, connectionTimeoutMillis: 10_000, ...(startup ? { options: startup } : {}) });
    // An idle connection that the server drops emits 'error' on the pool; without a listener
    // that would crash the process. The next query simply gets a fresh connection.
    this.pool.on('error', () => undefined);
  }

  query<R = Record<string, unknown>>(sql: string, params: readonly SqlValue[] = []): Promise<R[]> {
    return run<R>(this.pool, sql, params);
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    let client: PoolClient;
    try {
      client = await this.pool.connect();
    } catch (e) {
      throw asSqlError(e);
    }
    let broken = false;
    try {
      await run(client, 'BEGIN', []);
      const result = await fn({ query: <R>(sql: string, params: readonly SqlValue[] = []) => run<R>(client, sql, params) });
      await run(client, 'COMMIT', []);
      return result;
    } catch (e) {
      await run(client, 'ROLLBACK', []).catch(() => (broken = true));
      throw e;
    } finally {
      // A connection whose rollback failed is discarded, not returned to the pool.
      client.release(broken);
    }
  }

  close(): Promise<void> {
    return (this.closed ??= this.pool.end());
  }
}

async function run<R>(target: Pool | PoolClient, sql: string, params: readonly SqlValue[]): Promise<R[]> {
  try {
    // Uint8Array → Buffer: node-postgres sends Buffers as bytea.
    const values = params.map((p) => (p instanceof Uint8Array && !Buffer.isBuffer(p) ? Buffer.from(p.buffer, p.byteOffset, p.byteLength) : p));
    const r = await target.query(sql, values);
    return r.rows as R[];
  } catch (e) {
    throw asSqlError(e);
  }
}

function asSqlError(e: unknown): SqlError {
  if (e instanceof SqlError) return e;
  const err = e as { message?: string; code?: string };
  // SQLSTATEs are five characters; node's own codes (ECONNREFUSED...) are not.
  const state = typeof err?.code === 'string' && /^[0-9A-Z]{5}$/.test(err.code) ? err.code : undefined;
  return new SqlError(String(err?.message ?? e), state);
}
