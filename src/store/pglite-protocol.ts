/** Messages between PgliteDriver (main thread) and pglite-worker.ts. One request, one reply. */
import type { SqlValue } from './driver';

export type WorkerRequest =
  | { readonly id: number; readonly op: 'query'; readonly sql: string; readonly params: readonly SqlValue[]; readonly tx?: number }
  /** Waits for PGlite's transaction lock, then replies; `id` names the transaction from then on. */
  | { readonly id: number; readonly op: 'begin' }
  | { readonly id: number; readonly op: 'end'; readonly tx: number; readonly commit: boolean }
  | { readonly id: number; readonly op: 'close' };

export type WorkerReply =
  | { readonly id: number; readonly ok: true; readonly rows?: Record<string, unknown>[] }
  | { readonly id: number; readonly ok: false; readonly message: string; readonly sqlState?: string };

/** workerData of the worker: where the database lives, and its session settings. */
export interface WorkerConfig {
  readonly dataDir: string;
  /** Set once on PGlite's one connection before any request runs (StoreDriver.session). */
  readonly session: Readonly<Record<string, string>>;
  /**
   * PostgreSQL's WASM, compiled once per process (pglite-driver.ts): a WebAssembly.Module sent
   * to a thread shares its compiled code, so each store's thread skips the compile and V8's
   * optimising tier-up of the functions another store already made hot.
   */
  readonly wasmModule: WebAssembly.Module;
}
