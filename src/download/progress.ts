/**
 * Download progress on stderr: a bar redrawn in place on a terminal, plain lines otherwise (CI logs,
 * pipes), so a log never fills with carriage returns.
 *
 *   TTY:    [2/9] onnx/vision_model.onnx  [#########-----------]  45%  551.2 MB / 1.22 GB  23.4 MB/s  ETA 0:29
 *   lines:  [2/9] onnx/vision_model.onnx: 45% 551.2 MB / 1.22 GB, 23.4 MB/s, ETA 0:29
 *
 * The rate is measured over the last few seconds (bytes resumed from a partial file do not count).
 */

/** What the downloader reports; every method is cheap and never throws. */
export interface Progress {
  /** A file starts (or restarts): `offset` bytes are already there (a resumed download). */
  start(file: { label: string; index: number; count: number; total: number | undefined; offset: number }): void;
  /** Cumulative bytes of the current file, resumed bytes included. */
  update(bytes: number): void;
  /** The current file is complete and verified. */
  done(bytes: number): void;
  /** A line of its own (retries, skipped files), printed without breaking the bar. */
  note(message: string): void;
}

export const silentProgress: Progress = { start() {}, update() {}, done() {}, note() {} };

export interface ProgressStream {
  write(s: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressOptions {
  /** Redraw in place (default: stream.isTTY). */
  readonly tty?: boolean;
  /** Minimum time between redraws on a terminal (default 100 ms). */
  readonly redrawMs?: number;
  /** Minimum time between plain lines (default 5 s); a line is also printed at every 25%. */
  readonly lineMs?: number;
  readonly now?: () => number;
}

const RATE_WINDOW_MS = 5_000;

export function createProgress(stream: ProgressStream, options: ProgressOptions = {}): Progress {
  const tty = options.tty ?? stream.isTTY === true;
  const now = options.now ?? Date.now;
  const redrawMs = options.redrawMs ?? 100;
  const lineMs = options.lineMs ?? 5_000;
  let file: { label: string; index: number; count: number; total: number | undefined; offset: number } | undefined;
  let samples: Array<[number, number]> = [];
  let bytes = 0;
  let lastDraw = 0;
  let lastQuarter = 0;
  let barShown = false;

  const prefix = () => (file ? `[${file.index}/${file.count}] ${file.label}` : '');
  const rate = (): number | undefined => {
    if (samples.length < 2) return undefined;
    const [t0, b0] = samples[0]!;
    const [t1, b1] = samples[samples.length - 1]!;
    return t1 > t0 ? ((b1 - b0) * 1000) / (t1 - t0) : undefined;
  };
  const stats = () => {
    const r = rate();
    const total = file?.total;
    const pct = total ? Math.floor((bytes / total) * 100) : undefined;
    const eta = total && r && r > 0 ? (total - bytes) / r : undefined;
    return { r, total, pct, eta };
  };
  const clearBar = () => {
    if (barShown) stream.write('\r\x1b[K');
    barShown = false;
  };
  const draw = (force: boolean) => {
    const t = now();
    if (!force && t - lastDraw < redrawMs) return;
    lastDraw = t;
    const { r, total, pct, eta } = stats();
    const size = total ? `${formatBytes(bytes)} / ${formatBytes(total)}` : formatBytes(bytes);
    const speed = r !== undefined ? `${formatBytes(r)}/s` : '';
    const left = eta !== undefined ? `ETA ${formatDuration(eta)}` : '';
    const width = 20;
    const filled = pct !== undefined ? Math.min(width, Math.round((pct / 100) * width)) : 0;
    const bar = pct !== undefined ? `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(pct).padStart(3)}%` : '';
    let line = [prefix(), bar, size, speed, left].filter(Boolean).join('  ');
    const cols = stream.columns ?? 100;
    if (line.length > cols - 1) line = line.slice(0, cols - 1);
    stream.write(`\r\x1b[K${line}`);
    barShown = true;
  };
  const printLine = (force: boolean) => {
    const t = now();
    const { r, total, pct, eta } = stats();
    const quarter = pct !== undefined ? Math.floor(pct / 25) : 0;
    if (!force && t - lastDraw < lineMs && quarter <= lastQuarter) return;
    lastDraw = t;
    lastQuarter = quarter;
    const parts = [total ? `${pct}% ${formatBytes(bytes)} / ${formatBytes(total)}` : formatBytes(bytes)];
    if (r !== undefined) parts.push(`${formatBytes(r)}/s`);
    if (eta !== undefined) parts.push(`ETA ${formatDuration(eta)}`);
    stream.write(`${prefix()}: ${parts.join(', ')}\n`);
  };

  return {
    start(f) {
      clearBar();
      file = f;
      bytes = f.offset;
      samples = [[now(), f.offset]];
      lastDraw = 0;
      lastQuarter = 0;
      if (tty) draw(true);
      else stream.write(`${prefix()}: ${f.offset ? `resuming at ${formatBytes(f.offset)} of ` : ''}${f.total !== undefined ? formatBytes(f.total) : 'size unknown'}\n`);
    },
    update(b) {
      bytes = b;
      const t = now();
      samples.push([t, b]);
      while (samples.length > 2 && t - samples[0]![0] > RATE_WINDOW_MS) samples.shift();
      if (tty) draw(false);
      else printLine(false);
    },
    done(b) {
      bytes = b;
      if (tty) {
        draw(true);
        stream.write('\n');
        barShown = false;
      } else {
        stream.write(`${prefix()}: done, ${formatBytes(b)}\n`);
      }
      file = undefined;
    },
    note(message) {
      clearBar();
      stream.write(`${message}\n`);
      if (tty && file) draw(true);
    },
  };
}

/** Decimal units, as the Hugging Face hub shows sizes: 1.22 GB, 862 kB. */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return '?';
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return i === 0 ? `${Math.round(v)} B` : `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)} ${units[i]}`;
}

/** m:ss, or h:mm:ss from an hour on. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}
