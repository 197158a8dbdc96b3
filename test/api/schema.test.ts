/** The committed schema.graphql is what the type-graphql classes emit (run `npm run schema`). */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { SCHEMA_FILE, schemaSdl } from '../../scripts/emit-schema';

test('schema.graphql is up to date', () => {
  const committed = readFileSync(SCHEMA_FILE, 'utf8');
  assert.ok(committed === schemaSdl(), 'schema.graphql is stale: run `npm run schema && npx graphql-codegen` and commit the result');
});

test('the schema holds the contract names', () => {
  const sdl = schemaSdl();
  for (const name of ['type Image', 'type Caption', 'type SimilarityMatrix', 'input ImageInput', 'scores: [[Float!]!]!', 'similarity(', 'classify(', 'embedImages(', 'embedCaptions(', 'backends(', 'models: [ModelInfo!]!']) {
    assert.ok(sdl.includes(name), `schema lacks ${name}`);
  }
  // Query.backends takes an optional model (issue 17): a query without arguments still runs.
  assert.match(sdl, /backends\(\s*"""[^"]*"""\s*model: String\s*\): \[BackendStatus!\]!/);
  assert.match(sdl, /classify\(\s*backend: String\s+image: ImageInput!\s+labels: \[String!\]![^)]*template: String! = "a photo of a \{\}"\s*\): Classification!/);
});
