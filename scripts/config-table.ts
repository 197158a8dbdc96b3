/**
 * Writes the configuration table of docs/configuration.md from the settings table
 * (src/config/settings.ts), between the markers `<!-- config-table -->` and
 * `<!-- /config-table -->`. `--check` writes nothing and exits 1 when the doc is stale
 * (test/core/config.test.ts checks the same).
 *
 *   npm run config-table [-- --check]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { configTable } from '../src/config/config';
import { REPO_ROOT } from '../src/paths';

/** The document that holds the generated table. */
export const CONFIG_DOC = path.join(REPO_ROOT, 'docs', 'configuration.md');
export const START = '<!-- config-table -->';
export const END = '<!-- /config-table -->';

/** The document's text with the generated table in place. */
export function withTable(doc: string): string {
  const a = doc.indexOf(START);
  const b = doc.indexOf(END);
  if (a < 0 || b < a) throw new Error(`docs/configuration.md has no ${START} ... ${END} markers`);
  return `${doc.slice(0, a + START.length)}\n${configTable()}\n${doc.slice(b)}`;
}

if (require.main === module) {
  const text = readFileSync(CONFIG_DOC, 'utf8');
  const next = withTable(text);
  if (process.argv.includes('--check')) {
    if (next !== text) {
      process.stderr.write('docs/configuration.md\'s configuration table is stale: run npm run config-table\n');
      process.exit(1);
    }
  } else if (next !== text) {
    writeFileSync(CONFIG_DOC, next);
  }
}
