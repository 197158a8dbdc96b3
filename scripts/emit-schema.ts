/**
 * Emits schema.graphql from the type-graphql classes (sorted, so the file only changes when the
 * schema does). `npm run schema` runs it; test/api/schema.test.ts checks the committed file.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { lexicographicSortSchema, printSchema } from 'graphql';
import { REPO_ROOT } from '../src/paths';
import { buildClipSchema } from '../src/schema/build';

export const SCHEMA_FILE = path.join(REPO_ROOT, 'schema.graphql');

export function schemaSdl(): string {
  return `# Generated from the type-graphql classes in src/schema by \`npm run schema\`. Do not edit.\n\n${printSchema(lexicographicSortSchema(buildClipSchema()))}\n`;
}

if (require.main === module) {
  writeFileSync(SCHEMA_FILE, schemaSdl());
  process.stdout.write(`wrote ${SCHEMA_FILE}\n`);
}
