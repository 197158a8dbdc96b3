/**
 * One HEIC decoded by heic-decode (libheif 1.23 in WebAssembly, in this process) and by Debian's
 * native `heif-convert FILE out.y4m` (libheif 1.15 + libde265; Y4M is near-free to write), in
 * turn, `runs` times: wall and CPU time of each (CPU: this process's for heic-decode, the child's
 * user + sys from /usr/bin/time for heif-convert). Not a test.
 *
 *   node dist/scripts/bench/preprocess/heic-decode.js FILE.heic [--runs 3]
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import decodeHeif from 'heic-decode';
import { answer, args } from '../common';

export interface HeicRun {
  readonly run: number;
  readonly wasmWallMs: number;
  readonly wasmCpuMs: number;
  readonly nativeWallMs: number;
  readonly nativeCpuMs: number;
}

export async function heicTimes(file: string, runs: number): Promise<HeicRun[]> {
  const bytes = fs.readFileSync(file);
  const out = path.join(os.tmpdir(), `clipql-heic-${process.pid}.y4m`);
  const rows: HeicRun[] = [];
  for (let run = 0; run < runs; run++) {
    let t = performance.now();
    const c0 = process.cpuUsage();
    await decodeHeif({ buffer: bytes });
    const cpu = process.cpuUsage(c0);
    const wasmWallMs = performance.now() - t;
    t = performance.now();
    const r = spawnSync('/usr/bin/time', ['-f', '%U %S', 'heif-convert', file, out], { encoding: 'utf8' });
    const nativeWallMs = performance.now() - t;
    if (r.status !== 0) throw new Error(`heif-convert failed: ${r.stderr}`);
    const [u, s] = r.stderr.trim().split('\n').pop()!.split(' ').map(Number);
    rows.push({ run, wasmWallMs, wasmCpuMs: (cpu.user + cpu.system) / 1000, nativeWallMs, nativeCpuMs: (u + s) * 1000 });
    process.stderr.write(`${JSON.stringify(rows.at(-1))}\n`);
  }
  fs.rmSync(out, { force: true });
  return rows;
}

if (require.main === module) {
  const a = args(process.argv.slice(3));
  heicTimes(process.argv[2], Number(a.runs ?? 3)).then(answer, (e: unknown) => {
    process.stderr.write(`${(e as Error).stack}\n`);
    process.exit(1);
  });
}
