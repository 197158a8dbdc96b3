#!/usr/bin/env node
/*
 * The `clipql` command (package.json "bin"): a committed launcher, executable in git, so that
 * `npm run build` — which recreates dist/ without executable bits — never breaks `npx clipql`.
 * It only loads the built CLI (dist/src/cli/main.js) and runs it.
 */
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const main = path.join(__dirname, '..', 'dist', 'src', 'cli', 'main.js');
if (!fs.existsSync(main)) {
  process.stderr.write(`clipql: ${path.relative(process.cwd(), main) || main} is missing; run \`npm run build\` first\n`);
  process.exit(1);
}
require(main)
  .main(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
  });
