/**
 * The embedded default backend: onnxruntime-node on a worker thread, CPU execution provider by
 * default. Settings (config/settings.ts):
 *   CLIP_ONNX_EP          cpu (default) | webgpu | cuda — a provider that cannot start is an error
 *                         at start-up, never a silent fall back to CPU.
 *   CLIP_ONNX_THREADS     intra-op threads (default: available cores)
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
  resolve(e: Embeddings): void;
  reject(e: Error): void;
}

export class OnnxBackend implements Backend {
  readonly name = 'onnx';
  private readonly config: WorkerConfig;
  private readonly maxBatch: { readonly image: number; readonly text: number };
  private readonly dtype: string;
  private worker?: Worker;
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
      intraOpThreads: c.CLIP_ONNX_THREADS ?? os.availableParallelism(),
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

  private start(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const worker = new Worker(path.join(__dirname, 'onnx-worker.js'), { workerData: this.config });
      this.worker = worker;
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
            resolve(this.warmUp());
            return;
          case 'init-error':
            void worker.terminate();
            reject(new ClipqlError(m.file ? ErrorCode.BAD_MODEL : ErrorCode.BACKEND_UNAVAILABLE, m.message, { details: { file: m.file } }));
            return;
          case 'result': {
            const p = this.pending.get(m.id);
            this.pending.delete(m.id);
            p?.resolve({ data: new Float32Array(m.buffer), count: m.count, dim: m.dim });
            return;
          }
          case 'run-error': {
            const p = this.pending.get(m.id);
            this.pending.delete(m.id);
            p?.reject(new ClipqlError(ErrorCode.BACKEND_UNAVAILABLE, `onnx inference failed: ${m.message}`));
            return;
          }
        }
      });
      const fail = (why: string) => {
        const err = new ClipqlError(ErrorCode.BACKEND_UNAVAILABLE, `onnx worker ${why}`);
        if (!started) reject(err);
        for (const p of this.pending.values()) p.reject(err);
        this.pending.clear();
        this.worker = undefined;
      };
      worker.on('error', (e) => fail(`crashed: ${e.message}`));
      worker.on('exit', (code) => fail(this.disposed ? 'was disposed' : `exited with code ${code}`));
    });
  }

  /** One tiny run per tower: learns D when the graph leaves it dynamic, and pays first-run costs. */
  private async warmUp(): Promise<void> {
    const s = this.config.imageSize;
    const img = await this.run('image', [new Uint8Array(3 * s * s).buffer], 1);
    const ids = new BigInt64Array(this.config.contextLength); // id 0: in every model family's vocabulary
    const txt = await this.run('text', [ids.buffer], 1);
    if (img.dim !== txt.dim) {
      throw new ClipqlError(ErrorCode.BAD_MODEL, `${this.config.textPath}: text_embeds has D=${txt.dim} but image_embeds has D=${img.dim}: the towers must agree`);
    }
    this.dim = img.dim;
  }

  private run(tower: Tower, buffers: ArrayBuffer[], count: number): Promise<Embeddings> {
    const worker = this.worker;
    if (!worker) return Promise.reject(new ClipqlError(ErrorCode.BACKEND_UNAVAILABLE, 'onnx backend is not running'));
    const id = this.nextId++;
    return new Promise<Embeddings>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      const req: RunRequest = { id, tower, buffers, count };
      worker.postMessage(req, buffers);
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
      // One session, one run at a time: a second batch in flight would only queue in the worker.
      capacity: { devices: 1, perDevice: 1, hostThreads: this.config.executionProvider === 'cpu' ? this.config.intraOpThreads : 1, imageBatchSizes: [] },
      details: { executionProvider: ep, intraOpThreads: this.config.intraOpThreads, spin: this.config.spin, nice: this.config.nice, embedDim: this.dim ?? 0, thread: 'worker_threads' },
    };
  }

  async health(): Promise<void> {
    await this.init();
    if (!this.worker) throw new ClipqlError(ErrorCode.BACKEND_UNAVAILABLE, 'onnx worker is not running');
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }
}

/** The buffer to transfer: the view's own buffer when it covers it exactly, else a copy. */
function transferable(view: Uint8Array | BigInt64Array): ArrayBuffer {
  if (view.byteOffset === 0 && view.byteLength === view.buffer.byteLength && view.buffer instanceof ArrayBuffer) return view.buffer;
  return view.slice().buffer as ArrayBuffer;
}

export const createOnnxBackend = (options: BackendOptions): Backend => new OnnxBackend(options);
