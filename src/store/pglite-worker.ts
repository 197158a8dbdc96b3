/**
 * PGlite on its own thread. PGlite is PostgreSQL compiled to WASM: every query runs synchronously
 * inside WASM calls, so on the main thread an HNSW search or an index build would stall the event
 * loop (and every other request) for its whole duration. Here it stalls only this thread.
 *
 * PGlite has one connection. Its `transaction()` holds a lock that queues every other query until
 * the transaction ends; a transaction here stays open across messages (begin, queries with `tx`,
 * end) so the main thread can run a multi-statement transaction as with node-postgres.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite/vector';
import type { WorkerConfig, WorkerReply, WorkerRequest } from './pglite-protocol';

const config = workerData as WorkerConfig;
const port = parentPort!;
const opened = PGlite.create(config.dataDir, { extensions: { vector }, pgliteWasmModule: config.wasmModule }).then(async (db) => {
  for (const [name, value] of Object.entries(config.session)) await db.query('SELECT set_config($1, $2, false)', [name, value]);
  return db;
});
const open = new Map<number, { tx: Transaction; finish: (commit: boolean) => void }>();

const reply = (m: WorkerReply) => port.postMessage(m);
const fail = (id: number, e: unknown) => {
  const err = e as { message?: string; code?: string };
  reply({ id, ok: false, message: String(err?.message ?? e), sqlState: typeof err?.code === 'string' ? err.code : undefined });
};

port.on('message', (m: WorkerRequest) => {
  void handle(m).catch((e: unknown) => fail(m.id, e));
});

async function handle(m: WorkerRequest): Promise<void> {
  const db = await opened;
  switch (m.op) {
    case 'query': {
      const target = m.tx === undefined ? db : open.get(m.tx)?.tx;
      if (!target) throw new Error(`transaction ${m.tx} is not open`);
      const r = await target.query<Record<string, unknown>>(m.sql, m.params as unknown[]);
      reply({ id: m.id, ok: true, rows: r.rows });
      return;
    }
    case 'begin': {
      let finish!: (commit: boolean) => void;
      const finished = new Promise<boolean>((resolve) => (finish = resolve));
      let begun = false;
      // The reply to 'begin' goes out once PGlite has given us the transaction; the reply to
      // 'end' (below) once it has committed or rolled back.
      const done = db
        .transaction(async (tx) => {
          open.set(m.id, { tx, finish });
          begun = true;
          reply({ id: m.id, ok: true });
          if (!(await finished)) await tx.rollback();
        })
        .finally(() => open.delete(m.id));
      done.catch((e: unknown) => {
        if (!begun) fail(m.id, e); // otherwise 'end' reports it
      });
      ends.set(m.id, done);
      return;
    }
    case 'end': {
      const entry = open.get(m.tx);
      const done = ends.get(m.tx);
      if (!entry || !done) throw new Error(`transaction ${m.tx} is not open`);
      ends.delete(m.tx);
      entry.finish(m.commit);
      await done;
      reply({ id: m.id, ok: true });
      return;
    }
    case 'close':
      await db.close();
      reply({ id: m.id, ok: true });
      return;
  }
}

const ends = new Map<number, Promise<void>>();
