/**
 * `clipql index`, in process, on the store CLIP_STORE names (default the embedded one in
 * ./data/store; --store overrides it), or on a running server (`clipql search` is in
 * search-command.ts, and shares this file's options, usage and opening):
 *
 *   clipql index PATH... --collection NAME [--model DIR] [--prune] [--concurrency N] [--batch N]
 *                [--progress-seconds 5] [--m M --ef-construction N (a new collection's index)]
 *                [--store DIR|URL | --server URL [--api-key KEY | --api-key-file F] [--document-ids] [--requests N]]
 *   clipql search NAME CAPTION [--k 10] [--exact | --approximate] [--ef N] [--model DIR] [--json] [--store ...]
 *
 * index: PATH is a folder (walked recursively), an image file, or @LIST (a file of paths); the
 * collection is created, bound to the model, when missing. With --server, the files go to that
 * clipql server through GraphQL (server-target.ts) and it encodes them: --model is then one of
 * its served models' names, --batch its images per request (32) and --requests the requests in
 * flight (2). Progress goes to stderr: one line
 * rewritten in place on a terminal, otherwise a line at most every --progress-seconds (5); each bad file is named there with
 * its error code. Ctrl-C stops cleanly (what is encoded is written, nothing half; the next run
 * goes on from there); a second Ctrl-C exits at once (the open transaction, if any, rolls back).
 * Exit status: 0 done (bad files are counted, not fatal), 130 interrupted, 1 error, 2 usage.
 */
import { parseArgs } from 'node:util';
import type { Config } from '../config/config';
import { ClipqlError, ErrorCode, isClipqlError } from '../errors';
import { readFileSync } from 'node:fs';
import { indexFolder, type IndexProgress } from '../indexer/indexer';
import { localTarget } from '../indexer/local-target';
import type { IndexStages, IndexTarget } from '../indexer/target';
import { TINY_MODEL_DIR } from '../paths';
import { ClipPipeline } from '../pipeline';
import { openStore } from '../store/open';
import { bindingOf, modelMismatch, type CollectionStore } from '../store/store';
import { ServerTarget } from '../indexer/server-target';
import { bulkOnnxInstances } from '../backends/onnx/onnx-backend';

export const INDEX_USAGE = `usage: clipql index PATH... --collection NAME [--model DIR] [--prune] [--concurrency N] [--batch N]
                    [--m M] [--ef-construction N] [--progress-seconds N]
                    [--store DIR|URL | --server URL [--api-key KEY | --api-key-file F] [--document-ids] [--requests N]]
       clipql search NAME CAPTION [--k N] [--exact | --approximate] [--ef N] [--model DIR] [--json] [--store DIR|URL]`;

export interface Io {
  out(s: string): void;
  err(s: string): void;
  readonly tty: boolean;
  /** Where Ctrl-C is listened for (process, in the CLI). */
  onInterrupt?(handler: () => void): () => void;
}

export const COMMON = { model: { type: 'string' }, store: { type: 'string' } } as const;

export function usage(io: Io, message: string): number {
  io.err(`error [${ErrorCode.BAD_USER_INPUT}]: ${message}\n${INDEX_USAGE}\n`);
  return 2;
}

export const int = (v: string | undefined, what: string): number | undefined => {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new ClipqlError(ErrorCode.BAD_USER_INPUT, `--${what} must be a whole number, got ${JSON.stringify(v)}`);
  return Number(v);
};

export async function open(config: Config, model: string | undefined, store: string | undefined): Promise<{ pipeline: ClipPipeline; store: CollectionStore }> {
  const c = store === undefined ? config : { ...config, CLIP_STORE: store };
  const pipeline = await ClipPipeline.open({ modelDir: model ?? config.CLIP_MODEL ?? TINY_MODEL_DIR, config, backend: config.CLIP_BACKEND });
  try {
    // The backend (its sessions, its warm-up) starts while the store opens, and before the run's
    // clock: a run's rate is then the pace of reading, decoding and encoding, not of loading.
    const [store, backend] = await Promise.allSettled([openStore(c), pipeline.embedder()]);
    if (store.status === 'rejected') throw store.reason;
    if (backend.status === 'rejected') {
      await store.value.close().catch(() => undefined);
      throw backend.reason;
    }
    return { pipeline, store: store.value };
  } catch (e) {
    await pipeline.close();
    throw e;
  }
}

function line(p: IndexProgress): string {
  const done = p.stored + p.skipped + p.bad;
  const rate = p.stored / Math.max(p.seconds, 1e-3);
  const eta = rate > 0 ? (p.total - done) / rate : NaN;
  const pct = p.total ? Math.floor((100 * done) / p.total) : 100;
  return `${done}/${p.total} (${pct} %): ${p.stored} stored, ${p.skipped} unchanged, ${p.bad} bad; ${rate.toFixed(1)} images/s${Number.isFinite(eta) && done < p.total ? `, about ${Math.ceil(eta)} s left` : ''}`;
}

/** The summary's second line: where the time went (indexer/target.ts IndexStages). */
export function stagesLine(s: IndexStages): string {
  const f = (x: number | undefined) => (x === undefined ? 'n/a (the server encodes)' : `${x.toFixed(1)} s`);
  return `time by stage (summed over files and batches; stages overlap): read ${f(s.read)}, decode ${f(s.decode)} (preprocessing threads), encode ${f(s.encode)} (model), store ${f(s.store)}`;
}

