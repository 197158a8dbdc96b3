/**
 * Writes README's configuration table from the settings table (src/config/settings.ts), between
 * the markers `<!-- config-table -->` and `<!-- /config-table -->`. `--check` writes nothing and
 * exits 1 when README is stale (test/core/config.test.ts checks the same).
 *
 *   npm run config-table [-- --check]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { configTable } from '../src/config/config';
import { REPO_ROOT } from '../src/paths';

export const README = path.join(REPO_ROOT, 'README.md');
export const START = '<!-- config-table -->';
export const END = '<!-- /config-table -->';

/** README's text with the generated table in place. */
export function withTable(readme: string): string {
  const a = readme.indexOf(START);
  const b = readme.indexOf(END);
  if (a < 0 || b < a) throw new Error(`README.md has no ${START} ... ${END} markers`);
  return `${readme.slice(0, a + START.length)}\n${configTable()}\n${readme.slice(b)}`;
}

if (require.main === module) {
  const text = readFileSync(README, 'utf8');
  const next = withTable(text);
  if (process.argv.includes('--check')) {
    if (next !== text) {
      process.stderr.write('README.md\'s configuration table is stale: run npm run config-table\n');
      process.exit(1);
    }
  } else if (next !== text) {
    writeFileSync(README, next);
  }
}
