/**
 * The command line as README shows it: the real `npx clipql`, in the checkout, after a build.
 * `npm run build` (rm -rf dist && tsc) writes dist/src/cli/main.js without an executable bit,
 * which broke `npx clipql` ("Permission denied") once npx had linked it. The test puts the file
 * in exactly that state (mode 0644, what tsc leaves) between two runs of npx, then indexes a
 * folder through npx; the stored count is checked against the files written here.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../../src/paths';
import { patternImage } from '../helpers/images';
import { freshPgliteDir } from '../helpers/pglite';
import { BPE_VOCAB } from '../helpers/shared';

const pkg = require(path.join(REPO_ROOT, 'package.json')) as { bin: Record<string, string> };
const tmp = mkdtempSync(path.join(os.tmpdir(), 'clipql-npx-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/**
 * `npx --no -- clipql ARGS` in the checkout (--no: never download a package of that name), with
 * an npm cache of its own: npx links a project's bin into its cache once and keeps that link,
 * so a fresh cache is what a new user has (and the test does not depend on ~/.npm).
 */
function npx(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string; err: string }> {
  return promisify(execFile)('npx', ['--no', '--', 'clipql', ...args], { cwd: REPO_ROOT, env: { ...process.env, npm_config_cache: path.join(tmp, 'npm-cache'), CLIP_VOCAB: BPE_VOCAB(), ...env }, timeout: 120_000 }).then(
    (r) => ({ code: 0, out: r.stdout, err: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout, err: e.stderr }),
  );
}

test('the bin is a committed launcher, executable, outside dist/', () => {
  const bin = path.join(REPO_ROOT, pkg.bin.clipql);
  assert.ok(!pkg.bin.clipql.startsWith('dist/'), `package.json bin ${pkg.bin.clipql} is rebuilt by npm run build`);
  assert.ok((statSync(bin).mode & 0o111) !== 0, `${bin} is not executable`);
});

test('npx clipql --help, before and after a build leaves dist/src/cli/main.js without its executable bit', { timeout: 240_000 }, async () => {
  const first = await npx(['--help']);
  assert.equal(first.code, 0, first.err);
  assert.match(first.out, /usage: clipql similarity/);
  assert.match(first.out, /usage: clipql index/);
  chmodSync(path.join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js'), 0o644);
  const again = await npx(['--help']);
  assert.equal(again.code, 0, again.err);
  assert.match(again.out, /clipql search NAME CAPTION/);
});

test('npx clipql index: a folder into a collection of the embedded store', { timeout: 240_000 }, async () => {
  const folder = path.join(tmp, 'photos');
  mkdirSync(path.join(folder, 'nested'), { recursive: true });
  writeFileSync(path.join(folder, 'a.png'), await patternImage(11));
  writeFileSync(path.join(folder, 'nested', 'b.jpg'), await patternImage(12, 'jpeg'));
  writeFileSync(path.join(folder, 'notes.txt'), 'not an image');
  const store = await freshPgliteDir('clipql-npx-store-');
  try {
    const r = await npx(['index', folder, '--collection', 'photos', '--store', store]);
    assert.equal(r.code, 0, r.err);
    const summary = JSON.parse(r.out.trim().split('\n').pop()!) as { collection: string; stored: number; bad: number };
    assert.equal(summary.collection, 'photos');
    assert.equal(summary.stored, 2, r.err);
  } finally {
    rmSync(store, { recursive: true, force: true });
  }
});
