/**
 * Fresh embedded stores for the tests that need one but are not about creating one. Making a
 * PGlite data folder runs initdb inside WASM: about 2.8 s and 5.5 s of CPU here, against 0.45 s
 * to open a folder that exists. So the first caller in a test run makes one store (through
 * openStore, migrations included), closes it cleanly, and keeps the folder as a template; every
 * caller gets its own copy. A cleanly shut-down data folder copied file by file is a valid
 * PostgreSQL cluster, the same as a store reopened after a restart. The template lives in the
 * checkout's git-ignored test-artifacts/, keyed by the PGlite version and the migrations, so a
 * fresh clone makes its own. The store suite (pglite.test.ts) still starts from an empty folder.
 *
 * The template's postgresql.auto.conf sets shared_buffers to 16MB (the default is 128MB): the
 * tests' collections hold at most a few hundred rows, and PGlite zeroes its whole buffer pool in
 * WASM memory at every start, so this halves an opening (0.75 s of CPU to 0.4 s, measured here).
 * The product's default is unchanged; the store suite and every store a test makes from nothing
 * keep it.
 */
import { createHash } from 'node:crypto';
import { appendFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '../../src/paths';
import { openStore } from '../../src/store/open';
import { withLock } from './lock';

const MIGRATIONS = path.join(REPO_ROOT, 'src', 'store', 'migrations');
/** Appended to the template's postgresql.auto.conf (read at every start, like ALTER SYSTEM's). */
const TEST_SETTINGS = "shared_buffers = '16MB'\n";

function templateDir(): string {
  const h = createHash('sha256');
  h.update(readFileSync(path.join(REPO_ROOT, 'node_modules', '@electric-sql', 'pglite', 'package.json'))).update(TEST_SETTINGS);
  for (const f of readdirSync(MIGRATIONS).sort()) h.update(f).update(readFileSync(path.join(MIGRATIONS, f)));
  return path.join(REPO_ROOT, 'test-artifacts', `pglite-template-${h.digest('hex').slice(0, 12)}`);
}

async function ensureTemplate(): Promise<string> {
  const dir = templateDir();
  if (existsSync(dir)) return dir;
  return withLock('pglite-template', async () => {
    if (existsSync(dir)) return dir; // made while this process waited
    mkdirSync(path.dirname(dir), { recursive: true });
    const building = `${dir}.building-${process.pid}`;
    rmSync(building, { recursive: true, force: true });
    const store = await openStore({ CLIP_STORE: building, CLIP_STORE_POOL: 1, CLIP_STORE_EF_SEARCH: 40 });
    await store.close();
    appendFileSync(path.join(building, 'postgresql.auto.conf'), TEST_SETTINGS);
    renameSync(building, dir); // whole or not at all
    return dir;
  });
}

/** A new folder holding a migrated, empty embedded store; the caller removes it. */
export async function freshPgliteDir(prefix: string): Promise<string> {
  const template = await ensureTemplate();
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  cpSync(template, dir, { recursive: true });
  return dir;
}
