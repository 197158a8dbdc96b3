/**
 * Starts the servers under test as child processes: clipql (`node dist/src/server/main.js`, the
 * same as `npm start` after the build) and the Transformers.js peer (peer-server.ts). Each listens
 * on a free loopback port; `rssKiB` reads the process's VmRSS from /proc.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { EVENT_LOOP_RESOLUTION_MS } from '../../../src/server/metrics';
import { DIST, REPO } from '../common';

export interface RunningServer {
  readonly url: string;
  readonly pid: number;
  rssKiB(): number;
  /**
   * The server's own event-loop delay p99 (ms) since the previous call (perf_hooks'
   * monitorEventLoopDelay, reset by each read): clipql's /metrics, the peer's /loop.
   */
  loopDelayP99(): Promise<number>;
  stop(): Promise<void>;
}

function waitFor(child: ChildProcess, what: string, match: (line: string) => number | undefined, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let buf = '';
    let err = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${what} did not start within ${timeoutMs / 1000} s: ${err.slice(-1500)}`));
    }, timeoutMs);
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      for (const line of buf.split('\n')) {
        const port = match(line);
        if (port !== undefined) {
          clearTimeout(timer);
          buf = '';
          child.stdout!.resume();
          child.stdout!.removeAllListeners('data');
          child.stdout!.on('data', () => {});
          resolve(port);
          return;
        }
      }
      buf = buf.slice(buf.lastIndexOf('\n') + 1);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with code ${code} before listening: ${(err + buf).slice(-1500)}`));
    });
  });
}

function running(child: ChildProcess, port: number, loop: (url: string) => Promise<number>): RunningServer {
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    loopDelayP99: () => loop(url).catch(() => NaN),
    pid: child.pid!,
    rssKiB: () => {
      const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      return m ? Number(m[1]) : NaN;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 15_000).unref();
      }),
  };
}

/**
 * clipql with the given environment on top of the bench's (CLIP_MODEL, PORT and HOST are set
 * here). `o.nodeArgs` go to node before the script (--cpu-prof, which NODE_OPTIONS refuses);
 * `o.main`: another build's dist/src/server/main.js (a side-by-side comparison), else this one's.
 */
export async function startClipql(modelDir: string, env: Record<string, string> = {}, o: { nodeArgs?: string[]; main?: string } = {}): Promise<RunningServer> {
  const child = spawn(process.execPath, [...(o.nodeArgs ?? []), o.main ?? path.join(DIST, 'src', 'server', 'main.js')], {
    cwd: REPO,
    env: { ...process.env, LOG_LEVEL: 'info', ...env, CLIP_MODEL: modelDir, PORT: '0', HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const port = await waitFor(
    child,
    'clipql',
    (line) => {
      if (!line.includes('"listening"')) return undefined;
      return (JSON.parse(line) as { port: number }).port;
    },
    600_000,
  );
  // prom-client's event-loop lag gauges cover the time since the previous scrape; like Node's
  // monitorEventLoopDelay under them, they record the time between ticks, so the delay is the
  // reading minus the tick.
  return running(child, port, async (u) => {
    const m = /^clipql_process_nodejs_eventloop_lag_p99_seconds(?:\{[^}]*\})? (\S+)$/m.exec(await (await fetch(`${u}/metrics`)).text());
    return m ? Math.max(0, Number(m[1]) * 1000 - EVENT_LOOP_RESOLUTION_MS) : NaN;
  });
}

/**
 * The peer runs at the niceness of clipql's inference threads (CLIP_ONNX_NICE, default 10): on a
 * shared machine a lower priority yields cores to other processes, and both sides' inference must
 * compete for them on equal terms (Transformers.js infers on its main thread, so the whole process
 * is niced; its HTTP handling is small beside inference).
 */
export async function startPeer(modelDir: string): Promise<RunningServer> {
  const nice = String(Number(process.env.CLIP_ONNX_NICE ?? 10));
  const child = spawn('nice', ['-n', nice, process.execPath, path.join(DIST, 'scripts', 'bench', 'serving', 'peer-server.js'), '--model', modelDir], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  const port = await waitFor(child, 'the Transformers.js peer', (line) => (/^listening (\d+)/.exec(line) ? Number(/^listening (\d+)/.exec(line)![1]) : undefined), 600_000);
  return running(child, port, async (u) => Math.max(0, ((await (await fetch(`${u}/loop`)).json()) as { p99: number }).p99 - EVENT_LOOP_RESOLUTION_MS));
}

/**
 * CPU time (core-ms) of a server's threads since boot, from /proc/<pid>/task/<tid>/stat, split
 * into the main thread (the event loop), the threads with a positive niceness (onnxruntime's: see
 * CLIP_ONNX_NICE) and the rest (preprocessing thread, sharp/libuv threads, GC helpers).
 */
export function cpuSplit(pid: number): { main: number; inference: number; other: number } {
  const out = { main: 0, inference: 0, other: 0 };
  const tick = 10; // ms per clock tick (USER_HZ = 100 on Linux)
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // the thread ended
    }
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After the name: state is field 3, utime 14, stime 15, nice 19 (1-based in proc(5)).
    const ms = (Number(f[11]) + Number(f[12])) * tick;
    const nice = Number(f[16]);
    if (Number(tid) === pid) out.main += ms;
    else if (nice > 0) out.inference += ms;
    else out.other += ms;
  }
  return out;
}
