/**
 * `npm test`'s grouping (test/run.ts): every test file outside the suites kept apart runs in
 * exactly one group, and a folder of tests that no group names stops the run instead of being
 * left out. Expected lists are read from the file tree here, not from the runner.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { groupFiles } from '../run';

const DIST_TEST = path.join(__dirname, '..');

test('every test file of dist/test outside load/, web/ and bench/ is in exactly one group', () => {
  const want = readdirSync(DIST_TEST, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.test.js'))
    .map((e) => path.join(e.parentPath, e.name))
    .filter((f) => !/^(load|web|bench|groups)\//.test(path.relative(DIST_TEST, f)))
    .sort();
  const got = [...groupFiles().values()].flat().sort();
  assert.ok(want.length > 50, `${want.length} test files found`);
  assert.deepEqual(got, want);
});

test('a folder of tests that no group names stops the run, naming it', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'clipql-groups-'));
  try {
    for (const [dir, file] of [['store', 'a.test.js'], ['load', 'b.test.js'], ['helpers', 'c.js'], ['newfolder', 'd.test.js']]) {
      mkdirSync(path.join(root, dir), { recursive: true });
      writeFileSync(path.join(root, dir, file), '');
    }
    assert.throws(() => groupFiles(root), /test\/newfolder holds tests but is in no group of test\/run\.ts/);
    rmSync(path.join(root, 'newfolder'), { recursive: true });
    const groups = groupFiles(root);
    assert.deepEqual([...groups.values()].flat(), [path.join(root, 'store', 'a.test.js')], 'load/ is kept apart; helpers/ holds no tests');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
