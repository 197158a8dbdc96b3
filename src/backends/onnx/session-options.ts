/**
 * The onnxruntime session options of the onnx backend, in one place: the service's worker thread
 * and the benchmark's raw-session limit (scripts/bench/serving/raw.ts) build their sessions from this
 * function, so "the same threads as the service" is the same object, not a copy of it.
 */
import { readlinkSync } from 'node:fs';
import os from 'node:os';
import type { InferenceSession } from 'onnxruntime-node';

export interface SessionSettings {
  /** onnxruntime execution provider: "cpu", "webgpu", "cuda". */
  readonly executionProvider: string;
  /** Intra-op threads (CLIP_ONNX_THREADS). */
  readonly intraOpThreads: number;
  /**
   * Whether idle intra-op threads spin before sleeping (CLIP_ONNX_SPIN; default off). Spinning
   * saves a few microseconds per parallel section when the cores are otherwise idle, but on a
   * machine where the same cores also decode and resize images it burns the time preprocessing
   * needs (BENCHMARKS.md measures both).
   */
  readonly spin: boolean;
}

export function sessionOptions(s: SessionSettings): InferenceSession.SessionOptions {
  return {
    executionProviders: [s.executionProvider],
    intraOpNumThreads: s.intraOpThreads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    extra: { session: { intra_op: { allow_spinning: s.spin ? '1' : '0' } } },
  };
}

/**
 * Lowers the priority of the calling thread, and so of the intra-op threads onnxruntime creates
 * from it with a session (Linux threads inherit their creator's niceness): call it before
 * creating the sessions. Inference then takes the cores only when the event loop and the
 * preprocessing threads do not need them, so the event loop answers at once under load and the
 * next batch is preprocessed while this one runs. Linux only (elsewhere priority is per process);
 * best effort. Returns the niceness set, or undefined.
 */
export function lowerThreadPriority(nice: number): number | undefined {
  if (nice <= 0 || process.platform !== 'linux') return undefined;
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    os.setPriority(tid, Math.min(19, nice));
    return os.getPriority(tid);
  } catch {
    return undefined;
  }
}
