/**
 * The one cancellation primitive: a caller's limits (an absolute deadline and an AbortSignal) and
 * `watch`, which calls back once when either fires and cleans up after itself. Every stage that
 * waits on behalf of a caller (the preprocessing admission, the batcher's queue, the Embedder's
 * shared work, the torch backend's wait for a worker and its calls) uses it, so that "the
 * deadline passed" and "the client went away" mean the same everywhere: TIMEOUT, or the signal's
 * reason. A neutral module: every stage of the data flow imports it, it imports none of them.
 */
import { ClipqlError, ErrorCode } from '../errors';

/** How long a caller waits and when it gives up; both optional. */
export interface CallLimits {
  /** Absolute time (Date.now() scale) after which the caller gives up with TIMEOUT. */
  readonly deadline?: number;
  /** Aborted when the caller gives up (a client that went away); its reason is the error. */
  readonly signal?: AbortSignal;
}

/** The error a caller gets when its signal fires: the reason when it is an Error. */
export function abortReason(signal: AbortSignal): Error {
  const r: unknown = signal.reason;
  return r instanceof Error ? r : new ClipqlError(ErrorCode.TIMEOUT, 'the request was cancelled');
}

/** TIMEOUT for `what` (a stage's name, or a sentence). */
export function deadlineError(what: string): ClipqlError {
  return new ClipqlError(ErrorCode.TIMEOUT, `${what}: the request's deadline passed before its work was done`);
}

/** The reason the limits have already fired, if they have (check this before queueing work). */
export function alreadyCancelled(limits: CallLimits, what: string): Error | undefined {
  if (limits.signal?.aborted) return abortReason(limits.signal);
  if (limits.deadline !== undefined && limits.deadline <= Date.now()) return deadlineError(what);
  return undefined;
}

/**
 * Calls `onCancel` once, with TIMEOUT at the deadline or the signal's reason when it aborts,
 * whichever comes first (at once if one already has, on a later tick). The returned function
 * stops watching (idempotent); call it when the work is done. `timeoutError` replaces the
 * default TIMEOUT message.
 */
export function watch(limits: CallLimits & { readonly timeoutError?: (what: string) => Error }, what: string, onCancel: (reason: Error) => void): () => void {
  let done = false;
  const fire = (e: Error) => {
    if (done) return;
    stop();
    onCancel(e);
  };
  const onAbort = () => fire(abortReason(limits.signal!));
  const timer = limits.deadline === undefined ? undefined : setTimeout(() => fire((limits.timeoutError ?? deadlineError)(what)), Math.max(0, limits.deadline - Date.now()));
  const stop = () => {
    if (done) return;
    done = true;
    if (timer) clearTimeout(timer);
    limits.signal?.removeEventListener('abort', onAbort);
  };
  if (limits.signal?.aborted) queueMicrotask(onAbort);
  else limits.signal?.addEventListener('abort', onAbort, { once: true });
  return stop;
}
