/**
 * The small parts of an .onnx file's graph, read without loading its weights: the nodes (op type,
 * inputs, outputs, a Constant's scalar) and the scalar initializers, by a bounded walk of the
 * protobuf (ModelProto.graph → GraphProto.node / .initializer → TensorProto). Big records (weight
 * tensors, Constant nodes holding tensors) are skipped by their length prefix, never read; a
 * tensor kept in external data (model.onnx_data, the layout of models over 2 GB) is read from there,
 * only its own bytes.
 *
 * Why not onnxruntime: its JavaScript API shows a session's input and output names and metadata,
 * not its initializers; and opening a session would load the whole model (800 MB for SigLIP B/16)
 * to read two numbers.
 *
 * Wire format (protobuf): each field is a varint key (field number << 3 | wire type) then a varint
 * (type 0), 8 bytes (1), a varint length and that many bytes (2), or 4 bytes (5).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ClipqlError, ErrorCode } from '../errors';

/** A node or initializer record over this size is skipped unread (a scalar's record is ~50 bytes). */
const SMALL_RECORD = 64 * 1024;
/** At most this many bytes of records are parsed in one file: a graph beyond it is refused. */
const READ_BUDGET = 64 * 1024 * 1024;
const WINDOW = 1 << 20;

export interface GraphNode {
  readonly op: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  /** A Constant node's value when it is one number (attribute value, value_float). */
  readonly scalar?: number;
}

export interface OnnxGraph {
  /** The node that outputs each name. */
  readonly producers: ReadonlyMap<string, GraphNode>;
  /** Initializers that hold exactly one number, by name. */
  readonly scalars: ReadonlyMap<string, number>;
}

/** Positional reads through a 1 MB window. */
class Reader {
  private start = 0;
  private buf = Buffer.alloc(0);
  budget = READ_BUDGET;
  constructor(private readonly handle: fs.FileHandle, readonly size: number, private readonly file: string) {}

  bad(what: string): ClipqlError {
    return new ClipqlError(ErrorCode.BAD_MODEL, `${this.file}: ${what}`, { details: { file: this.file } });
  }

  async bytes(pos: number, n: number): Promise<Buffer> {
    if (pos < 0 || pos + n > this.size) throw this.bad(`is not an ONNX model (a record runs past the end of the file at byte ${pos})`);
    if (pos < this.start || pos + n > this.start + this.buf.length) {
      const len = Math.min(Math.max(n, WINDOW), this.size - pos);
      const buf = Buffer.alloc(len);
      const { bytesRead } = await this.handle.read(buf, 0, len, pos);
      if (bytesRead !== len) throw this.bad('could not be read whole (changed while read?)');
      this.start = pos;
      this.buf = buf;
    }
    return this.buf.subarray(pos - this.start, pos - this.start + n);
  }

  /** Every field of the message in [from, to): [field number, wire type, value start, value end or the varint]. */
  async *fields(from: number, to: number): AsyncGenerator<Field> {
    let pos = from;
    while (pos < to) {
      const [key, a] = varint(await this.bytes(pos, Math.min(10, to - pos)), 0, this);
      pos += a;
      const type = key % 8;
      const num = Math.floor(key / 8);
      if (type === 0) {
        const [v, b] = varint(await this.bytes(pos, Math.min(10, to - pos)), 0, this);
        yield { num, type, start: pos, end: pos + b, value: v };
        pos += b;
      } else if (type === 1 || type === 5) {
        const n = type === 1 ? 8 : 4;
        yield { num, type, start: pos, end: pos + n, value: 0 };
        pos += n;
      } else if (type === 2) {
        const [len, b] = varint(await this.bytes(pos, Math.min(10, to - pos)), 0, this);
        pos += b;
        yield { num, type, start: pos, end: pos + len, value: len };
        pos += len;
      } else throw this.bad(`is not an ONNX model (protobuf wire type ${type} at byte ${pos})`);
      if (pos > to) throw this.bad(`is not an ONNX model (a field runs past its message at byte ${pos})`);
    }
  }

  /** A small record's bytes, counted against the budget. */
  async record(f: Field): Promise<Buffer> {
    this.budget -= f.end - f.start;
    if (this.budget < 0) throw this.bad(`its graph is too large to inspect (over ${READ_BUDGET >> 20} MB of nodes)`);
    return Buffer.from(await this.bytes(f.start, f.end - f.start));
  }
}

