/**
 * What the walkthrough computes after the towers, and what users read off the matrix:
 *   features = embeds / ||embeds||            (L2 per row)
 *   scores   = text_features @ image_features.T   rows = captions, columns = images
 *   softmax(100 * scores) along either axis   (the CLIP notebook's zero-shot probabilities)
 * Arithmetic is float64 over float32 embeddings; against PyTorch's float32 matmul the scores
 * differ by ~1e-7, far inside the 1e-5 the tests demand.
 */

/** The notebook's logit scale: CLIP's learned temperature, clamped at 100 in training. */
export const LOGIT_SCALE = 100;

/** L2-normalised copy of each row of a row-major [count, dim] matrix. A zero row stays zero. */
export function normalizeRows(data: Float32Array, count: number, dim: number): Float32Array {
  if (data.length !== count * dim) throw new TypeError(`expected ${count}x${dim} values, got ${data.length}`);
  const out = new Float32Array(data.length);
  for (let r = 0; r < count; r++) {
    let sum = 0;
    for (let k = r * dim; k < (r + 1) * dim; k++) sum += data[k] * data[k];
    const inv = sum > 0 ? 1 / Math.sqrt(sum) : 0;
    for (let k = r * dim; k < (r + 1) * dim; k++) out[k] = data[k] * inv;
  }
  return out;
}

/** Dot product of two normalised vectors: their cosine similarity. */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new TypeError(`vectors differ in length: ${a.length} vs ${b.length}`);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** Cosine of two vectors that need not be normalised (0 when either is zero). */
export function rawCosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new TypeError(`vectors differ in length: ${a.length} vs ${b.length}`);
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : 0;
}

/** scores[i][j] = cosine(caption i, image j), from normalised rows. */
export function similarityMatrix(textFeatures: Float32Array[], imageFeatures: Float32Array[]): number[][] {
  return textFeatures.map((t) => imageFeatures.map((im) => cosine(t, im)));
}

/** Numerically stable softmax of scale * values. */
export function softmax(values: readonly number[], scale = LOGIT_SCALE): number[] {
  if (values.length === 0) return [];
  const m = Math.max(...values);
  const e = values.map((v) => Math.exp(scale * (v - m)));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

export function argmax(values: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

export function transpose(m: readonly (readonly number[])[]): number[][] {
  return m.length === 0 ? [] : m[0].map((_, j) => m.map((row) => row[j]));
}

export interface SimilarityResult {
  /** rows = captions, columns = images. */
  readonly scores: number[][];
  /** For each image (column), softmax over captions: the notebook's zero-shot probabilities. */
  readonly probsPerImage: number[][];
  /** For each caption (row), softmax over images: text-to-image retrieval. */
  readonly probsPerCaption: number[][];
  /** For each image, the index of its best caption. */
  readonly bestCaptionPerImage: number[];
  /** For each caption, the index of its best image. */
  readonly bestImagePerCaption: number[];
}

export function analyse(scores: number[][]): SimilarityResult {
  const columns = transpose(scores);
  return {
    scores,
    probsPerImage: columns.map((c) => softmax(c)),
    probsPerCaption: scores.map((r) => softmax(r)),
    bestCaptionPerImage: columns.map(argmax),
    bestImagePerCaption: scores.map(argmax),
  };
}