export async function indexCommand(argv: string[], config: Config, io: Io): Promise<number> {
  let a;
  try {
    a = parseArgs({ args: argv, allowPositionals: true, options: { ...COMMON, collection: { type: 'string' }, prune: { type: 'boolean', default: false }, concurrency: { type: 'string' }, batch: { type: 'string' }, 'progress-seconds': { type: 'string', default: '5' }, m: { type: 'string' }, 'ef-construction': { type: 'string' }, server: { type: 'string' }, 'api-key': { type: 'string' }, 'api-key-file': { type: 'string' }, 'document-ids': { type: 'boolean', default: false }, requests: { type: 'string' } } });
  } catch (e) {
    return usage(io, (e as Error).message);
  }
  const { values: v, positionals: roots } = a;
  if (!v.collection) return usage(io, '--collection NAME is required');
  if (roots.length === 0) return usage(io, 'no PATH given (a folder, an image file, or @LIST)');
  if (v.server !== undefined && v.store !== undefined) return usage(io, '--server and --store: give one (where the collection is)');
  if (v.server === undefined && (v['api-key'] ?? v['api-key-file'] ?? v.requests) !== undefined) return usage(io, '--api-key, --api-key-file and --requests go with --server');
  if (v['api-key'] !== undefined && v['api-key-file'] !== undefined) return usage(io, '--api-key and --api-key-file: give one');
  let opened: Awaited<ReturnType<typeof open>> | undefined;
  const abort = new AbortController();
  let interrupts = 0;
  const stopListening = io.onInterrupt?.(() => {
    if (++interrupts > 1) {
      io.err('\nsecond interrupt: exiting now\n');
      process.exit(130);
    }
    io.err('\ninterrupted: finishing the images being encoded, then stopping (Ctrl-C again to exit now)\n');
    abort.abort();
  });
  try {
    const concurrency = int(v.concurrency, 'concurrency');
    const m = int(v.m, 'm');
    const efConstruction = int(v['ef-construction'], 'ef-construction');
    const every = int(v['progress-seconds'], 'progress-seconds')!;
    const batch = int(v.batch, 'batch');
    let target: IndexTarget;
    if (v.server !== undefined) {
      const apiKey = v['api-key'] ?? (v['api-key-file'] !== undefined ? readFileSync(v['api-key-file'], 'utf8').trim() : undefined);
      target = await ServerTarget.open({ url: v.server, collection: v.collection, model: v.model, apiKey, documentIds: v['document-ids'], chunk: batch, writers: int(v.requests, 'requests'), concurrency, hnsw: { m, efConstruction }, log: (l) => io.err(`${l}\n`) });
    } else {
      // Bulk work: two onnxruntime instances unless told (bulkOnnxInstances: throughput is all that counts here).
      opened = await open({ ...config, CLIP_ONNX_INSTANCES: bulkOnnxInstances(config) }, v.model, v.store);
      const { pipeline, store } = opened;
      const model = await pipeline.identity();
      const { details: d, name, device } = (await pipeline.embedder()).backend.describe();
      io.err(`encoding with ${name} on ${device}${d.instances ? ` (${d.instances} onnxruntime instances of ${d.intraOpThreads} threads)` : ''}\n`);
      const existing = await store.collection(v.collection);
      if (!existing) {
        const c = await store.createCollection(v.collection, model, { hnsw: { m, efConstruction } });
        io.err(`created collection ${c.name} (model ${c.model}, D = ${c.dim}, m ${c.hnsw.m}, ef_construction ${c.hnsw.efConstruction})\n`);
      } else if (bindingOf(existing, model) === 'other') throw modelMismatch(v.collection, existing, model); // before any encoding
      target = localTarget({ collection: v.collection, pipeline, store, model, concurrency, chunk: batch });
    }
    let last = 0;
    const result = await indexFolder({
      roots,
      target,
      prune: v.prune,
      maxBytes: config.CLIP_MAX_IMAGE_BYTES,
      signal: abort.signal,
      onProgress: (p) => {
        if (io.tty) io.err(`\r\x1b[K${line(p)}`);
        else if (p.seconds - last >= every) {
          last = p.seconds;
          io.err(`${line(p)}\n`);
        }
      },
      onBad: (f, code, message) => io.err(`${io.tty ? '\r\x1b[K' : ''}bad file ${f.path}: [${code}] ${message}\n`),
    });
    io.err(`${io.tty ? '\r\x1b[K' : ''}${line(result)}\n${stagesLine(result.stages)}\n`);
    io.out(`${JSON.stringify({ collection: v.collection, ...result })}\n`);
    return result.interrupted ? 130 : 0;
  } catch (e) {
    io.err(`error [${isClipqlError(e) ? e.code : ErrorCode.INTERNAL_SERVER_ERROR}]: ${(e as Error).message}\n`);
    return 1;
  } finally {
    stopListening?.();
    await opened?.store.close().catch(() => undefined);
    await opened?.pipeline.close();
  }
}