interface Field {
  readonly num: number;
  readonly type: number;
  readonly start: number;
  readonly end: number;
  /** A varint's value, or a length-delimited field's length. */
  readonly value: number;
}

/** [value, bytes used]; values beyond 2^53 lose precision (lengths and counts never get there). */
function varint(b: Uint8Array, at: number, r: { bad(what: string): Error }): [number, number] {
  let v = 0;
  let mul = 1;
  for (let i = at; i < b.length && i < at + 10; i++) {
    v += (b[i] & 0x7f) * mul;
    mul *= 128;
    if (!(b[i] & 0x80)) return [v, i + 1 - at];
  }
  throw r.bad('is not an ONNX model (a malformed varint)');
}

/** The fields of a message already in memory. */
function* memFields(b: Buffer, r: { bad(what: string): Error }): Generator<Field> {
  let pos = 0;
  while (pos < b.length) {
    const [key, a] = varint(b, pos, r);
    pos += a;
    const type = key % 8;
    const num = Math.floor(key / 8);
    let start = pos;
    let end: number;
    let value = 0;
    if (type === 0) {
      const [v, n] = varint(b, pos, r);
      value = v;
      end = pos + n;
    } else if (type === 1 || type === 5) end = pos + (type === 1 ? 8 : 4);
    else if (type === 2) {
      const [len, n] = varint(b, pos, r);
      start = pos + n;
      end = start + len;
      value = len;
    } else throw r.bad(`is not an ONNX model (protobuf wire type ${type})`);
    if (end > b.length) throw r.bad('is not an ONNX model (a field runs past its message)');
    yield { num, type, start, end, value };
    pos = end;
  }
}

interface TensorRecord {
  name: string;
  dims: number[];
  dataType: number;
  raw?: Buffer;
  floats: number[];
  doubles: number[];
  int32s: number[];
  external: Map<string, string>;
}

/** TensorProto: dims 1, data_type 2, float_data 4, int32_data 5, name 8, raw_data 9, double_data 10, external_data 13. */
function parseTensor(b: Buffer, r: { bad(what: string): Error }): TensorRecord {
  const t: TensorRecord = { name: '', dims: [], dataType: 0, floats: [], doubles: [], int32s: [], external: new Map() };
  for (const f of memFields(b, r)) {
    const v = b.subarray(f.start, f.end);
    if (f.num === 1) t.dims.push(...(f.type === 2 ? packedVarints(v, r) : [f.value]));
    else if (f.num === 2 && f.type === 0) t.dataType = f.value;
    else if (f.num === 4) for (let i = 0; i + 4 <= v.length; i += 4) t.floats.push(v.readFloatLE(i));
    else if (f.num === 5) t.int32s.push(...(f.type === 2 ? packedVarints(v, r) : [f.value]));
    else if (f.num === 8 && f.type === 2) t.name = v.toString('utf8');
    else if (f.num === 9 && f.type === 2) t.raw = v;
    else if (f.num === 10) for (let i = 0; i + 8 <= v.length; i += 8) t.doubles.push(v.readDoubleLE(i));
    else if (f.num === 13 && f.type === 2) {
      const entry: string[] = ['', ''];
      for (const e of memFields(v, r)) if (e.num === 1 || e.num === 2) entry[e.num - 1] = v.subarray(e.start, e.end).toString('utf8');
      t.external.set(entry[0], entry[1]);
    }
  }
  return t;
}

function packedVarints(b: Uint8Array, r: { bad(what: string): Error }): number[] {
  const out: number[] = [];
  for (let pos = 0; pos < b.length; ) {
    const [v, n] = varint(b, pos, r);
    out.push(v);
    pos += n;
  }
  return out;
}

/** ONNX TensorProto.DataType → bytes per element, for the floating types a scalar may have. */
const FLOAT_SIZE: Record<number, number> = { 1: 4, 10: 2, 11: 8, 16: 2 };

function decodeFloat(bytes: Buffer, dataType: number): number {
  if (dataType === 1) return bytes.readFloatLE(0);
  if (dataType === 11) return bytes.readDoubleLE(0);
  const bits = bytes.readUInt16LE(0);
  return dataType === 16 ? bfloat16(bits) : float16(bits);
}

