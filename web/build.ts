/**
 * Builds the web page into static assets (no CDN, works offline): esbuild bundles web/src/main.ts
 * (with the typed client from client/gql and the colour map from src/heatmap) and
 * web/src/styles.css into content-hashed files under <out>/assets, and writes <out>/index.html
 * from web/index.html with those names filled in. src/server/static.ts serves the result.
 *
 *   node dist/web/build.js [outDir]      (default dist/public)
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import { REPO_ROOT } from '../src/paths';
import { DEFAULT_WEB_DIR } from '../src/server/static';

export const WEB_SOURCE_DIR = path.join(REPO_ROOT, 'web');

export interface WebBuild {
  readonly outDir: string;
  /** Asset file names under outDir/assets. */
  readonly script: string;
  readonly style: string;
}

export async function buildWeb(outDir: string = DEFAULT_WEB_DIR): Promise<WebBuild> {
  const assets = path.join(outDir, 'assets');
  rmSync(assets, { recursive: true, force: true });
  mkdirSync(assets, { recursive: true });
  const result = await build({
    absWorkingDir: REPO_ROOT,
    entryPoints: { app: path.join(WEB_SOURCE_DIR, 'src', 'main.ts'), style: path.join(WEB_SOURCE_DIR, 'src', 'styles.css') },
    bundle: true,
    minify: true,
    sourcemap: 'linked',
    format: 'iife',
    platform: 'browser',
    target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
    outdir: assets,
    entryNames: '[name]-[hash]',
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning',
  });
  const outputs = Object.keys(result.metafile.outputs).map((f) => path.basename(f));
  const script = outputs.find((f) => /^app-.*\.js$/.test(f));
  const style = outputs.find((f) => /^style-.*\.css$/.test(f));
  if (!script || !style) throw new Error(`web build: expected app-*.js and style-*.css, got ${outputs.join(', ')}`);
  const template = readFileSync(path.join(WEB_SOURCE_DIR, 'index.html'), 'utf8');
  if (!template.includes('%APP_JS%') || !template.includes('%STYLE_CSS%')) throw new Error('web/index.html must reference %APP_JS% and %STYLE_CSS%');
  writeFileSync(path.join(outDir, 'index.html'), template.replaceAll('%APP_JS%', `/assets/${script}`).replaceAll('%STYLE_CSS%', `/assets/${style}`));
  return { outDir, script, style };
}

if (require.main === module) {
  buildWeb(process.argv[2] ? path.resolve(process.argv[2]) : undefined).then(
    (b) => process.stdout.write(`web page built in ${b.outDir}: assets/${b.script}, assets/${b.style}\n`),
    (e: unknown) => {
      process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
