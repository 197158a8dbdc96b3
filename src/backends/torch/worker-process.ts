/**
 * One Python worker process (worker.py) on one device: spawn, ready handshake, requests with
 * deadlines, death. Restarts and the choice between workers belong to TorchBackend; this class
 * only guarantees that nothing it was given is left hanging:
 *
 * - `started` settles exactly once: with the worker's ReadyInfo, or with a ClipqlError (python
 *   missing, a FATAL frame from worker.py, an early exit, the start-up timeout).
 * - Every `request` settles exactly once: with its embeddings, a FAILED frame's message
 *   (BACKEND_UNAVAILABLE, the worker lives on), TIMEOUT at its deadline (the worker is then killed,
 *   since a worker that misses a deadline may be hung), or BACKEND_UNAVAILABLE when the process
 *   dies or is stopped, naming the exit code or signal and the last line of its stderr.
 * - `onExit` is called once, after the process is gone (Node has reaped it: no zombies).
 *
 * Longer than the usual ~300 lines on purpose: the spawn, the frame reader, the deadlines and the
 * process's death all settle the same pending requests, and each of those guarantees is only
 * checkable with the others in view.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { watch } from '../../control/cancel';
import { ClipqlError, ErrorCode } from '../../errors';
import type { Embeddings, Logger } from '../backend';
import { DType, FrameReader, FrameType, float32Payload, jsonPayload, tensorHeader, type BatchTiming, type FatalInfo, type Frame, type ReadyInfo } from './framing';
import type { Launcher } from './fork-server';
import type { TorchSettings } from './settings';

export interface WorkerProcessOptions {
  readonly settings: TorchSettings;
  /** "cpu" or "cuda:N". */
  readonly device: string;
  readonly imageSize: number;
  readonly contextLength: number;
  /** toTensor's 3 × 256 float32 table (tensor.ts): the worker normalises with exactly these values. */
  readonly pixelTable: Float32Array;
  /** The bundle's config.json: the worker reads head counts, hidden_act, layer_norm_eps and sizes from it (checkpoint.py). */
  readonly configFile: string;
  /** The child's environment. */
  readonly env: NodeJS.ProcessEnv;
  /** How the process is started (fork-server.ts): through the fork server, or `python -u`. */
  readonly launcher: Launcher;
  readonly log?: Logger;
  /** Called once when the process is gone, with the error its pending calls got. */
  readonly onExit?: (worker: WorkerProcess, reason: ClipqlError) => void;
}

/** 'normalise' answers the normalised pixels themselves (tests: byte-identical normalisation). */
export type Tower = 'image' | 'text' | 'normalise';

/** A batch's result with the worker's own timing of it. */
export interface WorkerResult extends Embeddings {
  readonly timing?: BatchTiming;
}

interface Pending {
  readonly count: number;
  /** Columns the answer must have: D, or 3 × S × S for 'normalise'. */
  readonly width: number;
  timing?: BatchTiming;
  readonly resolve: (e: WorkerResult) => void;
  readonly reject: (e: Error) => void;
  /** Stops the deadline's watch. */
  readonly unwatch: () => void;
}

const STDERR_LINES = 20;
/** After 'exit', how long to wait for the pipes to close before declaring the process gone. */
const CLOSE_AFTER_EXIT_MS = 2000;

export class WorkerProcess {
  readonly device: string;
  /** Settles once: ready, or why the worker could not start. */
  readonly started: Promise<ReadyInfo>;
  ready?: ReadyInfo;
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly pending = new Map<number, Pending>();
  private readonly reader = new FrameReader();
  private readonly stderrLines: string[] = [];
  private stderrPartial = '';
  private nextId = 1;
  private settleStart!: { resolve(r: ReadyInfo): void; reject(e: ClipqlError): void };
  private startTimer?: NodeJS.Timeout;
  private isStarted = false;
  /** Set when we end the process on purpose: the reason its pending calls get. */
  private killReason?: ClipqlError;
  private fatal?: FatalInfo;
  private gone = false;
  private exitStatus?: { code: number | null; signal: NodeJS.Signals | null };
  private readonly closed: Promise<void>;
  private markClosed!: () => void;
  /** Frames waiting for the child's stdin to drain. */
  private readonly queue: Buffer[][] = [];
  private waitingForDrain = false;

