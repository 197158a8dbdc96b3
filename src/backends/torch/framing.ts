/**
 * The binary framing between the torch backend and its Python workers (worker.py, frames.py), over the
 * child's stdin (requests) and stdout (answers). Every frame is a fixed 32-byte little-endian
 * header, then the payload:
 *
 *   offset  size  field
 *        0     4  magic "CLPQ"
 *        4     1  version (2)
 *        5     1  type (FrameType)
 *        6     1  dtype of the payload (DType)
 *        7     1  ndim (0..4)
 *        8     4  request id (u32; 0 for ready and fatal frames)
 *       12    16  shape, 4 x u32 (unused dimensions 0)
 *       28     4  payload length in bytes (u32)
 *
 * Tensors travel as raw little-endian bytes, never as JSON numbers; only ready, fatal, failed and
 * timing frames carry a small UTF-8 JSON object. frames.py's HEADER and constants must agree with
 * these. Answers may come in any order (the worker overlaps batches); the id pairs them.
 */
import { endianness } from 'node:os';

export const MAGIC = 0x5150_4c43; // "CLPQ" read as a little-endian u32
export const VERSION = 2;
export const HEADER_BYTES = 32;
/** A header announcing more than this is corrupt (the stream is out of step), not a result. */
export const MAX_PAYLOAD_BYTES = 2 ** 31;

export const FrameType = {
  /** worker → backend, JSON ReadyInfo: model loaded and warmed up. */
  READY: 1,
  /** worker → backend, JSON FatalInfo: the worker cannot start, and exits. */
  FATAL: 2,
  /** backend → worker, uint8 [n, S, S, 3]: RGB crops (ImageBatch), normalised by the worker on its device. */
  IMAGE: 3,
  /** backend → worker, int64 [n, contextLength]. */
  TEXT: 4,
  /** worker → backend, float32 [n, D] (for NORMALISE: float32 [n, 3, S, S]). */
  RESULT: 5,
  /** worker → backend, JSON { message }: this request failed, the worker serves on. */
  FAILED: 6,
  /** worker → backend, JSON BatchTiming, just before the RESULT with the same id. */
  TIMING: 7,
  /** backend → worker, uint8 [n, S, S, 3]: answer the normalised float32 tensor itself (tests). */
  NORMALISE: 8,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

export const DType = { JSON: 0, FLOAT32: 1, INT64: 2, UINT8: 3 } as const;
export type DType = (typeof DType)[keyof typeof DType];

export interface Frame {
  readonly type: number;
  readonly dtype: number;
  readonly id: number;
  readonly shape: readonly number[];
  /** A view of the payload bytes (may share memory with the reader's buffers until the next push). */
  readonly payload: Buffer;
}

/** What a worker says once its model is loaded and warmed up. */
export interface ReadyInfo {
  readonly dim: number;
  readonly device: string;
  readonly deviceName: string;
  readonly dtype: string;
  readonly torch: string;
  /** "rocm", "cuda" or "cpu": which PyTorch build runs. */
  readonly build: string;
  readonly python: string;
  readonly pid: number;
  /** "eager" or "torchscript"; the eager model's attention ("sdpa" or "math"). */
  readonly impl: string;
  readonly attention: string;
  /** torch's intra-op threads in the worker. */
  readonly threads: number;
  /** Image batch sizes captured as CUDA graphs (empty: none). */
  readonly cudaGraphs: readonly number[];
  /** Conversions applied at load (device constants moved, float16 checkpoint made float32...). */
  readonly notes: readonly string[];
  readonly startSeconds: number;
}

/** A worker's own clock readings for one batch (ms since the epoch; deviceMs from device events, null on the CPU). */
export interface BatchTiming {
  readonly id: number;
  /** The request's payload was read whole. */
  readonly received: number;
  /** The compute thread took it up. */
  readonly started: number;
  /** Its result was ready on the host. */
  readonly finished: number;
  readonly deviceMs: number | null;
}

/** Why a worker could not start. `kind` bad-model comes with the file. */
export interface FatalInfo {
  readonly kind: 'python' | 'torch-missing' | 'no-gpu' | 'bad-device' | 'bad-model' | 'bad-args' | 'internal';
  readonly message: string;
  readonly file?: string;
}

if (endianness() !== 'LE') {
  // Typed arrays use the platform's byte order, and the frames promise little-endian bytes.
  throw new Error('the torch backend\'s framing needs a little-endian platform');
}

/** The header of a tensor frame; the payload is sent separately (no copy of the tensor). */
export function tensorHeader(type: FrameType, id: number, dtype: DType, shape: readonly number[], payloadBytes: number): Buffer {
  if (shape.length > 4) throw new TypeError(`a frame holds at most 4 dimensions, got ${shape.length}`);
  if (payloadBytes > MAX_PAYLOAD_BYTES) throw new RangeError(`a frame holds at most ${MAX_PAYLOAD_BYTES} payload bytes, got ${payloadBytes}`);
  const h = Buffer.alloc(HEADER_BYTES);
  h.writeUInt32LE(MAGIC, 0);
  h.writeUInt8(VERSION, 4);
  h.writeUInt8(type, 5);
  h.writeUInt8(dtype, 6);
  h.writeUInt8(shape.length, 7);
  h.writeUInt32LE(id, 8);
  shape.forEach((d, i) => h.writeUInt32LE(d, 12 + 4 * i));
  h.writeUInt32LE(payloadBytes, 28);
  return h;
}

/** A whole JSON frame (ready, fatal, failed): used by tests and by fakes of the worker. */
export function jsonFrame(type: FrameType, id: number, value: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(value), 'utf8');
  return Buffer.concat([tensorHeader(type, id, DType.JSON, [], body.length), body]);
}

