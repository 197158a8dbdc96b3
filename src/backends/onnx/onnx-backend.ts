/**
 * The embedded default backend: onnxruntime-node on a worker thread, CPU execution provider by
 * default. Settings (config/settings.ts):
 *   CLIP_ONNX_EP          cpu (default) | webgpu | cuda — a provider that cannot start is an error
 *                         at start-up, never a silent fall back to CPU.
 *   CLIP_ONNX_INSTANCES   sessions per tower, each pair on a worker thread of its own, running
 *                         batches side by side (default 1; `clipql index`: 2 on a CPU with 2+
 *                         cores, bulkOnnxInstances). On a CPU, two single-threaded sessions feed
 *                         the cores better than one session with two threads, whose threads
 *                         synchronise at every layer and both wait when preprocessing preempts one
 *                         (BENCHMARKS.md, "Two onnxruntime instances": the raw tower 7–19 % and a
 *                         camera roll 8–11 % faster); but a lone batch then runs on half the
 *                         threads (a single-image query 19–29 % slower), which is why a server
 *                         keeps one unless told. Costs: the weights once per instance.
 *   CLIP_ONNX_THREADS     intra-op threads of each instance (default: the cores / the instances)
 *   CLIP_ONNX_SPIN        1: idle intra-op threads spin (default 0: they sleep and leave the cores
 *                         to preprocessing; see session-options.ts and BENCHMARKS.md)
 *   CLIP_ONNX_NICE        niceness of the inference threads (default 10, Linux; 0 = the process's):
 *                         the event loop and preprocessing come first, inference takes the rest
 *   CLIP_ONNX_DTYPE       float32 (default) | int8: the bundle's onnx/*_int8.onnx towers (dynamic
 *                         quantization, scripts/bench/backends/quantize.py; BENCHMARKS.md has their speed
 *                         and accuracy); missing files are an error at start-up
 *   CLIP_ONNX_MAX_BATCH   largest image batch (default 16); text batches may be 4x larger.
 *   CLIP_ONNX_BATCH_BYTES activation budget of one run (default 32 MiB): each tower's batch is
 *                         also capped so that its largest layer activation fits (batch-size.ts;
 *                         ViT-L/14@336px images run one at a time on a CPU, ViT-B/32 in 16s)
 */
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { checkTowers } from '../../bundle/bundle';
import { ClipqlError, ErrorCode } from '../../errors';
import type { Backend, BackendInfo, BackendOptions, Embeddings, ImageBatch, TokenBatch } from '../backend';
import { batchFor, towerShapes } from './batch-size';
import type { RunRequest, Tower, WorkerConfig, WorkerMessage } from './protocol';


interface Pending {
  readonly instance: Instance;
  resolve(e: Embeddings): void;
  reject(e: Error): void;
}

/** One worker thread with its two sessions; `busy` counts its calls in flight. */
interface Instance {
  readonly worker: Worker;
  /** Calls posted and not yet answered. */
  busy: number;
  /** Called when `busy` reaches 0 or the thread is gone (see stop). */
  readonly idle: (() => void)[];
  gone: boolean;
}

export class OnnxBackend implements Backend {
  readonly name = 'onnx';
  private readonly config: WorkerConfig;
  private readonly maxBatch: { readonly image: number; readonly text: number };
  private readonly dtype: string;
  private readonly instances: number;
  /** The instances' worker threads, while they run (empty before start and after a failure). */
  private workers: Instance[] = [];
  private ready?: Promise<void>;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private dim?: number;
  private disposed = false;

  constructor(private readonly options: BackendOptions) {
    const c = options.config;
    const ep = c.CLIP_ONNX_EP;
    const dtype = c.CLIP_ONNX_DTYPE;
    this.dtype = dtype;
    const instances = c.CLIP_ONNX_INSTANCES ?? 1;
    this.instances = instances;
    const variant = (file: string) => {
      if (!existsSync(file)) throw new ClipqlError(ErrorCode.BAD_MODEL, `${file}: missing from the model bundle (the onnx backend needs onnx/vision_model.onnx and onnx/text_model.onnx)`, { details: { file } });
      if (dtype === 'float32') return file;
      const q = file.replace(/\.onnx$/, '_int8.onnx');
      if (!existsSync(q)) throw new ClipqlError(ErrorCode.BAD_MODEL, `CLIP_ONNX_DTYPE=int8 but ${q} does not exist (make it with scripts/bench/backends/quantize.py)`, { details: { file: q } });
      return q;
    };
    this.config = {
      visionPath: variant(options.bundle.files.vision),
      textPath: variant(options.bundle.files.text),
      executionProvider: ep,
      intraOpThreads: c.CLIP_ONNX_THREADS ?? Math.max(1, Math.floor(os.availableParallelism() / instances)),
      spin: c.CLIP_ONNX_SPIN,
      nice: c.CLIP_ONNX_NICE,
      imageSize: options.bundle.imageSize,
      contextLength: options.bundle.contextLength,
      transform: options.bundle.image,
      outputs: options.bundle.family.towerOutputs,
    };
    const maxImageBatch = c.CLIP_ONNX_MAX_BATCH;
    // Other execution providers run on devices with their own memory: only the cap applies there.
    const budget = ep === 'cpu' ? c.CLIP_ONNX_BATCH_BYTES : Infinity;
    const shapes = towerShapes(options.bundle.config, options.bundle.imageSize, options.bundle.contextLength);
    this.maxBatch = { image: batchFor(shapes.image, budget, maxImageBatch), text: batchFor(shapes.text, budget, maxImageBatch * 4) };
  }

