/**
 * A few scalars out of a .safetensors file without reading the rest: the 8-byte header length,
 * the JSON header (name → dtype, shape, data_offsets), then only the bytes of the names asked
 * for. SigLIP keeps logit_scale and logit_bias there, not in config.json.
 */
import { promises as fs } from 'node:fs';
import { ClipqlError, ErrorCode } from '../errors';

/** Headers are small; a bigger one is not a safetensors file worth trusting. */
const MAX_HEADER = 100 * 1024 * 1024;

export async function readScalars(file: string, names: readonly string[]): Promise<Record<string, number> | undefined> {
  const bad = (what: string) => new ClipqlError(ErrorCode.BAD_MODEL, `${file}: ${what}`, { details: { file } });
  const handle = await fs.open(file, 'r');
  try {
    const head = Buffer.alloc(8);
    await handle.read(head, 0, 8, 0);
    const n = Number(head.readBigUInt64LE(0));
    if (n <= 0 || n > MAX_HEADER) throw bad(`header length ${n} is not that of a safetensors file`);
    const json = Buffer.alloc(n);
    await handle.read(json, 0, n, 8);
    let header: Record<string, { dtype?: string; shape?: number[]; data_offsets?: [number, number] }>;
    try {
      header = JSON.parse(json.toString('utf8'));
    } catch {
      throw bad('the safetensors header is not JSON');
    }
    const out: Record<string, number> = {};
    for (const name of names) {
      const t = header[name];
      if (!t) return undefined;
      const size = t.dtype === 'F32' ? 4 : t.dtype === 'F64' ? 8 : 0;
      const [a, b] = t.data_offsets ?? [0, 0];
      if (!size || b - a !== size) throw bad(`${name} must be one float32 or float64, got ${t.dtype} of shape [${t.shape?.join(', ')}]`);
      const v = Buffer.alloc(size);
      await handle.read(v, 0, size, 8 + n + a);
      out[name] = size === 4 ? v.readFloatLE(0) : v.readDoubleLE(0);
    }
    return out;
  } finally {
    await handle.close();
  }
}
