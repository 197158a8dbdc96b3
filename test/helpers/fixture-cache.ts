/**
 * Fixtures made once and reused by every later test file and run on this machine: a folder under
 * the system's temporary directory (os.tmpdir()/clipql-fixtures/NAME-KEY), where KEY is a sha256
 * of everything the folder is made from: the generator's source files (every Python file of
 * models/, test/reference/ and src/backends/torch/, since the scripts import each other), the
 * interpreter that runs it (its path and the name and version of every package it can import),
 * the input files' bytes and the arguments. Change any of them and the next run makes a new
 * folder; nothing is ever reused across a change of what made it.
 *
 * Only what third-party code or a generator computes is cached here (transformers' answers, a
 * seeded model, a file converted by torch), never an answer of the code a test checks: the tests
 * still run clipql on these fixtures every time.
 *
 * Making one is serialised across the test processes by a lock (npm test runs two files at
 * once): the first maker writes into NAME-KEY.tmp-PID and renames it into place when complete,
 * so a reader sees a whole folder or none. A cached folder is shared: callers must not write in it.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '../../src/paths';
import { withLock, withLockSync } from './lock';

export const FIXTURE_ROOT = path.join(os.tmpdir(), 'clipql-fixtures');

/** The folders whose Python files any generator may import. */
const SOURCE_DIRS = ['models', path.join('test', 'reference'), path.join('src', 'backends', 'torch')].map((d) => path.join(REPO_ROOT, d));

let sourcesDigest: string | undefined;
function pythonSources(): string {
  if (sourcesDigest) return sourcesDigest;
  const h = createHash('sha256');
  for (const dir of SOURCE_DIRS) {
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.py')).sort()) h.update(f).update(readFileSync(path.join(dir, f)));
  }
  return (sourcesDigest = h.digest('hex'));
}

const interpreters = new Map<string, string>();
/** An interpreter's identity: its real path, version, and every importable distribution with its version. */
export function pythonIdentity(python: string): string {
  let id = interpreters.get(python);
  if (id === undefined) {
    const script = 'import sys, importlib.metadata as m; print(sys.version); print(sorted(set((d.metadata["Name"] or "?", d.version) for d in m.distributions())))';
    id = `${realpathSync(python)}\n${execFileSync(python, ['-c', script], { encoding: 'utf8', timeout: 60_000 })}`;
    interpreters.set(python, id);
  }
  return id;
}

/** Every file under `dir`, sorted (for FixtureInputs.files). */
export function filesIn(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
}

export interface FixtureInputs {
  /** Interpreters the generator runs (their identities enter the key). */
  readonly pythons?: readonly string[];
  /** Files read by the generator (their bytes enter the key). */
  readonly files?: readonly string[];
  /** Anything else that decides the result: arguments, inline scripts. */
  readonly args?: readonly unknown[];
}

function fixtureDir(name: string, inputs: FixtureInputs): string {
  const h = createHash('sha256').update(name).update(pythonSources());
  for (const p of inputs.pythons ?? []) h.update(pythonIdentity(p));
  for (const f of inputs.files ?? []) h.update(f).update(readFileSync(f));
  h.update(JSON.stringify(inputs.args ?? []));
  return path.join(FIXTURE_ROOT, `${name}-${h.digest('hex').slice(0, 16)}`);
}

function prepare(dir: string): string {
  mkdirSync(FIXTURE_ROOT, { recursive: true });
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  return tmp;
}

/** The folder `make(tmp)` fills (made once for these inputs, then reused). */
export async function cachedFixture(name: string, inputs: FixtureInputs, make: (dir: string) => Promise<void>): Promise<string> {
  const dir = fixtureDir(name, inputs);
  if (existsSync(dir)) return dir;
  return withLock(`fixture-${path.basename(dir)}`, async () => {
    if (existsSync(dir)) return dir; // made while this process waited
    const tmp = prepare(dir);
    try {
      await make(tmp);
      renameSync(tmp, dir);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
    return dir;
  });
}

/** cachedFixture for generators run with execFileSync. */
export function cachedFixtureSync(name: string, inputs: FixtureInputs, make: (dir: string) => void): string {
  const dir = fixtureDir(name, inputs);
  if (existsSync(dir)) return dir;
  return withLockSync(`fixture-${path.basename(dir)}`, () => {
    if (existsSync(dir)) return dir;
    const tmp = prepare(dir);
    try {
      make(tmp);
      renameSync(tmp, dir);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
    return dir;
  });
}
