/**
 * The Python reference at test time: test/reference/pil_transform.py run by Debian's python3 with
 * Pillow 9.4 and torchvision 0.14 (CI installs python3-pil and python3-torchvision), and the
 * matchers that name the first difference.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../../src/paths';
import { cachedFixtureSync } from '../helpers/fixture-cache';

export const PYTHON = process.env.CLIPQL_PYTHON ?? '/usr/bin/python3';
export const SCRIPT = path.join(REPO_ROOT, 'test', 'reference', 'pil_transform.py');

function python(args: string[], input?: string): string {
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: the image tests compare with PIL + torchvision (apt install python3-pil python3-torchvision, or set CLIPQL_PYTHON)`);
  try {
    return execFileSync(PYTHON, [SCRIPT, ...args], { input, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`${PYTHON} ${path.basename(SCRIPT)} ${args[0]} failed (needs python3-pil, python3-torchvision, python3-numpy): ${err.stderr || err.message}`);
  }
}

export interface SyntheticImage {
  readonly name: string;
  readonly file: string;
  readonly note: string;
}

let synthetic: Map<string, SyntheticImage> | undefined;

/**
 * The synthetic images, by file name: made by PIL once per content of the script and of the
 * interpreter (../helpers/fixture-cache.ts), into a shared folder that callers only read.
 */
export function syntheticImages(): Map<string, SyntheticImage> {
  if (!synthetic) {
    const dir = cachedFixtureSync('pil-synth', { pythons: [PYTHON], args: ['synth', '--seed', '1'] }, (tmp) => {
      mkdirSync(tmp);
      python(['synth', tmp, '--seed', '1']);
    });
    const list = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as SyntheticImage[];
    // The manifest names the files where they were made (the folder before its rename into place).
    synthetic = new Map(list.map((s) => [s.name, { ...s, file: path.join(dir, s.name) }]));
  }
  return synthetic;
}

export interface ReferenceJob {
  readonly size: number;
  readonly images: readonly string[];
  readonly cropHeight?: number;
  readonly cropWidth?: number;
  readonly resample?: number;
  readonly tensor?: boolean;
  /** Reduce 16-bit grey to its high byte first: clipql's documented deviation. */
  readonly grey16HighByte?: boolean;
}

export interface ReferenceResult {
  readonly file: string;
  readonly format?: string;
  readonly mode?: string;
  readonly width?: number;
  readonly height?: number;
  /** PIL's or torchvision's exception, when they fail on the image. */
  readonly error?: string;
  /** RGB HWC uint8 after Resize + CenterCrop + convert("RGB"). */
  readonly rgb?: Uint8Array;
  /** CHW float32 after ToTensor + Normalize (jobs with `tensor`). */
  readonly tensor?: Float32Array;
}

/**
 * Runs several reference jobs in one Python process; results[job][image]. PIL's and
 * torchvision's answers for these jobs and these images' bytes are kept for later runs
 * (../helpers/fixture-cache.ts).
 */
export function runReference(jobs: readonly ReferenceJob[]): ReferenceResult[][] {
  const images = [...new Set(jobs.flatMap((j) => j.images))];
  const root = cachedFixtureSync('pil-reference', { pythons: [PYTHON], files: images, args: [jobs] }, (tmp) => {
    mkdirSync(tmp);
    const spec = jobs.map((j, i) => ({ ...j, out: path.join(tmp, String(i)) }));
    writeFileSync(path.join(tmp, 'results.json'), python(['batch'], JSON.stringify(spec)));
  });
  const results = JSON.parse(readFileSync(path.join(root, 'results.json'), 'utf8')) as ReferenceResult[][];
  return results.map((list, j) =>
    list.map((r, i) => {
      if (r.error) return r;
      const base = path.join(root, String(j), String(i));
      const rgb = new Uint8Array(readFileSync(`${base}.rgb`));
      const tensor = jobs[j].tensor ? new Float32Array(new Uint8Array(readFileSync(`${base}.f32`)).buffer) : undefined;
      return { ...r, rgb, tensor };
    }),
  );
}

/**
 * Throws unless `actual` equals `expected` byte for byte, naming the image, the first differing
 * (y, x, c) with both values, and how many bytes differ.
 */
export function assertSamePixels(actual: Uint8Array, expected: Uint8Array, width: number, label: string): void {
  if (actual.length !== expected.length) throw new Error(`${label}: ${actual.length} bytes, PIL has ${expected.length}`);
  let count = 0;
  let first = -1;
  for (let i = 0; i < expected.length; i++) {
    if (actual[i] !== expected[i]) {
      count++;
      if (first < 0) first = i;
    }
  }
  if (count > 0) {
    const px = Math.floor(first / 3);
    const [y, x, c] = [Math.floor(px / width), px % width, first % 3];
    throw new Error(`${label}: ${count} of ${expected.length} bytes differ from PIL; first at (y=${y}, x=${x}, c=${c}): ours ${actual[first]}, PIL ${expected[first]}`);
  }
}

/** Largest |difference| and how many values are not bit-identical; throws above `tol`, naming the index. */
export function compareTensors(actual: Float32Array, expected: Float32Array, tol: number, label: string): { max: number; differing: number } {
  if (actual.length !== expected.length) throw new Error(`${label}: ${actual.length} values, torchvision has ${expected.length}`);
  let max = 0;
  let differing = 0;
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    if (!(d <= tol)) throw new Error(`${label}: tensor[${i}] = ${actual[i]}, torchvision ${expected[i]}: |diff| ${d} > ${tol}`);
    if (actual[i] !== expected[i]) differing++;
    if (d > max) max = d;
  }
  return { max, differing };
}
