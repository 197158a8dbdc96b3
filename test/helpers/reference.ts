/** The PyTorch reference outputs written by models/generate.py for the tiny 336 bundle. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { TINY_REFERENCE_DIR } from './shared';

export interface TinyReference {
  readonly images: { file: string; width: number; height: number; mode: string }[];
  readonly texts: string[];
  readonly tokens: number[][];
  readonly image_embeds: number[][];
  readonly text_embeds: number[][];
  readonly similarity: number[][];
}

export function tinyReference(): TinyReference {
  return JSON.parse(readFileSync(path.join(TINY_REFERENCE_DIR, 'reference.json'), 'utf8')) as TinyReference;
}

/** Asserts two matrices agree within `tol`, naming the first failing index and both values. */
export function assertClose(actual: ArrayLike<number>[], expected: ArrayLike<number>[], tol: number, what: string): number {
  if (actual.length !== expected.length) throw new Error(`${what}: ${actual.length} rows, expected ${expected.length}`);
  let max = 0;
  for (let i = 0; i < expected.length; i++) {
    if (actual[i].length !== expected[i].length) throw new Error(`${what}[${i}]: ${actual[i].length} columns, expected ${expected[i].length}`);
    for (let j = 0; j < expected[i].length; j++) {
      const d = Math.abs(actual[i][j] - expected[i][j]);
      if (!(d <= tol)) throw new Error(`${what}[${i}][${j}] = ${actual[i][j]}, reference ${expected[i][j]}: |diff| ${d} > ${tol}`);
      max = Math.max(max, d);
    }
  }
  return max;
}

/** Cosine of two vectors, in double precision (the tests' own, not src/similarity's). */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / Math.sqrt(aa * bb);
}