  init(): Promise<void> {
    this.ready ??= this.start();
    return this.ready;
  }

  private async start(): Promise<void> {
    const started = await Promise.allSettled(Array.from({ length: this.instances }, () => this.spawn()));
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    const instances = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    if (failed || this.disposed) {
      await this.stop(instances);
      throw failed ? failed.reason : new ClipqlError(ErrorCode.BACKEND_UNAVAILABLE, 'the onnx backend was disposed while starting');
    }
    this.workers = instances;
    // Every instance warms up (first-run allocations), each on its own.
    const dims = await Promise.all(instances.map((i) => this.warmUp(i)));
    this.dim = dims[0];
  }

  /** Starts one instance: its worker thread with both sessions, checked against the bundle. */
  private spawn(): Promise<Instance> {
    return new Promise<Instance>((resolve, reject) => {
      const worker = new Worker(path.join(__dirname, 'onnx-worker.js'), { workerData: this.config });
      const instance: Instance = { worker, busy: 0, idle: [], gone: false };
      let started = false;
      worker.on('message', (m: WorkerMessage) => {
        switch (m.type) {
          case 'ready':
            try {
              this.dim = checkTowers(this.options.bundle, m.vision, m.text);
            } catch (e) {
              void worker.terminate();
              reject(e);
              return;
            }
            started = true;
            resolve(instance);
            return;
          case 'init-error':
            void worker.terminate();
            reject(new ClipqlError(m.file ? ErrorCode.BAD_MODEL : ErrorCode.BACKEND_UNAVAILABLE, m.message, { details: { file: m.file } }));
            return;
          case 'result':
          case 'run-error': {
            const p = this.pending.get(m.id);
            if (!p) return;
            this.pending.delete(m.id);
            if (--p.instance.busy === 0) settleIdle(p.instance);
            if (m.type === 'result') p.resolve({ data: new Float32Array(m.buffer), count: m.count, dim: m.dim });
            else p.reject(new ClipqlError(ErrorCode.BACKEND_UNAVAILABLE, `onnx inference failed: ${m.message}`));
            return;
          }
        }
      });
      // A worker that dies fails its own calls; the backend stops serving (health() says so), as
      // it did with one instance: half a backend would silently serve at half its speed.
      const fail = (why: string) => {
        const err = new ClipqlError(ErrorCode.BACKEND_UNAVAILABLE, `onnx worker ${why}`);
        if (!started) reject(err);
        for (const [id, p] of this.pending) {
          if (p.instance !== instance) continue;
          this.pending.delete(id);
          p.reject(err);
        }
        instance.gone = true;
        settleIdle(instance);
        if (this.workers.includes(instance)) {
          const others = this.workers.filter((i) => i !== instance);
          this.workers = [];
          void this.stop(others); // their calls in flight still get their answers
        }
      };
      worker.on('error', (e) => fail(`crashed: ${e.message}`));
      worker.on('exit', (code) => fail(this.disposed ? 'was disposed' : `exited with code ${code}`));
    });
  }

  /**
   * Ends instances' threads, each once the calls it was given are answered: never while it is
   * inside session.run. A thread terminated there makes onnxruntime-node's binding throw a C++
   * exception (Napi::Error) that nothing catches, and std::terminate aborts the whole process
   * (seen on Node 24 in about 1 run in 10 of a test that did so). Answered calls mean the thread
   * is between runs; a run's length is bounded by its batch.
   */
  private async stop(list: readonly Instance[]): Promise<void> {
    await Promise.all(
      list.map(async (i) => {
        if (i.busy > 0 && !i.gone) await new Promise<void>((r) => i.idle.push(r));
        await i.worker.terminate();
      }),
    );
  }

