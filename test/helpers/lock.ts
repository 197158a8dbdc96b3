/**
 * A lock across the test processes (npm test runs two files at once): a directory made
 * atomically under the system's temporary folder, holding its owner's pid; a dead owner's lock is
 * taken over. The synchronous form blocks its thread while it waits (for set-up done with
 * execFileSync); the asynchronous one lets the event loop run (for set-up that is itself async).
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const WAIT_MS = 600_000;
const NAP_MS = 100;

/** Takes the lock if it is free (or its owner is dead); false when another live process holds it. */
function tryTake(dir: string): boolean {
  try {
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'pid'), String(process.pid));
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    if (!ownerAlive(dir)) rmSync(dir, { recursive: true, force: true });
    return false;
  }
}

function ownerAlive(dir: string): boolean {
  let pid: number;
  try {
    pid = Number(readFileSync(path.join(dir, 'pid'), 'utf8'));
  } catch {
    return true; // just made, pid not written yet
  }
  if (!Number.isInteger(pid) || pid <= 0) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const lockDir = (name: string) => path.join(os.tmpdir(), `clipql-test-${name}.lock`);

export function withLockSync<T>(name: string, fn: () => T): T {
  const dir = lockDir(name);
  const deadline = Date.now() + WAIT_MS;
  const nap = new Int32Array(new SharedArrayBuffer(4));
  while (!tryTake(dir)) {
    if (Date.now() > deadline) throw new Error(`waited 10 minutes for ${dir}`);
    Atomics.wait(nap, 0, 0, NAP_MS);
  }
  try {
    return fn();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const dir = lockDir(name);
  const deadline = Date.now() + WAIT_MS;
  while (!tryTake(dir)) {
    if (Date.now() > deadline) throw new Error(`waited 10 minutes for ${dir}`);
    await sleep(NAP_MS);
  }
  try {
    return await fn();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
