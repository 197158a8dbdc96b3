/**
 * The contract between the collection store (store.ts) and a database engine. The store speaks
 * PostgreSQL SQL with pgvector; a driver only carries statements and their parameters to an
 * engine and rows back. Two drivers implement it: PGlite (pglite-driver.ts, embedded, on a worker
 * thread) and node-postgres (postgres-driver.ts, a server shared by replicas).
 *
 * Parameters always travel separately from the SQL text ($1, $2...): no driver ever splices a
 * value into a statement.
 *
 * Values crossing the boundary are restricted to what both engines and a worker thread carry the
 * same way: strings, numbers, booleans, null and Uint8Array (bytea). Vectors go in the form the
 * driver's vector() makes, always with an explicit `::vector` cast; JSON as text with `::jsonb`;
 * counts come back as `int` (cast in SQL: node-postgres returns bigint as a string).
 */
export type SqlValue = string | number | boolean | null | Uint8Array;

export interface Queryable {
  /** Runs one statement; resolves to its rows (empty for statements without a result). */
  query<R = Record<string, unknown>>(sql: string, params?: readonly SqlValue[]): Promise<R[]>;
}

/**
 * Settings (PostgreSQL parameters: name → value) that every connection of a driver starts with,
 * set before its first statement and never changed by the store outside a transaction (inside
 * one it may use set_config(..., true), which ends with the transaction). Names and values are
 * restricted to [A-Za-z0-9_.] (they travel in a connection's start-up options, not as SQL).
 */
export type ConnectionSettings = Readonly<Record<string, string>>;

export function checkConnectionSettings(settings: ConnectionSettings): ConnectionSettings {
  for (const [k, v] of Object.entries(settings)) {
    if (!/^[A-Za-z_][A-Za-z0-9_.]*$/.test(k) || !/^[A-Za-z0-9_.]+$/.test(v)) throw new RangeError(`session setting ${JSON.stringify(k)} = ${JSON.stringify(v)}: names and values are letters, digits, '_' and '.'`);
  }
  return Object.freeze({ ...settings });
}

export interface StoreDriver extends Queryable {
  /** "pglite" or "postgres": shown in logs and in tests' names. */
  readonly engine: 'pglite' | 'postgres';
  /** What every connection starts with (see ConnectionSettings); the store reads it to skip SETs. */
  readonly session: ConnectionSettings;
  /**
   * A vector as a parameter for `$n::vector`: on node-postgres pgvector's binary form (a Buffer
   * travels as a binary parameter, read by vector_recv: 4 bytes a value, nothing to format or
   * parse); on PGlite, whose parameters travel as text, its text form. The same float32 values
   * either way. Throws a RangeError for a value that is not finite.
   */
  vector(v: Float32Array): SqlValue;
  /**
   * Runs `fn` inside BEGIN ... COMMIT on one connection; a throw rolls back and is rethrown. While
   * it runs, the driver's other queries still work (on the server they use other connections; on
   * PGlite, which has one, they wait until the transaction ends).
   */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /** Closes the connection(s); later calls fail. Idempotent. */
  close(): Promise<void>;
}

/**
 * An engine's error, with PostgreSQL's SQLSTATE when the engine gave one (23505 unique violation,
 * 42P01 undefined table...). The store maps the ones it expects to ClipqlError codes.
 */
export class SqlError extends Error {
  constructor(message: string, readonly sqlState?: string) {
    super(message);
    this.name = 'SqlError';
  }
}

/** pgvector's text form, '[x,y,...]': each float32 printed so that it parses back to the same bits. */
export function vectorText(v: Float32Array): string {
  let s = '[';
  for (let i = 0; i < v.length; i++) {
    if (!Number.isFinite(v[i])) throw new RangeError(`embedding value ${i} is ${v[i]}`);
    s += (i ? ',' : '') + v[i];
  }
  return s + ']';
}

/** pgvector's binary form (vector_send / vector_recv): int16 dim, int16 0, dim float4, big-endian. */
export function vectorBinary(v: Float32Array): Buffer {
  const b = Buffer.allocUnsafe(4 + 4 * v.length);
  b.writeInt16BE(v.length, 0);
  b.writeInt16BE(0, 2);
  for (let i = 0; i < v.length; i++) {
    if (!Number.isFinite(v[i])) throw new RangeError(`embedding value ${i} is ${v[i]}`);
    b.writeFloatBE(v[i], 4 + 4 * i);
  }
  return b;
}

/** A text[] literal for `= ANY($1::text[])`: each element quoted, quotes and backslashes escaped. */
export function pgTextArray(values: readonly string[]): string {
  return `{${values.map((v) => `"${v.replace(/[\\"]/g, (c) => `\\${c}`)}"`).join(',')}}`;
}