  /** One tiny run per tower on `instance`: learns D when the graph leaves it dynamic, and pays first-run costs. */
  private async warmUp(instance: Instance): Promise<number> {
    const s = this.config.imageSize;
    const img = await this.run('image', [new Uint8Array(3 * s * s).buffer], 1, instance);
    const ids = new BigInt64Array(this.config.contextLength); // id 0: in every model family's vocabulary
    const txt = await this.run('text', [ids.buffer], 1, instance);
    if (img.dim !== txt.dim) {
      throw new ClipqlError(ErrorCode.BAD_MODEL, `${this.config.textPath}: text_embeds has D=${txt.dim} but image_embeds has D=${img.dim}: the towers must agree`);
    }
    return img.dim;
  }

  /** Runs a batch on `instance`, or on the instance with the fewest calls in flight. */
  private run(tower: Tower, buffers: ArrayBuffer[], count: number, instance?: Instance): Promise<Embeddings> {
    const target = instance ?? this.workers.reduce<Instance | undefined>((a, b) => (a === undefined || b.busy < a.busy ? b : a), undefined);
    if (!target) return Promise.reject(new ClipqlError(ErrorCode.BACKEND_UNAVAILABLE, 'onnx backend is not running'));
    const id = this.nextId++;
    return new Promise<Embeddings>((resolve, reject) => {
      this.pending.set(id, { instance: target, resolve, reject });
      target.busy++;
      const req: RunRequest = { type: 'run', id, tower, buffers, count };
      target.worker.postMessage(req, buffers);
    });
  }

  async encodeImages(batch: ImageBatch): Promise<Embeddings> {
    await this.init();
    if (batch.size !== this.config.imageSize) throw new TypeError(`image batch has size ${batch.size}, model takes ${this.config.imageSize}`);
    if (batch.pixels.some((t) => t.length !== 3 * batch.size * batch.size)) throw new TypeError(`image crops must each hold ${batch.size} x ${batch.size} x 3 bytes`);
    // Each crop's buffer moves to the worker, which normalises them into one batch (protocol.ts).
    return this.run('image', batch.pixels.map(transferable), batch.pixels.length);
  }

  async encodeTexts(batch: TokenBatch): Promise<Embeddings> {
    await this.init();
    if (batch.contextLength !== this.config.contextLength || batch.ids.length !== batch.count * batch.contextLength) {
      throw new TypeError('token batch shape does not match the model');
    }
    return this.run('text', [transferable(batch.ids)], batch.count);
  }

  describe(): BackendInfo {
    const ep = this.config.executionProvider;
    return {
      name: this.name,
      device: ep === 'cpu' ? 'cpu' : `${ep} (onnxruntime)`,
      model: this.options.bundle.name,
      maxBatch: this.maxBatch,
      dtype: this.dtype,
      // One run at a time per instance: a further batch in flight would only queue in a worker.
      capacity: { devices: 1, perDevice: this.instances, hostThreads: ep === 'cpu' ? this.instances * this.config.intraOpThreads : 1, imageBatchSizes: [] },
      details: { executionProvider: ep, instances: this.instances, intraOpThreads: this.config.intraOpThreads, spin: this.config.spin, nice: this.config.nice, embedDim: this.dim ?? 0, thread: 'worker_threads' },
    };
  }

  /** Calls in flight on each running instance (for tests): [] before start and after a failure. */
  inFlight(): number[] {
    return this.workers.map((i) => i.busy);
  }

  async health(): Promise<void> {
    await this.init();
    if (this.workers.length === 0) throw new ClipqlError(ErrorCode.BACKEND_UNAVAILABLE, 'onnx worker is not running');
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    const workers = this.workers;
    this.workers = [];
    await this.stop(workers);
  }
}

function settleIdle(i: Instance): void {
  for (const r of i.idle.splice(0)) r();
}

/** The buffer to transfer: the view's own buffer when it covers it exactly, else a copy. */
function transferable(view: Uint8Array | BigInt64Array): ArrayBuffer {
  if (view.byteOffset === 0 && view.byteLength === view.buffer.byteLength && view.buffer instanceof ArrayBuffer) return view.buffer;
  return view.slice().buffer as ArrayBuffer;
}

/**
 * CLIP_ONNX_INSTANCES's default for bulk work (`clipql index`), where throughput is all that
 * counts: two instances on a CPU with 2+ cores. Other execution providers run one device, where
 * instances would only queue on it.
 */
export function bulkOnnxInstances(config: Pick<BackendOptions['config'], 'CLIP_ONNX_INSTANCES' | 'CLIP_ONNX_EP'>): number {
  return config.CLIP_ONNX_INSTANCES ?? (config.CLIP_ONNX_EP === 'cpu' && os.availableParallelism() >= 2 ? 2 : 1);
}

export const createOnnxBackend = (options: BackendOptions): Backend => new OnnxBackend(options);