  constructor(private readonly options: WorkerProcessOptions) {
    this.device = options.device;
    const s = options.settings;
    this.started = new Promise<ReadyInfo>((resolve, reject) => (this.settleStart = { resolve, reject }));
    this.started.catch(() => undefined); // the owner awaits it; never an unhandled rejection
    this.closed = new Promise<void>((resolve) => (this.markClosed = resolve));
    const table = Buffer.from(options.pixelTable.buffer, options.pixelTable.byteOffset, options.pixelTable.byteLength).toString('hex');
    const args = [...options.launcher.args, s.workerScript, '--model', s.modelFile, '--device', options.device, '--dtype', s.dtype, '--image-size', String(options.imageSize), '--context-length', String(options.contextLength)];
    args.push('--pixel-table', table, '--impl', s.impl, '--attention', s.attention, '--threads', String(s.threads), '--in-flight', String(s.inFlight));
    args.push('--config', options.configFile);
    if (s.cudaGraphs.length > 0) args.push('--cuda-graphs', s.cudaGraphs.join(','));
    if (s.compile) args.push('--compile', '--max-batch', String(s.maxImageBatch)); // compiled at start-up, bucket by bucket
    if (s.nice > 0) args.push('--nice', String(s.nice));
    this.child = spawn(options.launcher.command, args, { stdio: ['pipe', 'pipe', 'pipe'], env: options.env });

    this.child.stdout.on('data', (chunk: Buffer) => this.onStdout(chunk));
    this.child.stderr.setEncoding('utf8');
    this.child.stderr.on('data', (text: string) => this.onStderr(text));
    // EPIPE when the worker dies with requests still being written: its exit reports the death.
    this.child.stdin.on('error', () => undefined);
    this.child.stdin.on('drain', () => this.flush());
    this.child.on('error', (e: NodeJS.ErrnoException) => {
      if (this.child.pid === undefined) {
        // spawn itself failed: no process, no 'exit' to come.
        const hint = e.code === 'ENOENT' ? ': no such program. Install Python 3.9+ with PyTorch, or set CLIP_TORCH_PYTHON to the interpreter that has torch' : '';
        this.finish(unavailable(`cannot run the Python interpreter ${JSON.stringify(s.python)} (CLIP_TORCH_PYTHON) for the torch worker on ${this.device}: ${e.code ?? e.message}${hint}`));
      }
    });
    this.child.on('exit', (code, signal) => {
      this.exitStatus = { code, signal };
      // 'close' follows once stdout is drained; a grandchild holding the pipes must not delay us forever.
      setTimeout(() => this.finish(), CLOSE_AFTER_EXIT_MS).unref();
    });
    this.child.on('close', (code: number | null, signal: NodeJS.Signals | null) => {
      this.exitStatus ??= { code, signal };
      this.finish();
    });
    this.startTimer = setTimeout(() => {
      this.kill(unavailable(`the torch worker on ${this.device} did not become ready within ${s.startTimeoutMs} ms (CLIP_TORCH_START_TIMEOUT_MS)${this.lastStderr()}`));
    }, s.startTimeoutMs);
  }

  /** The worker's own pid once it is ready (through a fork server it is not the process spawned here). */
  get pid(): number | undefined {
    return this.ready?.pid ?? this.child.pid;
  }

  /** Calls sent and not yet answered: the load used to pick the least-loaded worker. */
  get load(): number {
    return this.pending.size;
  }

  get alive(): boolean {
    return !this.gone && this.killReason === undefined;
  }

