/**
 * The GPU backend: CLIP in PyTorch, one Python worker process per device (worker.py), fed over
 * stdin/stdout in binary frames (framing.ts). PyTorch's ROCm build drives AMD GPUs through the
 * same torch.cuda API as the CUDA build, so one worker serves ROCm, CUDA and (for tests) the CPU.
 * Settings: settings.ts.
 *
 * Lifecycle, with no request left hanging:
 * - `init()` starts every worker and waits for all their ready frames; one that cannot start
 *   (python or torch missing, no GPU, a bad model file, the start-up timeout) fails init with its
 *   reason, and the others are stopped. There is no fall back to the CPU.
 * - Capacity: each worker keeps CLIP_TORCH_IN_FLIGHT batches in flight (worker.py overlaps the
 *   upload of one with the compute of another), and the Embedder's batchers send devices ×
 *   in-flight batches at once (describe().capacity).
 * - Each call goes to the ready worker with the fewest calls in flight; a call larger than the
 *   batch limit is split across workers. Images travel as uint8 crops; the workers normalise them
 *   with toTensor's own table (preprocess/image/tensor.ts). Every call has a deadline (CLIP_TORCH_CALL_TIMEOUT_MS):
 *   past it, TIMEOUT, and the worker is killed as possibly hung.
 * - A worker that dies fails its calls in flight with BACKEND_UNAVAILABLE and is restarted after
 *   an exponential backoff (RESTART_BASE_MS doubling up to RESTART_MAX_MS, reset by the first call
 *   it answers). Calls arriving while no worker is ready wait for a restart, up to their deadline;
 *   they fail at once when every worker's last restart attempt failed.
 * - `dispose()` stops the workers (stdin closed and SIGTERM, SIGKILL after STOP_GRACE_MS) and fails
 *   what was in flight or waiting.
 *
 * Longer than the usual ~300 lines on purpose: routing, splitting, restarts with backoff and
 * waiting for a restart share one table of workers and their calls in flight; the per-process
 * part is worker-process.ts, the settings settings.ts, the wire framing.ts.
 */
import { watch } from '../../control/cancel';
import { ClipqlError, ErrorCode } from '../../errors';
import { tensorTable } from '../../preprocess/image/tensor';
import type { Backend, BackendInfo, BackendOptions, Embeddings, ImageBatch, TokenBatch } from '../backend';
import { directLauncher, launcher } from './fork-server';
import type { BatchTiming, ReadyInfo } from './framing';
import { readSettings, type TorchSettings } from './settings';
import { WorkerProcess, type Tower } from './worker-process';

const RESTART_BASE_MS = 250;
const RESTART_MAX_MS = 30_000;
const STOP_GRACE_MS = 3000;
/** Batch timings kept for trace() (tests, benchmarks). */
const TRACE_LENGTH = 1024;

/** One batch as a worker timed it (its own clock, ms since the epoch). */
export interface TracedBatch extends BatchTiming {
  readonly worker: number;
  readonly pid: number;
  readonly device: string;
  readonly tower: Tower;
  readonly count: number;
}

type SlotState = 'starting' | 'ready' | 'backoff' | 'stopped';

/** One device's place: its current worker process, and the restart bookkeeping across processes. */
interface Slot {
  readonly device: string;
  worker?: WorkerProcess;
  state: SlotState;
  info?: ReadyInfo;
  restarts: number;
  /** Consecutive deaths or failed starts since the last answered call: the backoff exponent. */
  failures: number;
  /** The last restart attempt failed (the slot is in backoff for a start error, not a crash). */
  startFailed: boolean;
  lastError?: ClipqlError;
  timer?: NodeJS.Timeout;
}

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (e: Error) => void;
  readonly unwatch: () => void;
}

function unavailable(message: string): ClipqlError {
  return new ClipqlError(ErrorCode.BACKEND_UNAVAILABLE, message);
}

export class TorchBackend implements Backend {
  readonly name = 'torch';
  private readonly settings: TorchSettings;
  private readonly slots: Slot[];
  private readonly childEnv: NodeJS.ProcessEnv;
  private ready?: Promise<void>;
  private initDone = false;
  private disposed = false;
  private dim?: number;
  private waiters: Waiter[] = [];
  private turn = 0;
  private readonly traced: TracedBatch[] = [];

