/** The command-line entry, run as users run it (a child process). */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../../src/paths';
import { assertClose, tinyReference } from '../helpers/reference';
import { BPE_VOCAB, notebook } from '../helpers/shared';

const CLI = path.join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');
const run = (args: string[]) =>
  promisify(execFile)(process.execPath, [CLI, ...args], { env: { ...process.env, CLIP_VOCAB: BPE_VOCAB() } }).then(
    (r) => ({ code: 0, out: r.stdout }),
    (e: { code: number; stdout: string }) => ({ code: e.code, out: e.stdout }),
  );

test('clipql similarity prints the reference matrix (JSON) and a table', async () => {
  const items = notebook();
  const args = ['similarity', '--model', path.join(REPO_ROOT, 'models', 'tiny-clip-336'), ...items.map((i) => i.path), ...items.flatMap((i) => ['--caption', i.caption]), '--prefix', 'It is '];
  const json = await run([...args, '--json']);
  assert.equal(json.code, 0, json.out);
  const parsed = JSON.parse(json.out) as { scores: number[][]; randomWeights: boolean };
  assertClose(parsed.scores, tinyReference().similarity, 1e-5, 'cli scores');
  assert.equal(parsed.randomWeights, true);
  const table = await run(args);
  assert.equal(table.code, 0);
  assert.match(table.out, /warning: tiny-clip-336 has seeded random weights/);
  assert.match(table.out, /It is a facial photo of a tabby cat +\| /);
  assert.equal(table.out.trim().split('\n').length, 1 + 2 + 8);
});

test('clear errors: unreadable image, no captions, broken bundle, usage', async () => {
  const img = notebook()[0].path;
  const missing = await run(['similarity', '/nonexistent.png', '--caption', 'x']);
  assert.equal(missing.code, 1);
  assert.match(missing.out, /^error \[BAD_IMAGE\]: \/nonexistent\.png: cannot be read \(ENOENT\)/);
  const corrupt = await run(['similarity', path.join(REPO_ROOT, 'package.json'), '--caption', 'x']);
  assert.match(corrupt.out, /^error \[BAD_IMAGE\]/);
  const noCaptions = await run(['similarity', img]);
  assert.equal(noCaptions.code, 1);
  assert.match(noCaptions.out, /^error \[BAD_USER_INPUT\]: no captions given/);
  const badModel = await run(['similarity', '--model', '/nonexistent/model', img, '--caption', 'x']);
  assert.match(badModel.out, /^error \[BAD_MODEL\]: \/nonexistent\/model: model bundle folder does not exist/);
  const usage = await run(['frobnicate']);
  assert.equal(usage.code, 2);
  assert.match(usage.out, /usage: clipql similarity/);
});
