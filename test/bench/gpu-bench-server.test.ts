/**
 * The GPU benchmark's end-to-end stages on a machine where node_modules did not travel
 * (scripts/gpu-bench/server.py's missing()): a copy of the project's layout with a built server
 * but no packages must name every package the server and the load generator need, not start a
 * server that dies on its first import. The expected list is package.json's dependencies read
 * here, less onnxruntime-node (the torch backend never loads it), plus autocannon (e2e.js's load).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '../../src/paths';
import { venvPython } from '../helpers/python';

function missing(root: string): string {
  const code = `import sys; sys.path.insert(0, ${JSON.stringify(path.join(root, 'scripts', 'gpu-bench'))}); import server; print(server.missing(${JSON.stringify(process.execPath)}))`;
  const p = spawnSync(venvPython(), ['-c', code], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(p.status, 0, p.stderr);
  return p.stdout.trim();
}

test('missing(): a tree without node_modules names each package it lacks; with them all, nothing', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'clipql-missing-'));
  const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  fs.copyFileSync(path.join(REPO_ROOT, 'package.json'), path.join(root, 'package.json'));
  for (const f of ['dist/src/server/main.js', 'dist/scripts/gpu-bench/e2e.js']) {
    fs.mkdirSync(path.dirname(path.join(root, f)), { recursive: true });
    fs.writeFileSync(path.join(root, f), '');
  }
  fs.mkdirSync(path.join(root, 'scripts', 'gpu-bench'), { recursive: true });
  fs.copyFileSync(path.join(REPO_ROOT, 'scripts', 'gpu-bench', 'server.py'), path.join(root, 'scripts', 'gpu-bench', 'server.py'));
  const needed = [...Object.keys(pkg.dependencies).filter((d) => d !== 'onnxruntime-node'), 'autocannon'];
  assert.ok(needed.includes('@apollo/server') && needed.includes('sharp'));

  const none = missing(root);
  assert.match(none, /^node_modules lacks /);
  assert.deepEqual(none.replace(/^node_modules lacks /, '').replace(/: run .*$/, '').split(', ').sort(), [...needed].sort());

  const install = (names: string[]) => {
    for (const d of names) {
      fs.mkdirSync(path.join(root, 'node_modules', d), { recursive: true });
      fs.writeFileSync(path.join(root, 'node_modules', d, 'package.json'), JSON.stringify({ name: d }));
    }
  };
  install(needed.filter((d) => d !== 'sharp'));
  assert.match(missing(root), /^node_modules lacks sharp: run /);
  install(['sharp']);
  assert.equal(missing(root), 'None');
  fs.rmSync(path.join(root, 'dist', 'src', 'server', 'main.js'));
  assert.match(missing(root), /dist\/src\/server\/main\.js is missing: run `npm run build`/);
  fs.rmSync(root, { recursive: true, force: true });
});
