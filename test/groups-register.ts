/**
 * Several test files in one process (test/run.ts): each file is required inside a suite of its
 * own, named after it, so that its top-level tests, suites and hooks (before, after, beforeEach)
 * belong to that suite and run as they would in a process of their own, one file after another.
 *
 * What the files share is what a long-running server shares: loaded modules and their caches
 * (compiled code, PGlite's WebAssembly, a torch fork server, fixtures already made). What they
 * must not share is the environment a file sets for itself: each file runs in the environment the
 * process started with plus what the file itself set at load time, and process.env is put back to
 * the process's own once the file's last hook has run.
 *
 * CLIPQL_TEST_TIMES=FILE appends a line per test file: its name, seconds of wall time and of
 * this process's CPU (its threads included) and of its child processes' (those that ended and
 * were reaped, from /proc/self/stat), from its first hook to its last.
 */
import { appendFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe } from 'node:test';

/** CPU seconds of this process's reaped children (Linux; 0 elsewhere). */
function childrenCpu(): number {
  try {
    const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
    return (Number(fields[13]) + Number(fields[14])) / 100; // cutime, cstime (fields 16, 17), in clock ticks
  } catch {
    return 0;
  }
}

function restore(saved: NodeJS.ProcessEnv): void {
  for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
  for (const [k, v] of Object.entries(saved)) if (process.env[k] !== v) process.env[k] = v;
}

export function register(root: string, files: readonly string[]): void {
  const base = { ...process.env };
  for (const file of files) {
    describe(path.relative(root, file), () => {
      let start: [number, NodeJS.CpuUsage, number] = [0, { user: 0, system: 0 }, 0];
      before(() => {
        restore(loaded);
        start = [performance.now(), process.cpuUsage(), childrenCpu()];
      });
      require(file); // its test(), describe() and hooks attach to this suite
      const loaded = { ...process.env };
      restore(base); // the next file loads in the process's own environment
      after(() => {
        restore(base);
        const log = process.env.CLIPQL_TEST_TIMES;
        if (!log) return;
        const cpu = process.cpuUsage(start[1]);
        appendFileSync(log, `${path.relative(root, file)}\t${((performance.now() - start[0]) / 1000).toFixed(2)}\t${((cpu.user + cpu.system) / 1e6).toFixed(2)}\t${(childrenCpu() - start[2]).toFixed(2)}\n`);
      });
    });
  }
}