const ITEM_BYTES: Record<number, number> = { [DType.FLOAT32]: 4, [DType.INT64]: 8, [DType.UINT8]: 1 };

/**
 * Cuts a byte stream into frames. `push` takes chunks as they arrive and returns the frames they
 * complete; a malformed header throws (the stream cannot be resynchronised: kill the worker).
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private header?: { type: number; dtype: number; id: number; shape: number[]; bytes: number };

  push(chunk: Buffer): Frame[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const frames: Frame[] = [];
    for (;;) {
      if (!this.header) {
        if (this.buffered < HEADER_BYTES) break;
        this.header = parseHeader(this.take(HEADER_BYTES));
      }
      if (this.buffered < this.header.bytes) break;
      const { type, dtype, id, shape, bytes } = this.header;
      this.header = undefined;
      frames.push({ type, dtype, id, shape, payload: this.take(bytes) });
    }
    return frames;
  }

  /** Bytes received but not yet part of a whole frame (a worker that died mid-frame). */
  get pending(): number {
    return this.buffered + (this.header ? HEADER_BYTES : 0);
  }

  private take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const first = this.chunks[0];
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let filled = 0;
      while (filled < n) {
        const c = this.chunks[0];
        const k = Math.min(c.length, n - filled);
        c.copy(out, filled, 0, k);
        filled += k;
        if (k === c.length) this.chunks.shift();
        else this.chunks[0] = c.subarray(k);
      }
    }
    this.buffered -= n;
    return out;
  }
}

function parseHeader(h: Buffer): { type: number; dtype: number; id: number; shape: number[]; bytes: number } {
  const magic = h.readUInt32LE(0);
  const version = h.readUInt8(4);
  if (magic !== MAGIC || version !== VERSION) {
    throw new Error(`bad frame header (magic 0x${magic.toString(16)}, version ${version}): the worker's output is out of step or not a clipql worker`);
  }
  const ndim = h.readUInt8(7);
  const bytes = h.readUInt32LE(28);
  if (ndim > 4) throw new Error(`bad frame header: ndim ${ndim}`);
  const shape = Array.from({ length: ndim }, (_, i) => h.readUInt32LE(12 + 4 * i));
  const dtype = h.readUInt8(6);
  const item = ITEM_BYTES[dtype];
  if (item !== undefined && shape.reduce((a, b) => a * b, 1) * item !== bytes) {
    throw new Error(`bad frame header: shape [${shape.join(', ')}] does not match ${bytes} payload bytes`);
  }
  return { type: h.readUInt8(5), dtype, id: h.readUInt32LE(8), shape, bytes };
}

/** A float32 payload as its own aligned Float32Array (a copy: Buffers from streams may be unaligned). */
export function float32Payload(payload: Buffer): Float32Array {
  const out = new Float32Array(payload.length / 4);
  new Uint8Array(out.buffer).set(payload);
  return out;
}

export function jsonPayload<T>(payload: Buffer): T {
  return JSON.parse(payload.toString('utf8')) as T;
}
