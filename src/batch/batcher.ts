/**
 * A dynamic batcher in the manner of Triton's: items submitted by concurrent requests are merged
 * into batches of up to `maxBatch` for one backend tower.
 *
 * Policy:
 * - A batch is dispatched as soon as `maxBatch` items are queued, or when the oldest queued item
 *   has waited `maxDelayMs` (the only time the batcher waits: when a full batch cannot be formed).
 * - At most `maxInFlight` batches run at once (the backend's capacity: 1 for a CPU session, two
 *   per torch worker so that one arrives while one computes). Items that arrive while batches run
 *   accumulate and leave together: under load the backend is fed full batches without any timer.
 * - With `preferredSizes` (the sizes a backend runs without padding, e.g. its CUDA graphs), a batch
 *   of another size n is cut at the largest preferred size below it when padding n up to the next
 *   one would waste more than a quarter of n (40 with sizes 32, 64 leaves as 32 + 8, 13 with 8, 16
 *   as one 13 that the backend pads to 16): padding wastes device time, extra launches host time.
 * - Results come back in submission order; `run` must return one result (or an Error) per item,
 *   in order, like DataLoader's batch function. An Error in a slot fails that item only; a
 *   rejected `run` fails the items of that batch only.
 * - Bounded: beyond `maxQueue` waiting items, `submit` rejects at once with OVERLOADED.
 * - Every item may carry a deadline and an AbortSignal: when either fires while the item is still
 *   queued, it leaves the queue (its work is never done) and rejects with TIMEOUT / the abort
 *   reason; when it fires in flight, the caller is answered at once and the result is dropped.
 */
import { alreadyCancelled, watch, type CallLimits } from '../control/cancel';
import { ClipqlError, ErrorCode } from '../errors';
import { SETTINGS } from '../config/settings';

export interface BatcherOptions<I, O> {
  /** Largest batch the backend accepts. */
  readonly maxBatch: number;
  /** How long the oldest item may wait for a fuller batch, in ms (default: CLIP_BATCH_DELAY_MS's, settings.ts). */
  readonly maxDelayMs?: number;
  /** Most items waiting in the queue (not counting those in flight); default: CLIP_QUEUE_MAX's. */
  readonly maxQueue?: number;
  /** Batches running at once; default 1. */
  readonly maxInFlight?: number;
  /** Batch sizes the backend runs best, ascending (see the policy above); default none. */
  readonly preferredSizes?: readonly number[];
  /** The batch function: same length and order as `items`; an Error in a slot fails that item. */
  readonly run: (items: I[]) => Promise<Array<O | Error>>;
  /** Called once per dispatched batch, for metrics and tests. */
  readonly onBatch?: (info: { size: number; queueWaitMs: number[]; durationMs: number; failed: boolean }) => void;
  /** Name used in error messages, e.g. "onnx/image". */
  readonly name?: string;
}

interface Entry<I, O> {
  readonly item: I;
  readonly enqueuedAt: number;
  settled: boolean;
  queued: boolean;
  unwatch?: () => void;
  resolve(value: O): void;
  reject(error: Error): void;
}

export class Batcher<I, O> {
  private readonly queue: Entry<I, O>[] = [];
  private inFlight = 0;
  private timer?: NodeJS.Timeout;
  private readonly maxDelayMs: number;
  private readonly maxQueue: number;
  private readonly maxInFlight: number;
  private closed = false;
  /** >0 while `together` runs: submissions queue without dispatching. */
  private holding = 0;
  /** Batches dispatched so far (tests and /metrics read it). */
  batches = 0;

  constructor(private readonly options: BatcherOptions<I, O>) {
    const { maxBatch } = options;
    this.maxDelayMs = options.maxDelayMs ?? SETTINGS.CLIP_BATCH_DELAY_MS.default;
    this.maxQueue = options.maxQueue ?? SETTINGS.CLIP_QUEUE_MAX.default;
    this.maxInFlight = options.maxInFlight ?? 1;
    for (const [k, v, min] of [['maxBatch', maxBatch, 1], ['maxDelayMs', this.maxDelayMs, 0], ['maxQueue', this.maxQueue, 1], ['maxInFlight', this.maxInFlight, 1]] as const) {
      if (!Number.isFinite(v) || v < min) throw new TypeError(`Batcher option ${k} must be a number >= ${min}, got ${v}`);
    }
    if (typeof options.run !== 'function') throw new TypeError('Batcher option run must be a function');
  }

  /** Items waiting (not yet dispatched). */
  get queueLength(): number {
    return this.queue.length;
  }