function float16(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

function bfloat16(h: number): number {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(h << 16 >>> 0, 0);
  return b.readFloatLE(0);
}

/** The tensor's one number, or undefined when it holds more than one or is not a float. */
async function scalarOf(t: TensorRecord, file: string, r: Reader): Promise<number | undefined> {
  const size = FLOAT_SIZE[t.dataType];
  if (!size || t.dims.reduce((a, d) => a * d, 1) !== 1) return undefined;
  if (t.raw) return t.raw.length === size ? decodeFloat(t.raw, t.dataType) : undefined;
  if (t.dataType === 1 && t.floats.length === 1) return t.floats[0];
  if (t.dataType === 11 && t.doubles.length === 1) return t.doubles[0];
  if ((t.dataType === 10 || t.dataType === 16) && t.int32s.length === 1) return decodeFloat(Buffer.from([t.int32s[0] & 0xff, t.int32s[0] >> 8]), t.dataType);
  const location = t.external.get('location');
  if (location === undefined) return undefined;
  if (path.isAbsolute(location) || location.split(/[\\/]/).includes('..')) throw r.bad(`tensor ${t.name}: external data location ${JSON.stringify(location)} leaves the model's folder`);
  const offset = Number(t.external.get('offset') ?? 0);
  const length = Number(t.external.get('length') ?? size);
  if (length !== size || !Number.isSafeInteger(offset) || offset < 0) return undefined;
  const data = path.join(path.dirname(file), location);
  const h = await fs.open(data, 'r').catch((e: NodeJS.ErrnoException) => {
    throw r.bad(`tensor ${t.name} is in ${location}, which cannot be read (${e.code ?? e.message})`);
  });
  try {
    const b = Buffer.alloc(size);
    const { bytesRead } = await h.read(b, 0, size, offset);
    if (bytesRead !== size) throw r.bad(`tensor ${t.name}: ${location} ends before byte ${offset + size}`);
    return decodeFloat(b, t.dataType);
  } finally {
    await h.close();
  }
}

/** NodeProto: input 1, output 2, op_type 4, attribute 5 (AttributeProto: name 1, f 2, t 5). */
async function parseNode(b: Buffer, file: string, r: Reader): Promise<GraphNode> {
  const inputs: string[] = [];
  const outputs: string[] = [];
  let op = '';
  let scalar: number | undefined;
  for (const f of memFields(b, r)) {
    if (f.type !== 2) continue;
    const v = b.subarray(f.start, f.end);
    if (f.num === 1) inputs.push(v.toString('utf8'));
    else if (f.num === 2) outputs.push(v.toString('utf8'));
    else if (f.num === 4) op = v.toString('utf8');
    else if (f.num === 5) {
      let name = '';
      let value: number | undefined;
      for (const a of memFields(v, r)) {
        if (a.num === 1 && a.type === 2) name = v.subarray(a.start, a.end).toString('utf8');
        else if (a.num === 2 && a.type === 5) value = v.readFloatLE(a.start);
        else if (a.num === 5 && a.type === 2) value = await scalarOf(parseTensor(v.subarray(a.start, a.end), r), file, r);
      }
      if (name === 'value' || name === 'value_float') scalar = value;
    }
  }
  return { op, inputs, outputs, ...(op === 'Constant' && scalar !== undefined && { scalar }) };
}

/** Reads the nodes and scalar initializers of `file` (an .onnx model). BAD_MODEL when it is not one. */
export async function readOnnxGraph(file: string): Promise<OnnxGraph> {
  const handle = await fs.open(file, 'r').catch((e: NodeJS.ErrnoException) => {
    throw new ClipqlError(ErrorCode.BAD_MODEL, `${file}: cannot be read (${e.code ?? e.message})`, { details: { file } });
  });
  try {
    const r = new Reader(handle, (await handle.stat()).size, file);
    const producers = new Map<string, GraphNode>();
    const scalars = new Map<string, number>();
    let graphs = 0;
    for await (const top of r.fields(0, r.size)) {
      if (top.num !== 7 || top.type !== 2) continue; // ModelProto.graph
      graphs++;
      for await (const f of r.fields(top.start, top.end)) {
        if (f.type !== 2 || f.end - f.start > SMALL_RECORD) continue;
        if (f.num === 1) {
          const node = await parseNode(await r.record(f), file, r);
          for (const o of node.outputs) producers.set(o, node);
        } else if (f.num === 5) {
          const t = parseTensor(await r.record(f), r);
          const v = await scalarOf(t, file, r);
          if (v !== undefined) scalars.set(t.name, v);
        }
      }
    }
    if (graphs !== 1) throw r.bad(`is not an ONNX model (${graphs} graphs)`);
    return { producers, scalars };
  } finally {
    await handle.close();
  }
}