  constructor(private readonly options: BackendOptions) {
    this.settings = readSettings(options);
    this.slots = this.settings.devices.map((device) => ({ device, state: 'stopped', restarts: 0, failures: 0, startFailed: false }));
    // The workers see the server's environment (HIP_VISIBLE_DEVICES...).
    this.childEnv = { ...options.config.environment, PYTHONUNBUFFERED: '1' };
  }

  init(): Promise<void> {
    this.ready ??= this.start();
    return this.ready;
  }

  private async start(): Promise<void> {
    const results = await Promise.allSettled(this.slots.map((slot) => this.launch(slot)));
    const failed = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as Error] : []));
    if (this.disposed) throw unavailable('the torch backend was disposed while starting');
    const dead = this.slots.find((s) => !s.worker?.alive);
    if (dead && failed.length === 0) failed.push(unavailable(`the torch worker on ${dead.device} died right after it became ready`));
    const dims = new Set(this.slots.map((s) => s.info?.dim));
    const dim = this.slots[0].info?.dim;
    const file = this.settings.modelFile;
    const want = this.options.bundle.embedDim;
    if (failed.length === 0 && dims.size > 1) {
      failed.push(new ClipqlError(ErrorCode.BAD_MODEL, `${file}: the workers disagree on D (${[...dims].join(', ')})`, { details: { file } }));
    } else if (failed.length === 0 && want !== undefined && dim !== want) {
      failed.push(new ClipqlError(ErrorCode.BAD_MODEL, `${file}: the model gives D=${dim} but ${this.options.bundle.files.config} says projection_dim ${want}`, { details: { file } }));
    }
    if (failed.length > 0) {
      await this.stopAll(unavailable('the torch backend failed to start'));
      throw combine(failed);
    }
    this.dim = dim;
    this.initDone = true;
    for (const s of this.slots) {
      this.options.log?.info({ backend: 'torch', device: s.device, pid: s.worker?.pid, torch: s.info?.torch, build: s.info?.build, impl: s.info?.impl, dtype: this.settings.dtype, notes: s.info?.notes }, 'torch worker ready');
    }
    const fallback = this.slots[0].info;
    if (fallback && fallback.impl !== this.settings.impl) {
      this.options.log?.warn({ backend: 'torch', modelFile: this.settings.modelFile, notes: fallback.notes }, `torch backend: ${this.settings.modelFile} is served through its own TorchScript graphs, not the eager model (CLIP_TORCH_IMPL=${this.settings.impl}): the eager model cannot read its weights`);
    }
  }

  /** Starts a worker process in `slot`; resolves when it is ready. */
  private async launch(slot: Slot): Promise<void> {
    slot.state = 'starting';
    const s = this.settings;
    const how = s.forkServer ? await launcher(s.python, s.workerScript, this.childEnv, s.startTimeoutMs, this.options.log) : directLauncher(s.python);
    if (this.disposed) throw unavailable('the torch backend was disposed while starting');
    const worker = new WorkerProcess({
      settings: this.settings,
      device: slot.device,
      imageSize: this.options.bundle.imageSize,
      contextLength: this.options.bundle.contextLength,
      pixelTable: tensorTable(this.options.bundle.image),
      configFile: this.options.bundle.files.config,
      env: this.childEnv,
      launcher: how,
      log: this.options.log,
      onExit: (w, reason) => this.onExit(slot, w, reason),
    });
    slot.worker = worker;
    slot.info = await worker.started;
    if (this.disposed || slot.worker !== worker) return;
    slot.state = 'ready';
    slot.startFailed = false;
    this.wakeWaiters();
  }

  private onExit(slot: Slot, worker: WorkerProcess, reason: ClipqlError): void {
    if (this.disposed || slot.worker !== worker || !this.initDone) return; // init() reports start-up failures
    slot.lastError = reason;
    slot.state = 'backoff';
    slot.startFailed = worker.ready === undefined;
    if (this.slots.every((s) => s.state === 'stopped' || (s.state === 'backoff' && s.startFailed))) this.rejectWaiters(reason);
    const delay = Math.min(RESTART_MAX_MS, RESTART_BASE_MS * 2 ** slot.failures);
    slot.failures++;
    this.options.log?.warn({ backend: 'torch', device: slot.device, pid: worker.pid, reason: reason.message, restartInMs: delay }, 'torch worker gone; restarting');
    slot.timer = setTimeout(() => void this.restart(slot), delay);
    slot.timer.unref();
  }

  private async restart(slot: Slot): Promise<void> {
    if (this.disposed) return;
    slot.restarts++;
    // A failed start ends in the worker's exit, and onExit schedules the next attempt.
    await this.launch(slot).catch(() => undefined);
  }

  private wakeWaiters(): void {
    const waiting = this.waiters;
    this.waiters = [];
    for (const w of waiting) {
      w.unwatch();
      w.resolve();
    }
  }

  private rejectWaiters(reason: Error): void {
    const waiting = this.waiters;
    this.waiters = [];
    for (const w of waiting) {
      w.unwatch();
      w.reject(reason);
    }
  }

  /** The ready worker with the fewest calls in flight (ties taken in turn), waiting for one if none is ready. */
  private async pick(deadline: number): Promise<{ slot: Slot; worker: WorkerProcess }> {
    for (;;) {
      if (this.disposed) throw unavailable('the torch backend was disposed');
      let best: Slot | undefined;
      const n = this.slots.length;
      for (let k = 0; k < n; k++) {
        const s = this.slots[(this.turn + k) % n];
        if (s.state === 'ready' && s.worker?.alive && (!best || s.worker.load < best.worker!.load)) best = s;
      }
      if (best) {
        this.turn = (this.turn + 1) % n;
        return { slot: best, worker: best.worker! };
      }
      if (this.slots.every((s) => s.state === 'stopped' || (s.state === 'backoff' && s.startFailed))) {
        const last = this.slots.find((s) => s.lastError)?.lastError;
        throw unavailable(`no torch worker is running${last ? `: ${last.message}` : ''}`);
      }
      await new Promise<void>((resolve, reject) => {
        const timeoutError = () =>
          new ClipqlError(ErrorCode.TIMEOUT, `no torch worker became ready within ${this.settings.callTimeoutMs} ms (CLIP_TORCH_CALL_TIMEOUT_MS); restarting: ${this.slots.map((s) => `${s.device} ${s.state}`).join(', ')}`);
        const waiter: Waiter = {
          resolve,
          reject,
          unwatch: watch({ deadline, timeoutError }, 'waiting for a torch worker', (e) => {
            this.waiters = this.waiters.filter((w) => w !== waiter);
            reject(e);
          }),
        };
        this.waiters.push(waiter);
      });
    }
  }

  private async run(tower: Tower, rows: readonly (Uint8Array | BigInt64Array)[], shape: number[], deadline: number): Promise<Embeddings> {
    const { slot, worker } = await this.pick(deadline);
    const out = await worker.request(tower, rows, shape, deadline);
    slot.failures = 0;
    if (out.timing) {
      this.traced.push({ ...out.timing, worker: this.slots.indexOf(slot), pid: worker.pid ?? 0, device: slot.device, tower, count: shape[0] });
      if (this.traced.length > TRACE_LENGTH) this.traced.shift();
    }
    return out;
  }

  /**
   * Splits a call into chunks of at most `max` rows, runs them (on several workers when there
   * are), joins the rows in order. `rows(start, n)` gives a chunk's payload parts.
   */
  private async encode(tower: Tower, count: number, rows: (start: number, n: number) => (Uint8Array | BigInt64Array)[], rowShape: number[], max: number): Promise<Embeddings> {
    if (this.disposed) throw unavailable('the torch backend was disposed');
    await this.init();
    if (this.disposed) throw unavailable('the torch backend was disposed');
    const width = tower === 'normalise' ? rowShape.reduce((a, b) => a * b, 1) : this.dim!;
    if (count === 0) return { data: new Float32Array(0), count: 0, dim: width };
    const deadline = Date.now() + this.settings.callTimeoutMs;
    const parts: Promise<Embeddings>[] = [];
    for (let start = 0; start < count; start += max) {
      const n = Math.min(max, count - start);
      parts.push(this.run(tower, rows(start, n), [n, ...rowShape], deadline));
    }
    const done = await Promise.all(parts);
    if (done.length === 1) return done[0];
    const out = new Float32Array(count * width);
    let offset = 0;
    for (const e of done) {
      out.set(e.data, offset);
      offset += e.data.length;
    }
    return { data: out, count, dim: width };
  }

  private imageRows(batch: ImageBatch, tower: 'image' | 'normalise'): Promise<Embeddings> {
    const s = this.options.bundle.imageSize;
    if (batch.size !== s) return Promise.reject(new TypeError(`image batch has size ${batch.size}, model takes ${s}`));
    if (batch.pixels.some((t) => t.length !== 3 * s * s)) return Promise.reject(new TypeError(`image crops must each hold ${s} x ${s} x 3 bytes`));
    return this.encode(tower, batch.pixels.length, (start, n) => batch.pixels.slice(start, start + n), [s, s, 3], this.settings.maxImageBatch);
  }

  encodeImages(batch: ImageBatch): Promise<Embeddings> {
    return this.imageRows(batch, 'image');
  }

  /**
   * The float32 [count, 3, S, S] tensor the workers feed the vision tower for these crops, as
   * they computed it on their device (tests: it must equal toTensor's to the bit).
   */
  normalise(batch: ImageBatch): Promise<Embeddings> {
    return this.imageRows(batch, 'normalise');
  }

  encodeTexts(batch: TokenBatch): Promise<Embeddings> {
    const n = this.options.bundle.contextLength;
    if (batch.contextLength !== n || batch.ids.length !== batch.count * n) return Promise.reject(new TypeError('token batch shape does not match the model'));
    return this.encode('text', batch.count, (start, k) => [batch.ids.subarray(start * n, (start + k) * n)], [n], this.settings.maxTextBatch);
  }

  /** The last batches' timings, as the workers measured them (oldest first). */
  trace(): readonly TracedBatch[] {
    return [...this.traced];
  }

  describe(): BackendInfo {
    const first = this.slots.find((s) => s.info)?.info;
    const details: Record<string, string | number | boolean> = {
      transport: 'child process, binary frames on stdin/stdout',
      python: this.settings.python,
      modelFile: this.settings.modelFile,
      workers: this.slots.length,
      inFlightPerWorker: this.settings.inFlight,
      threadsPerWorker: this.settings.threads,
      impl: first?.impl ?? this.settings.impl,
      cudaGraphs: this.settings.cudaGraphs.join(',') || 'off',
      compile: this.settings.compile,
      embedDim: this.dim ?? 0,
      callTimeoutMs: this.settings.callTimeoutMs,
    };
    if (first) {
      details.torch = first.torch;
      details.build = first.build;
      details.attention = first.attention;
    }
    this.slots.forEach((s, i) => {
      details[`worker${i}.device`] = s.device;
      details[`worker${i}.state`] = s.state;
      details[`worker${i}.pid`] = s.worker?.pid ?? 0;
      details[`worker${i}.restarts`] = s.restarts;
      if (s.info) details[`worker${i}.name`] = s.info.deviceName;
      if (s.info?.notes.length) details[`worker${i}.notes`] = s.info.notes.join('; ');
    });
    return {
      name: this.name,
      device: this.settings.devices.join(', '),
      model: this.options.bundle.name,
      maxBatch: { image: this.settings.maxImageBatch, text: this.settings.maxTextBatch },
      dtype: this.settings.dtype,
      capacity: {
        devices: this.slots.length,
        perDevice: this.settings.inFlight,
        // A CPU worker's torch threads compute; a GPU worker's process mostly moves bytes.
        hostThreads: this.slots.reduce((n, s) => n + (s.device === 'cpu' ? this.settings.threads : 1), 0),
        imageBatchSizes: this.settings.cudaGraphs,
      },
      details,
    };
  }

  async health(): Promise<void> {
    await this.init();
    if (this.disposed) throw unavailable('the torch backend was disposed');
    if (this.slots.some((s) => s.state === 'ready' && s.worker?.alive)) return;
    const last = this.slots.find((s) => s.lastError)?.lastError;
    throw unavailable(`no torch worker is ready (${this.slots.map((s) => `${s.device} ${s.state}`).join(', ')})${last ? `: ${last.message}` : ''}`);
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    const reason = unavailable('the torch backend was disposed');
    this.rejectWaiters(reason);
    await this.stopAll(reason);
  }

  private async stopAll(reason: ClipqlError): Promise<void> {
    await Promise.all(
      this.slots.map(async (s) => {
        clearTimeout(s.timer);
        s.state = 'stopped';
        await s.worker?.stop(reason, STOP_GRACE_MS);
      }),
    );
  }
}

/** One error for several workers' start-up failures (one message per device when they differ). */
function combine(errors: Error[]): Error {
  const first = errors[0];
  const messages = [...new Set(errors.map((e) => e.message))];
  if (messages.length === 1) return first;
  const code = first instanceof ClipqlError ? first.code : ErrorCode.BACKEND_UNAVAILABLE;
  return new ClipqlError(code, messages.join('; '), { cause: first });
}

export const createTorchBackend = (options: BackendOptions): Backend => new TorchBackend(options);
