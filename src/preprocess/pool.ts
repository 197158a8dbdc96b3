/**
 * Image preprocessing off the main thread. Decoding (sharp), the PIL-exact resize and the
 * crop are CPU work of 5–100 ms per image; on the event loop they would stall every other
 * request, the health checks and the batch window. A small pool of worker threads runs
 * `preprocessPixels` instead; the uint8 RGB crop comes back as a transferred buffer (the backends
 * normalise: ImageBatch in backends/backend.ts).
 *
 * Size: CLIP_PREPROCESS_THREADS, default `defaultPreprocessThreads` (below): the cores that
 * inference leaves. 0 runs preprocessing inline on the calling thread (tests, CLI).
 * Errors keep their ClipqlError code across the thread boundary.
 */
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { AdmissionGate } from '../control/admission';
import type { CallLimits } from '../control/cancel';
import { ClipqlError, ErrorCode } from '../errors';
import type { DecodeLimits } from './image/decode';
import type { ImageTransformConfig } from './image/config';
import { prepareImageItem, type ImageItem, type ImageItemOptions } from './image/image-item';
import { probeAndCrop, probeImage, type ImageProbe, type ProbedImage } from './image/probe';
import { preprocessPixels, type PreprocessMode, type PreprocessedPixels } from './image/transform';

/**
 * 'pixels': the RGB crop; 'probe': the content hash and header facts, and with `cfg` the crop
 * too (probeAndCrop); 'item': everything a stored item needs from one decode (image-item.ts;
 * `item` its options).
 */
export interface PreprocessTask {
  readonly id: number;
  readonly kind: 'pixels' | 'probe' | 'item';
  readonly bytes: Uint8Array;
  readonly cfg?: ImageTransformConfig;
  readonly mode?: PreprocessMode;
  readonly limits?: Partial<DecodeLimits>;
  readonly item?: ImageItemOptions;
  /** 'pixels': apply EXIF orientation first. */
  readonly orient?: boolean;
  /** 'probe': the bytes' hash, when the caller has it. */
  readonly sha256?: string;
}

type Result = PreprocessedPixels | ProbedImage | ImageItem;

export type PreprocessReply =
  | { readonly id: number; readonly ok: true; readonly result: Result }
  | { readonly id: number; readonly ok: false; readonly code: string; readonly message: string; readonly details?: Record<string, unknown> };

/** Bounds on waiting work (see "Admission" below). */
export interface PoolAdmission {
  /** Tasks waiting for a thread before OVERLOADED (CLIP_PREPROCESS_QUEUE_MAX); default 256. */
  readonly maxQueue?: number;
}

export interface PoolStats {
  readonly queued: number;
  readonly running: number;
  readonly refused: number;
}

export const DEFAULT_PREPROCESS_QUEUE = 256;
const TASKS_PER_THREAD = 2;
/** Probes are short (hashing, a header): more of them may be posted per thread. */
const PROBES_PER_THREAD = 4;

interface Slot {
  readonly worker: Worker;
  busy: number;
}

export class PreprocessPool {
  private readonly slots: Slot[] = [];
  private readonly pending = new Map<number, { resolve(r: Result): void; reject(e: Error): void; slot: Slot }>();
  private nextId = 1;
  private closed = false;
  private readonly gate?: AdmissionGate;
  private readonly probeGate?: AdmissionGate;

  constructor(readonly threads: number, admission: PoolAdmission = {}) {
    if (!Number.isInteger(threads) || threads < 0) throw new TypeError(`PreprocessPool threads must be an integer >= 0, got ${threads}`);
    for (let i = 0; i < threads; i++) this.slots.push(this.spawn());
    if (threads > 0) {
      this.gate = new AdmissionGate({ concurrency: TASKS_PER_THREAD * threads, maxQueue: admission.maxQueue ?? DEFAULT_PREPROCESS_QUEUE, name: 'image preprocessing' });
      this.probeGate = new AdmissionGate({ concurrency: PROBES_PER_THREAD * threads, maxQueue: admission.maxQueue ?? DEFAULT_PREPROCESS_QUEUE, name: 'image probing' });
    }
  }

  private spawn(): Slot {
    const worker = new Worker(path.join(__dirname, 'pool-worker.js'));
    const slot: Slot = { worker, busy: 0 };
    worker.unref();
    worker.on('message', (m: PreprocessReply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      slot.busy--;
      if (m.ok) p.resolve(m.result);
      else p.reject(new ClipqlError(m.code as ErrorCode, m.message, { details: m.details }));
    });
    const fail = (why: string) => {
      for (const [id, p] of this.pending) {
        if (p.slot !== slot) continue;
        this.pending.delete(id);
        p.reject(new ClipqlError(ErrorCode.INTERNAL_SERVER_ERROR, `image preprocessing thread ${why}`));
      }
      const i = this.slots.indexOf(slot);
      if (i >= 0 && !this.closed) this.slots[i] = this.spawn(); // replace a crashed thread
    };
    worker.on('error', (e) => fail(`crashed: ${e.message}`));
    worker.on('exit', (code) => {
      if (!this.closed) fail(`exited with code ${code}`);
    });
    return slot;
  }

