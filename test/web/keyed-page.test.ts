/**
 * The page in Debian's Chromium against a server with API keys and CLIP_PAGE_KEY_FILE naming a
 * read key limited to one collection: the page sends that key (service info loads), lists only
 * that collection, hides the create and add forms, and searches it; without the page key its
 * requests are refused. The expected hits are the API's own answer to the root key.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { parseConfig } from '../../src/config/config';
import { TINY_MODEL_DIR } from '../../src/paths';
import { createLogger } from '../../src/server/log';
import { pageKey } from '../../src/server/page-key';
import { startService, type Service } from '../../src/server/service';
import { staticRoute } from '../../src/server/static';
import { buildWeb } from '../../web/build';
import { freshPgliteDir } from '../helpers/pglite';
import { gql } from '../helpers/server';
import { BPE_VOCAB, notebook } from '../helpers/shared';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ROOT = 'sk-root-page-test';
const PAGE = 'sk-page-read-only';
const hex = (k: string) => createHash('sha256').update(k).digest('hex');
const root = { authorization: `Bearer ${ROOT}` };
let service: Service;
let browser: Browser;
let dir: string;
let webDir: string;
let storeDir: string;

before(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: the browser test drives Debian's Chromium (apt-get install chromium) or $CHROMIUM_PATH`);
  dir = mkdtempSync(path.join(os.tmpdir(), 'clipql-keyed-page-'));
  webDir = (await buildWeb(path.join(dir, 'web'))).outDir;
  storeDir = await freshPgliteDir('clipql-keyed-page-store-');
  writeFileSync(path.join(dir, 'keys'), `root:${hex(ROOT)}\npage:${hex(PAGE)}:actions=read,collections=photos\n`);
  writeFileSync(path.join(dir, 'page-key'), `${PAGE}\n`);
  const { config } = parseConfig({ LOG_LEVEL: 'silent', CLIP_VOCAB: BPE_VOCAB(), CLIP_STORE: storeDir, CLIP_API_KEYS_FILE: path.join(dir, 'keys'), CLIP_PAGE_KEY_FILE: path.join(dir, 'page-key') });
  const key = pageKey(config);
  assert.deepEqual([key?.name, key?.actions, key?.warning], ['page', ['read'], undefined]);
  service = await startService({ models: [{ name: '', dir: TINY_MODEL_DIR }], backend: 'onnx', port: 0, host: '127.0.0.1', config, log: createLogger(config.LOG_LEVEL), routes: [staticRoute({ dir: webDir, key })] });
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  for (const name of ['photos', 'private']) assert.equal((await gql(service.url, 'mutation($n: String!) { createCollection(name: $n) { name } }', { n: name }, root)).status, 200);
  const images = notebook().slice(0, 2).map((n) => ({ base64: readFileSync(n.path).toString('base64') }));
  const added = await gql(service.url, 'mutation($i: [ImageInput!]!) { addImages(collection: "photos", images: $i, ids: ["a", "b"]) { count } }', { i: images }, root);
  assert.equal(added.body.data?.addImages.count, 2, JSON.stringify(added.body));
});
after(async () => {
  await browser?.close();
  await service?.stop();
  for (const d of [dir, storeDir]) if (d) rmSync(d, { recursive: true, force: true });
});

it('sends its read key: lists and searches its collection only, without the forms it may not use', async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
  page.setDefaultTimeout(30_000);
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  try {
    await page.goto(`${service.url}/`);
    await page.waitForSelector('#service-info:has-text("Model ")');
    await page.waitForSelector('#collection-select option[value="photos"]', { state: 'attached' });
    assert.deepEqual(await page.$$eval('#collection-select option', (os) => os.map((o) => (o as HTMLOptionElement).value)), ['photos']);
    assert.equal(await page.isVisible('#collection-add-form'), false);
    assert.equal(await page.isVisible('#collection-create'), false);
    assert.equal(await page.isVisible('#collection-search'), true);

    await page.fill('#collection-query-text', 'a cat');
    await page.click('#collection-search');
    await page.waitForSelector('#collection-search-status:has-text("Done: 2 hits")');
    const shown = await page.$$eval('#collection-hits li', (lis) => lis.map((li) => ({ id: li.getAttribute('data-id'), score: Number(li.getAttribute('data-score')) })));
    const api = (await gql(service.url, '{ search(collection: "photos", text: "a cat", k: 8) { hits { id score } } }', {}, root)).body.data.search.hits;
    assert.deepEqual(shown, api);
    assert.deepEqual(problems, []);
  } finally {
    await page.close();
  }
  // The same page without the key (a server without CLIP_PAGE_KEY_FILE): refused.
  assert.equal((await gql(service.url, '{ models { name } }')).status, 401);
});
