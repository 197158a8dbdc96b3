/**
 * The folders follow the data flow (README "How it works"), and imports follow it too: a stage
 * imports earlier stages and the neutral modules (errors, paths, config, control), never a later
 * stage, with two exceptions: the batcher calls the backends through their contract file,
 * backends/backend.ts (the extension point), and nothing else of theirs; and the indexer's
 * server target (indexer/server-target.ts, behind `clipql index --server`), a client of the API
 * like any frontend, may use the typed client in client/ (outside src/). Nothing else in src/
 * imports client/.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '../../src/paths';

const SRC = path.join(REPO_ROOT, 'src');
const NEUTRAL = new Set(['errors', 'paths', 'config', 'control']);
/** Position in the data flow; equal ranks may import each other. */
const RANK: Record<string, number> = { input: 1, preprocess: 2, families: 2, bundle: 2, batch: 3, backends: 4, similarity: 5, heatmap: 5, download: 5, pipeline: 6, access: 6, store: 6, 'served-models': 6, schema: 7, indexer: 7, server: 8, cli: 8 };
const CONTRACT = 'backends/backend.ts';

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = path.join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** "backends", "errors", "pipeline"...: the first path segment under src/, without .ts. */
const stage = (rel: string) => rel.split('/')[0].replace(/\.ts$/, '');

test('no import runs against the data flow', () => {
  const bad: string[] = [];
  for (const file of files(SRC)) {
    const from = path.relative(SRC, file);
    const own = stage(from);
    for (const m of readFileSync(file, 'utf8').matchAll(/from '(\.[^']+)'/g)) {
      const to = path.relative(SRC, path.resolve(path.dirname(file), m[1])) + '.ts';
      const target = stage(to);
      if (target === own || NEUTRAL.has(target)) continue;
      if (to.startsWith('../client/')) {
        if (from !== 'indexer/server-target.ts') bad.push(`${from} (${own}) imports ${to} (the typed client: only indexer/server-target.ts may)`);
        continue;
      }
      if (NEUTRAL.has(own)) {
        bad.push(`${from} (neutral) imports ${to}`);
        continue;
      }
      assert.ok(RANK[own] !== undefined && RANK[target] !== undefined, `${from} -> ${to}: a folder missing from RANK`);
      if (RANK[target] > RANK[own] && !(own === 'batch' && to === CONTRACT)) bad.push(`${from} (${own}) imports ${to} (${target}, later in the flow)`);
    }
  }
  assert.deepEqual(bad, []);
});

test('a file in src/ over 300 lines says in its header why it is long', () => {
  const all = (dir: string): string[] =>
    readdirSync(dir).flatMap((f) => {
      const p = path.join(dir, f);
      return statSync(p).isDirectory() ? all(p) : /\.(ts|py)$/.test(p) ? [p] : [];
    });
  const unexplained = all(SRC).filter((file) => {
    const text = readFileSync(file, 'utf8');
    const header = text.split('\n').slice(0, 40).join('\n');
    return text.split('\n').length > 300 && !/Longer than the usual|Long because/.test(header);
  });
  assert.deepEqual(unexplained.map((f) => path.relative(REPO_ROOT, f)), []);
});
