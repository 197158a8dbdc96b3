/**
 * What the walkthrough computes after the towers, and what users read off the matrix:
 *   features = embeds / ||embeds||            (L2 per row)
 *   scores   = text_features @ image_features.T   rows = captions, columns = images
 *   softmax(100 * scores) along either axis   (the CLIP notebook's zero-shot probabilities)
 * Arithmetic is float64 over float32 embeddings; against PyTorch's float32 matmul the scores
 * differ by ~1e-7, far inside the 1e-5 the tests demand.
 */

import { ClipqlError, ErrorCode } from '../errors';
import type { ProbabilityRule } from '../families/family';
import { CLIP_LOGIT_SCALE } from '../families/clip';

/** The notebook's logit scale: CLIP's learned temperature, clamped at 100 in training. */
export const LOGIT_SCALE = CLIP_LOGIT_SCALE;

/** CLIP's rule: softmax of 100 × cosine. */
export const CLIP_PROBABILITY: ProbabilityRule = { kind: 'softmax', scale: LOGIT_SCALE };

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

/** Numerically stable logistic function. */
export function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/** The error a request meets when it asks for probabilities the model cannot give (the rule's reason). */
export function probabilityUnavailable(reason: string): ClipqlError {
  return new ClipqlError(ErrorCode.PROBABILITY_UNAVAILABLE, `this model serves similarities but no probabilities: ${reason}`, { details: { reason } });
}

/**
 * The probabilities of one image's scores against its captions (or one caption's against its
 * images) under a model family's rule: softmax across them (CLIP), or each pair on its own,
 * sigmoid(scale × cos + bias) (SigLIP: they need not sum to 1). PROBABILITY_UNAVAILABLE when the
 * model's files do not say its numbers.
 */
export function probabilities(values: readonly number[], rule: ProbabilityRule = CLIP_PROBABILITY): number[] {
  if (rule.kind === 'unavailable') throw probabilityUnavailable(rule.reason);
  return rule.kind === 'softmax' ? softmax(values, rule.scale) : values.map((v) => sigmoid(rule.scale * v + rule.bias));
}

/** The rule in words, with its numbers (the API's ModelInfo.probability). */
export function describeProbability(rule: ProbabilityRule): string {
  const n = (x: number) => String(Number(x.toPrecision(6)));
  if (rule.kind === 'unavailable') return `unavailable: ${rule.reason}`;
  return rule.kind === 'softmax' ? `softmax(${n(rule.scale)} × cosine) across the other axis` : `sigmoid(${n(rule.scale)} × cosine + ${n(rule.bias)}) per pair`;
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
  /**
   * For each image (column), over its captions: the notebook's zero-shot probabilities (the
   * family's rule: `probabilities`). Computed when read; reading it throws PROBABILITY_UNAVAILABLE
   * for a model without a probability rule (so does probsPerCaption).
   */
  readonly probsPerImage: number[][];
  /** For each caption (row), over the images: text-to-image retrieval. */
  readonly probsPerCaption: number[][];
  /** For each image, the index of its best caption. */
  readonly bestCaptionPerImage: number[];
  /** For each caption, the index of its best image. */
  readonly bestImagePerCaption: number[];
}

export function analyse(scores: number[][], rule: ProbabilityRule = CLIP_PROBABILITY): SimilarityResult {
  const columns = transpose(scores);
  let perImage: number[][] | undefined;
  let perCaption: number[][] | undefined;
  return {
    scores,
    get probsPerImage() {
      return (perImage ??= columns.map((c) => probabilities(c, rule)));
    },
    get probsPerCaption() {
      return (perCaption ??= scores.map((r) => probabilities(r, rule)));
    },
    bestCaptionPerImage: columns.map(argmax),
    bestImagePerCaption: scores.map(argmax),
  };
}
