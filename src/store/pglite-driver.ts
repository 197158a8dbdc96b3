/**
 * The embedded engine: PGlite (PostgreSQL 17 in WASM, with pgvector 0.8.1) in a data folder,
 * driven through a worker thread (pglite-worker.ts) so that its synchronous WASM work never holds
 * the event loop. One process owns a data folder at a time (PGlite has no shared access); several
 * replicas need the server engine (postgres-driver.ts).
 */
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { checkConnectionSettings, SqlError, vectorText, type Queryable, type ConnectionSettings, type SqlValue, type StoreDriver } from './driver';
import type { WorkerConfig, WorkerReply, WorkerRequest } from './pglite-protocol';

/**
 * pglite.wasm (10 MB), compiled on first use and kept for the process's life. Every store's thread
 * instantiates this one Module: V8 shares compiled code between the threads of a process, so the
 * baseline compile happens once, and so does the optimising (TurboFan) tier-up of the functions
 * that get hot, which otherwise every thread repeats in the background: a third of the CPU of a
 * process that opens stores one after another (`perf` on test/indexer/index.test.ts, 11 stores:
 * 35 s of CPU before, 27-28 s after). Compiled synchronously: about 0.1 s, once, before the
 * first store's thread starts.
 */
let pgliteWasm: WebAssembly.Module | undefined;
function pgliteModule(): WebAssembly.Module {
  pgliteWasm ??= new WebAssembly.Module(readFileSync(path.join(path.dirname(require.resolve('@electric-sql/pglite')), 'pglite.wasm')));
  return pgliteWasm;
}

type Pending = { resolve: (rows: Record<string, unknown>[]) => void; reject: (e: Error) => void };
/** WorkerRequest without its id (distributive over the union, unlike Omit). */
type Body<T> = T extends unknown ? Omit<T, 'id'> : never;

export class PgliteDriver implements StoreDriver {
  readonly engine = 'pglite' as const;
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed?: Promise<void>;
  /** Set when the worker died: every later call fails with it. */
  private dead?: Error;

  readonly session: ConnectionSettings;
  /** See StoreDriver.vector: the text form (PGlite's parameters travel as text). */
  readonly vector = vectorText;

  /** `dataDir` is created if missing; PGlite initialises an empty one on first open (seconds). */
  constructor(
    readonly dataDir: string,
    session: ConnectionSettings = {},
  ) {
    this.session = checkConnectionSettings(session);
    mkdirSync(dataDir, { recursive: true });
    const config: WorkerConfig = { dataDir: path.resolve(dataDir), session: this.session, wasmModule: pgliteModule() };
    this.worker = new Worker(path.join(__dirname, 'pglite-worker.js'), { workerData: config });
    this.worker.unref();
    this.worker.on('message', (m: WorkerReply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (this.pending.size === 0) this.worker.unref();
      if (m.ok) p.resolve(m.rows ?? []);
      else p.reject(new SqlError(m.message, m.sqlState));
    });
    const die = (e: Error) => {
      this.dead ??= new SqlError(`the embedded store's thread stopped: ${e.message}`);
      for (const p of this.pending.values()) p.reject(this.dead);
      this.pending.clear();
    };
    this.worker.on('error', die);
    this.worker.on('exit', (code) => die(new Error(`exit code ${code}`)));
  }

  private call(body: Body<WorkerRequest>): Promise<Record<string, unknown>[]> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      // A pending call keeps the process alive; an idle worker does not.
      this.worker.ref();
      this.worker.postMessage({ ...body, id } as WorkerRequest);
    });
  }

  async query<R = Record<string, unknown>>(sql: string, params: readonly SqlValue[] = []): Promise<R[]> {
    return (await this.call({ op: 'query', sql, params })) as R[];
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    // The begin request's id names the transaction in the worker.
    const txId = this.nextId;
    await this.call({ op: 'begin' });
    const tx: Queryable = { query: async <R>(sql: string, params: readonly SqlValue[] = []) => (await this.call({ op: 'query', sql, params, tx: txId })) as R[] };
    let result: T;
    try {
      result = await fn(tx);
    } catch (e) {
      await this.call({ op: 'end', tx: txId, commit: false }).catch(() => undefined);
      throw e;
    }
    await this.call({ op: 'end', tx: txId, commit: true });
    return result;
  }

  close(): Promise<void> {
    return (this.closed ??= (async () => {
      try {
        await this.call({ op: 'close' });
      } finally {
        await this.worker.terminate();
      }
    })());
  }
}
