/**
 * How a torch worker process is launched: through a fork server (fork_server.py) that has
 * imported torch once, or directly. One fork server per interpreter, worker folder and
 * environment in this process, shared by every torch backend here (several models, restarts), started on the first
 * launch and kept while it lives; it ends with this process (its stdin closes, and Linux's
 * parent-death signal).
 *
 * Contract: `launcher()` never fails. When the fork server cannot start (no such interpreter, no
 * torch, anything else), it answers the direct launch, so that the worker itself reports the
 * cause exactly as without a fork server (worker.py's FATAL frames), and the next launch tries
 * the fork server again. Either way WorkerProcess spawns `command args... SCRIPT ARGS...` with
 * three pipes and sees a process that is the worker to it: its pipes, exit status and signals.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { rmdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../backend';
import { DEFAULT_WORKER_SCRIPT } from './settings';

const HERE = path.dirname(DEFAULT_WORKER_SCRIPT);
const FORK_SERVER = path.join(HERE, 'fork_server.py');
const FORK_CLIENT = path.join(HERE, 'fork_client.py');

/** The program and the arguments before the worker script's own path. */
export interface Launcher {
  readonly command: string;
  readonly args: readonly string[];
  /** Through a fork server (the process spawned is fork_client.py). */
  readonly forked: boolean;
}

interface Running {
  readonly child: ChildProcessWithoutNullStreams;
  readonly socket: string;
}

const servers = new Map<string, Promise<Running | undefined>>();

/**
 * Variables that never change torch: libvips (through sharp) sets VIPSHOME in this process's
 * own environment when it loads, so a configuration read before sharp loaded and one read after
 * would otherwise differ by it and start a second fork server.
 */
const IGNORED = new Set(['VIPSHOME']);

/**
 * The fork server's key: the interpreter, the worker script's folder (whose modules it preloads),
 * and the environment without clipql's own settings
 * (CLIP_*: the worker reads its settings from its arguments), since the environment at import
 * time can change torch (OMP_*, MKL_*, LD_*, PYTORCH_*...). The worker itself always runs with the
 * exact environment it was given.
 */
function key(python: string, dir: string, env: NodeJS.ProcessEnv): string {
  const kept = Object.entries(env).filter(([k, v]) => v !== undefined && !k.startsWith('CLIP_') && !IGNORED.has(k));
  return JSON.stringify([python, dir, kept.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))]);
}

export function directLauncher(python: string): Launcher {
  return { command: python, args: ['-u'], forked: false };
}

/** How to launch `script` (a worker) with `python` and `env`: through a fork server, or directly (above). */
export async function launcher(python: string, script: string, env: NodeJS.ProcessEnv, startTimeoutMs: number, log?: Logger): Promise<Launcher> {
  const dir = path.dirname(path.resolve(script));
  const k = key(python, dir, env);
  let entry = servers.get(k);
  if (!entry) {
    entry = start(python, dir, env, startTimeoutMs, log, () => {
      if (servers.get(k) === entry) servers.delete(k);
    });
    servers.set(k, entry);
  }
  const running = await entry;
  // `-I -S`: the client imports nothing from the environment or site-packages (milliseconds).
  return running ? { command: python, args: ['-I', '-S', FORK_CLIENT, running.socket], forked: true } : directLauncher(python);
}

/**
 * Ends every fork server of this process and waits until each is gone, reaped by this process: the
 * last step of a process's shutdown, after its backends are disposed (a fork server kills and
 * reaps any worker it still has before it exits). Without it a fork server still ends with this
 * process, but as an orphan that only init can reap. A later launch starts a new one.
 */
export async function stopForkServers(graceMs = 5000): Promise<void> {
  const all = [...servers.values()];
  servers.clear();
  await Promise.all(
    all.map(async (entry) => {
      const r = await entry;
      if (!r || r.child.exitCode !== null || r.child.signalCode !== null) return;
      const gone = new Promise<void>((resolve) => r.child.once('exit', () => resolve()));
      r.child.stdin.end(); // its signal to end
      const timer = setTimeout(() => r.child.kill('SIGKILL'), graceMs);
      await gone;
      clearTimeout(timer);
    }),
  );
}

function start(python: string, dir: string, env: NodeJS.ProcessEnv, startTimeoutMs: number, log: Logger | undefined, gone: () => void): Promise<Running | undefined> {
  return new Promise((resolve) => {
    let child: ChildProcessWithoutNullStreams;
    try {
      child = spawn(python, ['-u', FORK_SERVER, dir], { stdio: ['pipe', 'pipe', 'pipe'], env });
    } catch {
      gone();
      resolve(undefined);
      return;
    }
    let out = '';
    /** Its socket, once it said "ready PATH". */
    let socket: string | undefined;
    let lastErr = '';
    let settled = false;
    const settle = (r: Running | undefined, why?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      // Once it answered, it must not keep this process alive: it ends when our end of its stdin
      // closes. (While it starts, a launch is waiting on it, and so is this process.)
      child.unref();
      for (const s of [child.stdin, child.stdout, child.stderr]) (s as unknown as { unref?: () => void }).unref?.();
      if (!r) {
        gone();
        child.kill('SIGKILL');
        log?.info({ backend: 'torch', python, reason: why }, 'torch fork server unavailable: starting workers directly');
      }
      resolve(r);
    };
    const timer = setTimeout(() => settle(undefined, `not ready within ${startTimeoutMs} ms`), startTimeoutMs);
    timer.unref();
    child.on('error', (e) => settle(undefined, e.message));
    child.on('exit', (code, signal) => {
      gone();
      // Its socket's private folder, which it removes itself unless it was killed.
      if (socket !== undefined && path.basename(socket) === 'fork.sock') {
        try {
          rmSync(socket, { force: true });
          rmdirSync(path.dirname(socket));
        } catch {
          // not empty, or already removed: leave it
        }
      }
      settle(undefined, `exit ${signal ?? code}${lastErr ? `: ${lastErr}` : ''}`);
    });
    child.stdin.on('error', () => undefined);
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (text: string) => {
      for (const line of text.split('\n')) {
        if (!line.trim()) continue;
        lastErr = line.trim();
        if (settled) log?.info({ backend: 'torch', pid: child.pid, stderr: lastErr }, 'torch fork server stderr');
      }
    });
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (text: string) => {
      if (socket !== undefined) return;
      out += text;
      socket = /^ready (.+)\n/.exec(out)?.[1];
      if (socket !== undefined) settle({ child, socket });
    });
  });
}