  // ---- Admission (reliability, issue 7): kept apart from the dispatch below. ----------------
  // Without a bound, a burst posts every decode to the threads' message ports at once, and that
  // work piles up before the batcher's bound applies. The gate lets TASKS_PER_THREAD tasks per
  // thread be posted (one running, one ready, so a thread never idles between tasks); up to
  // `maxQueue` more wait here, where a passed deadline or an abort removes them undone; beyond
  // that, OVERLOADED at once. Inline mode (0 threads: tests, CLI) has no gate.

  /**
   * Preprocesses one image: BAD_IMAGE & co. for bad bytes; OVERLOADED when `maxQueue` tasks
   * already wait; TIMEOUT or the abort reason when `opts` fires before the task has started.
   */
  run(bytes: Uint8Array, cfg: ImageTransformConfig, mode: PreprocessMode, limits?: Partial<DecodeLimits>, opts?: CallLimits, orient = false): Promise<PreprocessedPixels> {
    const task = { kind: 'pixels' as const, bytes, cfg, mode, limits, orient };
    if (!this.gate || this.closed) return this.dispatch(task) as Promise<PreprocessedPixels>;
    return this.gate.run(() => this.dispatch(task), opts) as Promise<PreprocessedPixels>;
  }

  /**
   * One image item from one decode (image/image-item.ts): hash, facts, crop and thumbnail. The
   * same admission as `run` (it is the same work, and more).
   */
  item(bytes: Uint8Array, cfg: ImageTransformConfig, options: ImageItemOptions, opts?: CallLimits): Promise<ImageItem> {
    const task = { kind: 'item' as const, bytes, cfg, item: options };
    if (!this.gate || this.closed) return this.dispatch(task) as Promise<ImageItem>;
    return this.gate.run(() => this.dispatch(task), opts) as Promise<ImageItem>;
  }

  /**
   * The image's sha256 and header facts (image/probe.ts), on a thread: hashing a photo and
   * sharp's metadata call (which captures a stack trace each time) cost about half a millisecond
   * of the main thread per image, which a GPU serving a thousand images a second cannot spare.
   */
  probe(bytes: Uint8Array, limits?: Partial<DecodeLimits>, sha256?: string): Promise<ImageProbe> {
    const task = { kind: 'probe' as const, bytes, limits, sha256 };
    if (!this.probeGate || this.closed) return this.dispatch(task) as Promise<ImageProbe>;
    return this.probeGate.run(() => this.dispatch(task)) as Promise<ImageProbe>;
  }

  /**
   * A probe and the crop in one trip (image/probe.ts probeAndCrop): one message, one copy of the
   * bytes, one wake-up of a thread instead of two. Decode work: the admission of `run`.
   */
  probeAndCrop(bytes: Uint8Array, cfg: ImageTransformConfig, mode: PreprocessMode, limits?: Partial<DecodeLimits>, sha256?: string, opts?: CallLimits): Promise<ProbedImage> {
    const task = { kind: 'probe' as const, bytes, cfg, mode, limits, sha256 };
    if (!this.gate || this.closed) return this.dispatch(task) as Promise<ProbedImage>;
    return this.gate.run(() => this.dispatch(task), opts) as Promise<ProbedImage>;
  }

  /** Tasks waiting for a thread, tasks on the threads, and tasks refused so far (metrics). */
  stats(): PoolStats {
    return { queued: this.gate?.queueLength ?? 0, running: this.gate?.running ?? 0, refused: this.gate?.refused ?? 0 };
  }
  // ---- end of admission ------------------------------------------------------------------------

  private dispatch(t: Omit<PreprocessTask, 'id'>): Promise<Result> {
    if (this.slots.length === 0) return runTask(t);
    if (this.closed) return Promise.reject(new ClipqlError(ErrorCode.BACKEND_UNAVAILABLE, 'the preprocessing pool is closed'));
    const slot = this.slots.reduce((a, b) => (b.busy < a.busy ? b : a));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, slot });
      slot.busy++;
      if (slot.busy === 1) slot.worker.ref();
      const task: PreprocessTask = { id, ...t };
      slot.worker.postMessage(task);
    }).finally(() => {
      if (slot.busy === 0) slot.worker.unref();
    }) as Promise<Result>;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
    for (const p of this.pending.values()) p.reject(new ClipqlError(ErrorCode.BACKEND_UNAVAILABLE, 'the preprocessing pool was closed'));
    this.pending.clear();
  }
}

/** One task's work, on whichever thread runs it (pool-worker.ts, or inline). */
export function runTask(t: Omit<PreprocessTask, 'id'>): Promise<Result> {
  if (t.kind === 'probe') return t.cfg ? probeAndCrop(t.bytes, t.cfg, t.mode, t.limits, t.sha256) : probeImage(t.bytes, t.limits, t.sha256);
  if (t.kind === 'item') return prepareImageItem(t.bytes, t.cfg!, { ...t.item!, limits: t.limits ?? t.item!.limits });
  return preprocessPixels(t.bytes, t.cfg!, { mode: t.mode, limits: t.limits, orient: t.orient });
}
