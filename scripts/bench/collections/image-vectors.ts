/**
 * The third evaluation set of the store benchmark (issue 22): embeddings that a CLIP model gives
 * of generated images, here models/generate.py's tiny-d768 (random weights, a 768-wide projection:
 * real towers, so the embeddings have whatever structure such a model gives, not one we chose).
 *
 * The images are generated as the model's crops (size × size RGB, what preprocessing hands the
 * backends), like a photo library's: `THEMES` themes (a gradient background between two theme
 * colours and a palette of three shape colours), each image a theme's background with every colour
 * jittered, 3 to 7 discs and rectangles of the theme's palette at random places and sizes, and
 * pixel noise. Encoded by the onnx backend through the Embedder (batched as the server batches).
 * Made once per (model, n, seed) and kept in os.tmpdir() (clipql-bench-images/<model>-<n>-<seed>.f32).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ClipPipeline } from '../../../src/pipeline';
import { normalizeRows } from '../../../src/similarity/similarity';
import { rng } from '../../hostile/bytes';

export const THEMES = 40;

type Rgb = [number, number, number];

interface Theme {
  readonly from: Rgb;
  readonly to: Rgb;
  readonly palette: readonly Rgb[];
}

const colour = (r: () => number): Rgb => [r() * 255, r() * 255, r() * 255];
const jitter = (c: Rgb, r: () => number, by: number): Rgb => c.map((x) => Math.min(255, Math.max(0, x + (r() * 2 - 1) * by))) as Rgb;

function themes(seed: number): Theme[] {
  const r = rng(seed);
  return Array.from({ length: THEMES }, () => ({ from: colour(r), to: colour(r), palette: [colour(r), colour(r), colour(r)] }));
}

/** One generated crop, size × size × 3 uint8 (HWC). */
export function generatedImage(theme: Theme, r: () => number, size: number): Uint8Array {
  const px = new Uint8Array(size * size * 3);
  const [a, b] = [jitter(theme.from, r, 30), jitter(theme.to, r, 30)];
  const vertical = r() < 0.5;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const t = (vertical ? y : x) / (size - 1);
      const o = (y * size + x) * 3;
      for (let k = 0; k < 3; k++) px[o + k] = a[k] + (b[k] - a[k]) * t;
    }
  }
  const shapes = 3 + Math.floor(r() * 5);
  for (let s = 0; s < shapes; s++) {
    const c = jitter(theme.palette[Math.floor(r() * theme.palette.length) % theme.palette.length], r, 25);
    const [cx, cy, half] = [r() * size, r() * size, size * (0.05 + r() * 0.2)];
    const disc = r() < 0.5;
    for (let y = Math.max(0, Math.floor(cy - half)); y < Math.min(size, Math.ceil(cy + half)); y++) {
      for (let x = Math.max(0, Math.floor(cx - half)); x < Math.min(size, Math.ceil(cx + half)); x++) {
        if (disc && (x - cx) ** 2 + (y - cy) ** 2 > half * half) continue;
        const o = (y * size + x) * 3;
        px[o] = c[0];
        px[o + 1] = c[1];
        px[o + 2] = c[2];
      }
    }
  }
  // Pixel noise, ±8, from a xorshift32 seeded by r (r itself is too slow for 338,688 draws).
  let x = (Math.floor(r() * 0xffffffff) | 1) >>> 0;
  for (let i = 0; i < px.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    px[i] = Math.min(255, Math.max(0, px[i] + ((x >>> 0) % 17) - 8));
  }
  return px;
}

/**
 * `n` embeddings (D of the model) of generated images, in order, L2-normalised (as the store
 * keeps them, and as faiss's inner product needs them); `log` hears progress. Cached in
 * os.tmpdir() by model, n and seed.
 */
export async function imageEmbeddings(modelDir: string, n: number, seed: number, log: (m: string) => void = () => undefined): Promise<Float32Array[]> {
  const dir = path.join(os.tmpdir(), 'clipql-bench-images');
  const file = path.join(dir, `${path.basename(modelDir)}-${n}-${seed}.f32`);
  if (existsSync(file)) {
    const buf = readFileSync(file);
    const dim = buf.byteLength / 4 / n;
    const all = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
    return Array.from({ length: n }, (_, i) => all.slice(i * dim, (i + 1) * dim));
  }
  const pipeline = await ClipPipeline.open({ modelDir, backend: 'onnx' });
  try {
    const size = pipeline.bundle.imageSize;
    const ts = themes(seed);
    const r = rng(seed + 1);
    const embedder = await pipeline.embedder('onnx');
    const out: Float32Array[] = new Array(n);
    const started = performance.now();
    const inFlight = 64;
    let next = 0;
    const worker = async () => {
      while (next < n) {
        const i = next++;
        const px = generatedImage(ts[Math.floor(r() * THEMES) % THEMES], r, size);
        const v = await embedder.embedImage(`generated-${seed}-${i}`, async () => px);
        out[i] = normalizeRows(v, 1, v.length);
        if ((i + 1) % 10000 === 0) log(`${i + 1} generated images encoded, ${((i + 1) / ((performance.now() - started) / 1000)).toFixed(0)}/s`);
      }
    };
    await Promise.all(Array.from({ length: inFlight }, worker));
    mkdirSync(dir, { recursive: true });
    writeFileSync(`${file}.tmp`, Buffer.concat(out.map((v) => Buffer.from(v.buffer, v.byteOffset, v.byteLength))));
    renameSync(`${file}.tmp`, file);
    return out;
  } finally {
    await pipeline.close();
  }
}
