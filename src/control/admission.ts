/**
 * An admission gate: at most `concurrency` tasks run at once, at most `maxQueue` wait for a turn,
 * and the rest are refused at once with OVERLOADED. It goes in front of work that has no bound of
 * its own, such as the preprocessing threads (preprocess/pool.ts), whose message ports would
 * otherwise queue any number of decodes ahead of the batcher's bound (batch/batcher.ts).
 *
 * Contract, like the batcher's:
 * - A waiting task may carry a deadline and an AbortSignal. When either fires before the task has
 *   started, it leaves the queue (its work is never done) and rejects with TIMEOUT / the abort
 *   reason. Once started, a task runs to its end; the gate does not interrupt it.
 * - Waiting tasks start in arrival order.
 * - `run`'s function is called at most once, and only when the task is admitted and its turn comes.
 */
import { ClipqlError, ErrorCode } from '../errors';
import { alreadyCancelled, watch, type CallLimits } from './cancel';

export interface AdmissionOptions {
  /** Tasks running at once (at least 1). */
  readonly concurrency: number;
  /** Tasks waiting for a turn (at least 0); one more is refused with OVERLOADED. */
  readonly maxQueue: number;
  /** Name used in error messages, e.g. "image preprocessing". */
  readonly name?: string;
}

interface Waiter {
  readonly start: () => void;
  readonly fail: (e: Error) => void;
}

export class AdmissionGate {
  private readonly waiting: Waiter[] = [];
  private active = 0;
  /** Tasks refused with OVERLOADED since start (tests and /metrics read it). */
  refused = 0;

  constructor(private readonly options: AdmissionOptions) {
    const { concurrency, maxQueue } = options;
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new TypeError(`AdmissionGate option concurrency must be an integer >= 1, got ${concurrency}`);
    if (!Number.isInteger(maxQueue) || maxQueue < 0) throw new TypeError(`AdmissionGate option maxQueue must be an integer >= 0, got ${maxQueue}`);
  }

  /** Tasks waiting for a turn. */
  get queueLength(): number {
    return this.waiting.length;
  }

  /** Tasks running. */
  get running(): number {
    return this.active;
  }

  run<T>(task: () => Promise<T>, opts: CallLimits = {}): Promise<T> {
    const name = this.options.name ?? 'admission';
    const cancelled = alreadyCancelled(opts, name);
    if (cancelled) return Promise.reject(cancelled);
    if (this.active < this.options.concurrency) return this.start(task);
    if (this.waiting.length >= this.options.maxQueue) {
      this.refused++;
      return Promise.reject(
        new ClipqlError(ErrorCode.OVERLOADED, `${name}: the queue is full (${this.options.maxQueue} waiting); try again shortly`, { details: { maxQueue: this.options.maxQueue } }),
      );
    }
    return new Promise<T>((resolve, reject) => {
      const leave = () => {
        const i = this.waiting.indexOf(waiter);
        if (i >= 0) this.waiting.splice(i, 1);
        unwatch();
      };
      const waiter: Waiter = {
        start: () => {
          leave();
          this.start(task).then(resolve, reject);
        },
        fail: (e) => {
          leave();
          reject(e);
        },
      };
      const unwatch = watch(opts, name, (e) => waiter.fail(e));
      this.waiting.push(waiter);
    });
  }

  private start<T>(task: () => Promise<T>): Promise<T> {
    this.active++;
    let p: Promise<T>;
    try {
      p = task();
    } catch (e) {
      p = Promise.reject(e);
    }
    return p.finally(() => {
      this.active--;
      this.waiting[0]?.start();
    });
  }
}

