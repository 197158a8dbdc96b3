/**
 * The page's collection view in Debian's Chromium (as page.test.ts): create a collection, add
 * three notebook images, search by a caption and by an image; the hits are thumbnails in the
 * API's order with the API's scores. Screenshots go to test-artifacts/.
 */
import { parseConfig } from '../../src/config/config';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { REPO_ROOT, TINY_MODEL_DIR } from '../../src/paths';
import { createLogger } from '../../src/server/log';
import { startService, type Service } from '../../src/server/service';
import { staticRoute } from '../../src/server/static';
import { buildWeb } from '../../web/build';
import { gql } from '../helpers/server';
import { BPE_VOCAB, notebook } from '../helpers/shared';
import { freshPgliteDir } from '../helpers/pglite';
import { runIndex } from '../helpers/index-run';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = path.join(REPO_ROOT, 'test-artifacts');
const FILES = ['chelsea.png', 'astronaut.png', 'rocket.jpg'];
let service: Service;
let browser: Browser;
let webDir: string;
let storeDir: string;
const items = () => notebook().filter((n) => FILES.includes(n.file));

before(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: the browser test drives Debian's Chromium (apt-get install chromium) or $CHROMIUM_PATH`);
  webDir = (await buildWeb(mkdtempSync(path.join(os.tmpdir(), 'clipql-page-')))).outDir;
  storeDir = await freshPgliteDir('clipql-page-store-');
  service = await serve('');
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  mkdirSync(ARTIFACTS, { recursive: true });
});
after(async () => {
  await browser?.close();
  await service?.stop();
  for (const d of [webDir, storeDir]) if (d) rmSync(d, { recursive: true, force: true });
});

/** The page's server on the test's store, serving the tiny model under `name` ('' : its folder's name). */
function serve(name: string): Promise<Service> {
  const { config } = parseConfig({ LOG_LEVEL: 'silent', CLIP_VOCAB: BPE_VOCAB(), CLIP_STORE: storeDir });
  return startService({ models: [{ name, dir: TINY_MODEL_DIR }], backend: 'onnx', port: 0, host: '127.0.0.1', config, log: createLogger(config.LOG_LEVEL), routes: [staticRoute({ dir: webDir })] });
}

async function hits(page: Page): Promise<{ id: string; score: number; text: string; decoded: number }[]> {
  await page.waitForSelector('#collection-hits li');
  return page.$$eval('#collection-hits li', (lis) =>
    lis.map((li) => {
      const img = li.querySelector('img');
      return { id: li.getAttribute('data-id') ?? '', score: Number(li.getAttribute('data-score')), text: li.querySelector('.hit-score')?.textContent ?? '', decoded: img && img.complete ? img.naturalWidth : 0 };
    }),
  );
}

it('creates a collection, adds images, and shows search hits as thumbnails with the API\'s scores', async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
  page.setDefaultTimeout(30_000);
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  try {
    await page.goto(`${service.url}/`);
    await page.waitForSelector('#collection-info:has-text("No collection yet")');
    // A bad name: the API's error next to the field.
    await page.fill('#collection-name', 'bad name');
    await page.click('#collection-create');
    await page.waitForSelector('#collection-name-error:not(:empty)');
    assert.match(await page.locator('#collection-name-error').innerText(), /\(BAD_USER_INPUT\)/);

    await page.fill('#collection-name', 'notebook');
    await page.click('#collection-create');
    await page.waitForSelector('#collection-select option[value="notebook"]', { state: 'attached' });
    await page.setInputFiles('#collection-files', items().map((n) => n.path));
    await page.click('#collection-add');
    await page.waitForSelector('#collection-add-status:has-text("Added 3")');
    // The list reloads after the status line is written: wait for it rather than read it at once.
    await page.waitForSelector('#collection-info:has-text("3 images in")');
    assert.match(await page.locator('#collection-info').innerText(), /3 images in “notebook”/);

    const caption = `It is ${items().find((n) => n.file === 'astronaut.png')!.caption}`;
    await page.fill('#collection-query-text', caption);
    await page.click('#collection-search');
    await page.waitForSelector('#collection-search-status:has-text("Done: 3 hits")');
    await page.waitForFunction(() => Array.from(document.querySelectorAll<HTMLImageElement>('#collection-hits img')).every((i) => i.complete && i.naturalWidth > 0));
    const shown = await hits(page);
    const api = (await gql(service.url, 'query($t: String) { search(collection: "notebook", text: $t, k: 8) { hits { id score } } }', { t: caption })).body.data.search.hits as { id: string; score: number }[];
    assert.deepEqual(shown.map((s) => s.id), api.map((a) => a.id), 'the page shows the API\'s order');
    shown.forEach((s, i) => {
      assert.equal(s.score, api[i].score);
      assert.equal(s.text, api[i].score.toFixed(3));
      assert.ok(s.decoded > 0, `${s.id}'s thumbnail decodes`);
    });
    await page.screenshot({ path: path.join(ARTIFACTS, 'page-collections.png'), fullPage: true });

    // By image: the rocket finds itself first, cosine 1.
    await page.setInputFiles('#collection-query-file', items().find((n) => n.file === 'rocket.jpg')!.path);
    assert.equal(await page.inputValue('#collection-query-text'), '', 'choosing an image clears the caption');
    await page.click('#collection-search');
    await page.waitForSelector('#collection-result h3:has-text("rocket.jpg")');
    const byImage = await hits(page);
    assert.equal(byImage[0].id, 'rocket.jpg');
    assert.equal(byImage[0].text, '1.000');
    assert.deepEqual(problems, []);
  } finally {
    await page.close();
  }
});

it('searches a collection indexed by the CLI (under the folder name) through a server that serves the same weights under an alias', async () => {
  await service.stop(); // PGlite: one process at a time on the folder
  const indexed = await runIndex([...items().map((n) => n.path), '--collection', 'trip', '--model', TINY_MODEL_DIR], ['--store', storeDir]);
  assert.equal(indexed.code, 0, indexed.err);
  service = await serve('photos');
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  page.setDefaultTimeout(30_000);
  try {
    await page.goto(`${service.url}/`);
    await page.waitForSelector('#collection-select option[value="trip"]', { state: 'attached' });
    await page.selectOption('#collection-select', 'trip');
    await page.fill('#collection-query-text', 'It is a rocket');
    await page.click('#collection-search');
    await page.waitForSelector('#collection-search-status:has-text("Done: 3 hits")');
    assert.match(await page.locator('#collection-result').innerText(), /Model photos;/);
  } finally {
    await page.close();
  }
});
