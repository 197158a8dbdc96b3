/**
 * Helpers shared by the benchmark's processes: statistics, child processes that answer with one
 * JSON line, the notebook images and the paths everything lives at.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** The repository root (scripts/bench/GROUP/NAME.ts compile to dist/scripts/bench/GROUP/NAME.js). */
export const REPO = path.resolve(__dirname, '..', '..', '..');
export const SHARED = path.resolve(REPO, '..', 'shared');
export const NOTEBOOK = path.join(SHARED, 'images', 'notebook');
export const DIST = path.join(REPO, 'dist');

/** The eight notebook images, in a fixed order. */
export function notebookImages(): { name: string; bytes: Buffer }[] {
  return fs
    .readdirSync(NOTEBOOK)
    .filter((f) => /\.(png|jpe?g)$/i.test(f))
    .sort()
    .map((name) => ({ name, bytes: fs.readFileSync(path.join(NOTEBOOK, name)) }));
}

export function notebookCaptions(): string[] {
  const raw = JSON.parse(fs.readFileSync(path.join(NOTEBOOK, 'captions.json'), 'utf8')) as unknown;
  if (Array.isArray(raw)) return raw.map(String);
  return Object.values(raw as Record<string, string>).map(String);
}

export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}

/** A random unit vector of `dim` values (Gaussian by Box–Muller, normalised), float32. */
export function randomUnit(r: () => number, dim: number): Float32Array {
  const v = new Float32Array(dim);
  let s = 0;
  for (let i = 0; i < dim; i++) {
    v[i] = Math.sqrt(-2 * Math.log(r() || 1e-12)) * Math.cos(2 * Math.PI * r());
    s += v[i] * v[i];
  }
  const inv = 1 / Math.sqrt(s);
  for (let i = 0; i < dim; i++) v[i] *= inv;
  return v;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Arguments as `--key value` pairs (a bare `--flag` is "1"). */
export function args(argv = process.argv.slice(2)): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) continue;
    const next = argv[i + 1];
    if (next === undefined || next.startsWith('--')) out[a.slice(2)] = '1';
    else out[a.slice(2)] = argv[++i];
  }
  return out;
}

/** Prints the one result line a child answers with (the parent reads the last line starting with RESULT). */
export function answer(value: unknown): void {
  process.stdout.write(`RESULT ${JSON.stringify(value)}\n`);
}

export interface ChildOptions {
  readonly env?: Record<string, string | undefined>;
  readonly timeoutMs?: number;
  /** Called with each stderr line (progress). */
  readonly onLine?: (line: string) => void;
}

/** Runs a command whose last `RESULT {json}` line is its answer; rejects on a non-zero exit. */
export function runChild<T>(cmd: string, argv: string[], o: ChildOptions = {}): Promise<T> {
  return startChild<T>(cmd, argv, o).result;
}

/** Like runChild, with a way to stop the child early (SIGTERM: it answers, then exits). */
export function startChild<T>(cmd: string, argv: string[], o: ChildOptions = {}): { result: Promise<T>; stop(): void; pid: number } {
  let stop = () => {};
  let pid = 0;
  const result = new Promise<T>((resolve, reject) => {
    const child = spawn(cmd, argv, { cwd: REPO, env: { ...process.env, ...o.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      err += d;
      if (o.onLine) for (const l of d.split('\n')) if (l.trim()) o.onLine(l);
    });
    pid = child.pid ?? 0;
    stop = () => child.kill('SIGTERM');
    const timer = o.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), o.timeoutMs) : undefined;
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      const line = out.split('\n').reverse().find((l) => l.startsWith('RESULT '));
      if (code === 0 && line) {
        resolve(JSON.parse(line.slice(7)) as T);
        return;
      }
      reject(new Error(`${path.basename(argv[0] ?? cmd)} ${argv.slice(1).join(' ')} failed (${signal ?? `exit ${code}`}): ${err.slice(-2000)}`));
    });
  });
  return { result, stop: () => stop(), get pid() { return pid; } };
}

/** `node dist/scripts/bench/<group>/<name>.js args...` (script: "serving/load"...) */
export function runNode<T>(script: string, argv: string[], o: ChildOptions = {}): Promise<T> {
  return runChild<T>(process.execPath, [path.join(DIST, 'scripts', 'bench', `${script}.js`), ...argv], o);
}

export function startNode<T>(script: string, argv: string[], o: ChildOptions = {}) {
  return startChild<T>(process.execPath, [path.join(DIST, 'scripts', 'bench', `${script}.js`), ...argv], o);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Progress to stderr with the time since start. */
const t0 = Date.now();
export function log(msg: string): void {
  process.stderr.write(`[bench ${((Date.now() - t0) / 1000).toFixed(0).padStart(4)}s] ${msg}\n`);
}
