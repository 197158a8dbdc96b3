/**
 * The trusted-documents manifest (client/gql/persisted-documents.json) is what graphql-codegen
 * makes of the repository's operations today: this test fails when an operation was added or
 * changed without `npx graphql-codegen` (a server started with a stale manifest would refuse it).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { generate, loadCodegenConfig } from '@graphql-codegen/cli';
import { REPO_ROOT } from '../../src/paths';

const MANIFEST = path.join(REPO_ROOT, 'client', 'gql', 'persisted-documents.json');

test('codegen regenerates client/gql (the manifest included) byte for byte', async () => {
  const { config } = await loadCodegenConfig({ configFilePath: path.join(REPO_ROOT, 'codegen.yml') });
  const outputs = (await generate({ ...config, cwd: REPO_ROOT, silent: true }, false)) as Array<{ filename: string; content: string }>;
  const files = outputs.map((o) => path.relative(REPO_ROOT, path.resolve(REPO_ROOT, o.filename))).sort();
  assert.ok(files.includes(path.join('client', 'gql', 'persisted-documents.json')), `codegen.yml emits no manifest: ${files.join(', ')}`);
  for (const o of outputs) {
    const committed = readFileSync(path.resolve(REPO_ROOT, o.filename), 'utf8');
    assert.ok(committed === o.content, `${o.filename} is stale: run \`npx graphql-codegen\` and commit the result`);
  }
});

test('the manifest holds every operation of client/operations.ts and the page, each under the sha256 of its text', () => {
  const manifest = JSON.parse(readFileSync(MANIFEST, 'utf8')) as Record<string, string>;
  for (const [id, doc] of Object.entries(manifest)) assert.equal(id, `sha256:${createHash('sha256').update(doc).digest('hex')}`, doc.slice(0, 60));
  // The operation names in the sources, read here with a regular expression (not with codegen).
  const sources = [path.join(REPO_ROOT, 'client', 'operations.ts'), ...readdirSync(path.join(REPO_ROOT, 'web', 'src')).filter((f) => f.endsWith('.ts')).map((f) => path.join(REPO_ROOT, 'web', 'src', f))];
  const names = sources.flatMap((f) => [...readFileSync(f, 'utf8').matchAll(/graphql\(`\s*(?:query|mutation)\s+(\w+)/g)].map((m) => m[1]));
  assert.ok(names.length >= 8, `found only ${names.join(', ')}`);
  const inManifest = Object.values(manifest).map((d) => /^(?:query|mutation) (\w+)/.exec(d)?.[1]).sort();
  assert.deepEqual(inManifest, [...names].sort());
});