  get running(): number {
    return this.inFlight;
  }

  submit(item: I, opts: CallLimits = {}): Promise<O> {
    const name = this.options.name ?? 'batcher';
    if (this.closed) return Promise.reject(new ClipqlError(ErrorCode.BACKEND_UNAVAILABLE, `${name} is shutting down`));
    const cancelled = alreadyCancelled(opts, name);
    if (cancelled) return Promise.reject(cancelled);
    if (this.queue.length >= this.maxQueue) {
      return Promise.reject(
        new ClipqlError(ErrorCode.OVERLOADED, `${name}: the queue is full (${this.maxQueue} items waiting); try again shortly`, { details: { maxQueue: this.maxQueue } }),
      );
    }
    return new Promise<O>((resolve, reject) => {
      const entry: Entry<I, O> = { item, enqueuedAt: Date.now(), settled: false, queued: true, resolve, reject };
      if (opts.deadline !== undefined || opts.signal) entry.unwatch = watch(opts, name, (e) => this.giveUp(entry, e));
      this.queue.push(entry);
      this.pump();
    });
  }

  /**
   * Runs `fn`, whose submissions join the queue as one: nothing is dispatched until it returns, so
   * a request's items leave in as few batches as the queue allows, whatever the delay setting.
   */
  together<T>(fn: () => T): T {
    this.holding++;
    try {
      return fn();
    } finally {
      this.holding--;
      this.pump();
    }
  }

  /** Refuse new items; queued ones still run. */
  close(): void {
    this.closed = true;
  }

  private giveUp(entry: Entry<I, O>, error: Error): void {
    if (entry.queued) {
      const i = this.queue.indexOf(entry);
      if (i >= 0) this.queue.splice(i, 1);
      entry.queued = false;
    }
    this.settle(entry, () => entry.reject(error));
  }

  private settle(entry: Entry<I, O>, fn: () => void): void {
    if (entry.settled) return;
    entry.settled = true;
    entry.unwatch?.();
    fn();
  }

  private pump(): void {
    if (this.holding > 0) return;
    while (this.inFlight < this.maxInFlight && this.queue.length > 0) {
      const waited = Date.now() - this.queue[0].enqueuedAt;
      if (this.queue.length < this.options.maxBatch && waited < this.maxDelayMs) {
        this.timer ??= setTimeout(() => {
          this.timer = undefined;
          this.pump();
        }, this.maxDelayMs - waited);
        return;
      }
      this.dispatch(this.queue.splice(0, cutSize(Math.min(this.queue.length, this.options.maxBatch), this.options.preferredSizes)));
    }
    if (this.queue.length === 0 && this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  private dispatch(batch: Entry<I, O>[]): void {
    this.inFlight++;
    this.batches++;
    const started = Date.now();
    for (const e of batch) e.queued = false;
    let failed = false;
    const finish = () => {
      this.inFlight--;
      this.options.onBatch?.({ size: batch.length, queueWaitMs: batch.map((e) => started - e.enqueuedAt), durationMs: Date.now() - started, failed });
      this.pump();
    };
    let results: Promise<Array<O | Error>>;
    try {
      results = this.options.run(batch.map((e) => e.item));
    } catch (e) {
      results = Promise.reject(e);
    }
    results.then(
      (out) => {
        if (!Array.isArray(out) || out.length !== batch.length) {
          failed = true;
          const err = new ClipqlError(ErrorCode.INTERNAL_SERVER_ERROR, `batch function returned ${Array.isArray(out) ? out.length : typeof out} results for ${batch.length} items`);
          batch.forEach((e) => this.settle(e, () => e.reject(err)));
        } else {
          batch.forEach((e, i) => {
            const r = out[i];
            this.settle(e, () => (r instanceof Error ? e.reject(r) : e.resolve(r)));
          });
        }
        finish();
      },
      (err: unknown) => {
        failed = true;
        const error = err instanceof Error ? err : new Error(String(err));
        batch.forEach((e) => this.settle(e, () => e.reject(error)));
        finish();
      },
    );
  }
}

/** How many of `n` waiting items to send, given the backend's preferred sizes (policy above). */
export function cutSize(n: number, preferred: readonly number[] = []): number {
  if (preferred.length === 0 || preferred.includes(n)) return n;
  const up = preferred.find((s) => s > n);
  const down = [...preferred].reverse().find((s) => s < n);
  if (down === undefined || (up !== undefined && up - n <= n / 4)) return n;
  return down;
}