  /**
   * Sends one batch: `parts` are its rows' bytes in order (uint8 crops for 'image' and
   * 'normalise', int64 ids for 'text'), written as they are, without a copy or a join; `shape` is
   * the whole batch's. Rejects with TIMEOUT at `deadline`.
   */
  request(tower: Tower, parts: readonly (Uint8Array | BigInt64Array)[], shape: readonly number[], deadline: number): Promise<WorkerResult> {
    if (!this.alive || !this.ready) return Promise.reject(unavailable(`the torch worker on ${this.device} is not running`));
    const id = this.nextId;
    this.nextId = this.nextId >= 0xffff_fffe ? 1 : this.nextId + 1;
    const count = shape[0];
    const payload = parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength));
    const bytes = payload.reduce((n, p) => n + p.length, 0);
    const type = tower === 'image' ? FrameType.IMAGE : tower === 'normalise' ? FrameType.NORMALISE : FrameType.TEXT;
    const width = tower === 'normalise' ? 3 * this.options.imageSize * this.options.imageSize : this.ready.dim;
    let header: Buffer;
    try {
      header = tensorHeader(type, id, tower === 'text' ? DType.INT64 : DType.UINT8, shape, bytes);
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise<WorkerResult>((resolve, reject) => {
      const timeoutError = () =>
        new ClipqlError(ErrorCode.TIMEOUT, `the torch worker on ${this.device} (pid ${this.pid}) did not answer a ${count}-${tower} batch within ${this.options.settings.callTimeoutMs} ms (CLIP_TORCH_CALL_TIMEOUT_MS); it is being restarted`);
      const unwatch = watch({ deadline, timeoutError }, 'torch worker call', (e) => {
        if (!this.pending.delete(id)) return;
        reject(e);
        this.kill(unavailable(`the torch worker on ${this.device} (pid ${this.pid}) was killed because a call timed out; it is being restarted`));
      });
      this.pending.set(id, { count, width, resolve, reject, unwatch });
      this.write([header, ...payload]);
    });
  }

  /** Ends the process now (SIGKILL); pending calls and a pending start fail with `reason`. */
  kill(reason: ClipqlError): void {
    if (this.gone) return;
    this.killReason ??= reason;
    this.failAll(this.killReason);
    this.signal('SIGKILL');
  }

  /**
   * Sends `signal` to the worker. Through a fork server, once its pid is known, to the worker
   * itself: the client then ends the same way after the fork server has reaped it, so when the
   * process here is gone the worker is too. Otherwise (and as a fallback, should the fork server
   * not answer) to the process spawned here, whose death the fork server turns into the worker's.
   */
  private signal(signal: NodeJS.Signals): void {
    const own = this.options.launcher.forked ? this.ready?.pid : undefined;
    if (own === undefined) {
      this.child.kill(signal);
      return;
    }
    try {
      process.kill(own, signal);
    } catch {
      this.child.kill(signal); // already gone: the client ends by itself, this only hastens it
    }
    if (signal === 'SIGKILL') setTimeout(() => this.child.kill('SIGKILL'), CLOSE_AFTER_EXIT_MS).unref();
  }

  /** Graceful stop: stdin closed and SIGTERM, then SIGKILL after `graceMs`. Resolves once the process is gone. */
  async stop(reason: ClipqlError, graceMs: number): Promise<void> {
    if (!this.gone) {
      this.killReason ??= reason;
      this.failAll(this.killReason);
      this.child.stdin.end();
      this.signal('SIGTERM');
      const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
      await this.closed;
      clearTimeout(timer);
    }
  }

  private write(parts: Buffer[]): void {
    if (this.waitingForDrain || this.queue.length > 0) {
      this.queue.push(parts);
      return;
    }
    this.writeNow(parts);
  }

  private writeNow(parts: Buffer[]): void {
    const stdin = this.child.stdin;
    if (stdin.destroyed || !stdin.writable) return; // the exit handler fails the call
    stdin.cork();
    let ok = true;
    for (const p of parts) ok = stdin.write(p);
    stdin.uncork();
    if (!ok) this.waitingForDrain = true;
  }

  private flush(): void {
    this.waitingForDrain = false;
    while (!this.waitingForDrain && this.queue.length > 0) this.writeNow(this.queue.shift()!);
  }

  private onStdout(chunk: Buffer): void {
    let frames: Frame[];
    try {
      frames = this.reader.push(chunk);
    } catch (e) {
      this.kill(unavailable(`the torch worker on ${this.device} sent a malformed frame (${(e as Error).message}); it is being restarted`));
      return;
    }
    for (const f of frames) this.onFrame(f);
  }

  private onFrame(f: Frame): void {
    switch (f.type) {
      case FrameType.READY: {
        const info = jsonPayload<ReadyInfo>(f.payload);
        if (!Number.isInteger(info.dim) || info.dim <= 0) {
          this.kill(new ClipqlError(ErrorCode.BAD_MODEL, `${this.options.settings.modelFile}: the torch worker reported embedding size ${info.dim}`));
          return;
        }
        clearTimeout(this.startTimer);
        this.ready = info;
        this.isStarted = true;
        this.settleStart.resolve(info);
        return;
      }
      case FrameType.FATAL: {
        this.fatal = jsonPayload<FatalInfo>(f.payload);
        const code = this.fatal.kind === 'bad-model' ? ErrorCode.BAD_MODEL : ErrorCode.BACKEND_UNAVAILABLE;
        this.killReason ??= new ClipqlError(code, `torch worker on ${this.device}: ${this.fatal.message}`, {
          details: { kind: this.fatal.kind, ...(this.fatal.file ? { file: this.fatal.file } : {}) },
        });
        this.failAll(this.killReason);
        return; // worker.py exits by itself after a FATAL frame
      }
      case FrameType.TIMING: {
        const p = this.pending.get(f.id);
        if (p) p.timing = jsonPayload<BatchTiming>(f.payload);
        return;
      }
      case FrameType.RESULT:
      case FrameType.FAILED: {
        const p = this.pending.get(f.id);
        if (!p) return; // timed out meanwhile
        this.pending.delete(f.id);
        p.unwatch();
        if (f.type === FrameType.FAILED) {
          p.reject(unavailable(`torch worker on ${this.device}: ${jsonPayload<{ message: string }>(f.payload).message}`));
        } else if (f.dtype !== DType.FLOAT32 || f.shape[0] !== p.count || f.shape.slice(1).reduce((a, b) => a * b, 1) !== p.width || f.shape.length < 2) {
          p.reject(unavailable(`torch worker on ${this.device} answered [${f.shape.join(', ')}] for ${p.count} inputs, expected ${p.count} rows of ${p.width}`));
        } else {
          p.resolve({ data: float32Payload(f.payload), count: p.count, dim: p.width, timing: p.timing });
        }
        return;
      }
      default:
        this.kill(unavailable(`the torch worker on ${this.device} sent an unknown frame type ${f.type}; it is being restarted`));
    }
  }

  private onStderr(text: string): void {
    const lines = (this.stderrPartial + text).split('\n');
    this.stderrPartial = lines.pop() ?? '';
    for (const raw of lines) {
      const line = raw.trimEnd();
      if (!line) continue;
      this.stderrLines.push(line);
      if (this.stderrLines.length > STDERR_LINES) this.stderrLines.shift();
      this.options.log?.info({ backend: 'torch', device: this.device, pid: this.pid, stderr: line }, 'torch worker stderr');
    }
  }

  /** "; last stderr: ..." for messages, or nothing. */
  private lastStderr(): string {
    const last = this.stderrPartial.trim() || this.stderrLines[this.stderrLines.length - 1];
    return last ? `; last stderr line: ${last}` : '';
  }

  private failAll(reason: ClipqlError): void {
    if (!this.isStarted) {
      clearTimeout(this.startTimer);
      this.settleStart.reject(reason);
      this.isStarted = true;
    }
    for (const p of this.pending.values()) {
      p.unwatch();
      p.reject(reason);
    }
    this.pending.clear();
    this.queue.length = 0;
  }

  /** The process is gone (or never started): settle everything, once. */
  private finish(spawnError?: ClipqlError): void {
    if (this.gone) return;
    this.gone = true;
    const status = this.exitStatus;
    const how = status?.signal ? `killed by ${status.signal}` : `exit code ${status?.code}`;
    const reason =
      spawnError ??
      this.killReason ??
      unavailable(`the torch worker on ${this.device} (pid ${this.pid}) died${this.ready ? '' : ' before it was ready'} (${how})${this.lastStderr()}`);
    this.failAll(reason);
    this.markClosed();
    this.options.onExit?.(this, reason);
  }
}

function unavailable(message: string): ClipqlError {
  return new ClipqlError(ErrorCode.BACKEND_UNAVAILABLE, message);
}
