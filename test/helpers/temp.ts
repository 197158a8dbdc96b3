/**
 * Temporary folders for tests: made under the system's temporary directory and removed when the
 * test process exits (each test file runs in its own process), pass or fail, so that a run
 * leaves nothing behind in $TMPDIR.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const made: string[] = [];
process.once('exit', () => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** A fresh folder named PREFIX + random characters, removed at exit. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(dir);
  return dir;
}
