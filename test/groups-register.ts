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
 */
import path from 'node:path';
import { after, before, describe } from 'node:test';

function restore(saved: NodeJS.ProcessEnv): void {
  for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
  for (const [k, v] of Object.entries(saved)) if (process.env[k] !== v) process.env[k] = v;
}

export function register(root: string, files: readonly string[]): void {
  const base = { ...process.env };
  for (const file of files) {
    describe(path.relative(root, file), () => {
      restore(base);
      before(() => restore(loaded));
      require(file); // its test(), describe() and hooks attach to this suite
      const loaded = { ...process.env };
      restore(base); // the next file loads in the process's own environment
      after(() => restore(base));
    });
  }
}
