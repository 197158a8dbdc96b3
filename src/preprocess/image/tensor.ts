/**
 * ToTensor + Normalize, the last step of the image transform. Its own module (no sharp, no
 * decoders) because the backends run it too, on their worker threads: images travel to them as
 * uint8 crops (backends/backend.ts, ImageBatch).
 */
import type { ImageTransformConfig } from './config';

/**
 * ToTensor + Normalize: RGB HWC uint8 → CHW float32, written to `out` at `offset` (a batch buffer)
 * or to a new array. The float32 operations are torchvision's: x / 255, then (x - mean) / std,
 * each rounded to float32, with mean and std as float32; the result is bit-identical.
 */
export function toTensor(rgb: Uint8Array, cfg: ImageTransformConfig, out?: Float32Array, offset = 0): Float32Array {
  const n = cfg.cropHeight * cfg.cropWidth;
  if (rgb.length !== n * 3) throw new RangeError(`toTensor expects ${cfg.cropWidth}x${cfg.cropHeight}x3 = ${n * 3} bytes, got ${rgb.length}`);
  const dst = out ?? new Float32Array(3 * n);
  if (offset < 0 || offset + 3 * n > dst.length) throw new RangeError(`toTensor: ${3 * n} values do not fit at offset ${offset} of ${dst.length}`);
  // one lookup table per channel: the input has only 256 values
  const table = tensorTable(cfg);
  for (let c = 0; c < 3; c++) {
    const t = table.subarray(c * 256, c * 256 + 256);
    const base = offset + c * n;
    for (let i = 0; i < n; i++) dst[base + i] = t[rgb[i * 3 + c]];
  }
  return dst;
}

const tables = new WeakMap<ImageTransformConfig, Float32Array>();

/**
 * The 3 × 256 float32 values that toTensor maps each channel's bytes to (channel-major). Backends
 * that normalise elsewhere (the torch worker, on its device) look their pixels up in this table,
 * so that their tensor is the same to the bit.
 */
export function tensorTable(cfg: ImageTransformConfig): Float32Array {
  let t = tables.get(cfg);
  if (t) return t;
  const f = Math.fround;
  t = new Float32Array(3 * 256);
  for (let c = 0; c < 3; c++) {
    const mean = f(cfg.mean[c]);
    const std = f(cfg.std[c]);
    for (let v = 0; v < 256; v++) {
      // ToTensor divides by 255; other factors multiply, as transformers' rescale does
      let x = !cfg.doRescale ? v : cfg.rescaleFactor === 1 / 255 && !cfg.rescaleInFloat64 ? f(v / 255) : f(v * cfg.rescaleFactor);
      if (cfg.doNormalize) x = f(f(x - mean) / std);
      t[c * 256 + v] = x;
    }
  }
  tables.set(cfg, t);
  return t;
}
