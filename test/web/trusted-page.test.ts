/**
 * The page in Debian's Chromium against a server that runs trusted documents
 * (CLIP_TRUSTED_DOCUMENTS = the committed manifest): each of the page's operations (service info,
 * similarity with uploads, zero-shot classification) works, and every request the page sends
 * names its document by id, never by text.
 */
import { parseConfig } from '../../src/config/config';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { REPO_ROOT, TINY_MODEL_DIR } from '../../src/paths';
import { createLogger } from '../../src/server/log';
import { startService, type Service } from '../../src/server/service';
import { staticRoute } from '../../src/server/static';
import { buildWeb } from '../../web/build';
import { BPE_VOCAB, notebook } from '../helpers/shared';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
let service: Service;
let browser: Browser;
let webDir: string;

before(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: the browser test drives Debian's Chromium (apt-get install chromium) or $CHROMIUM_PATH`);
  webDir = (await buildWeb(mkdtempSync(path.join(os.tmpdir(), 'clipql-trusted-page-')))).outDir;
  const env = { LOG_LEVEL: 'silent', CLIP_VOCAB: BPE_VOCAB(), CLIP_TRUSTED_DOCUMENTS: path.join(REPO_ROOT, 'client', 'gql', 'persisted-documents.json') };
  const { config } = parseConfig(env);
  service = await startService({ models: [{ name: '', dir: TINY_MODEL_DIR }], backend: 'onnx', port: 0, host: '127.0.0.1', config, log: createLogger(config.LOG_LEVEL), routes: [staticRoute({ dir: webDir, documents: 'id' })] });
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
});

after(async () => {
  await browser?.close();
  await service?.stop();
  if (webDir) rmSync(webDir, { recursive: true, force: true });
});

test('in trusted mode the page loads, compares, classifies, and sends only document ids', async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.setDefaultTimeout(30_000);
  const problems: string[] = [];
  const bodies: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('request', (r) => {
    if (new URL(r.url()).pathname === '/graphql') bodies.push(r.postData() ?? '');
  });
  try {
    await page.goto(`${service.url}/`);
    await page.waitForSelector('#similarity-backend option[value="onnx"]', { state: 'attached' });
    assert.match(await page.locator('#service-info').innerText(), /^Model tiny-clip-336/);

    const items = notebook().filter((n) => ['chelsea.png', 'astronaut.png', 'rocket.jpg'].includes(n.file));
    for (const it of items) await page.setInputFiles('#image-files', it.path);
    await page.fill('#captions', items.map((n) => `It is ${n.caption}`).join('\n'));
    await page.click('#similarity-submit');
    await page.waitForSelector('#similarity-table');
    assert.equal(await page.locator('#similarity-table tbody td.cell').count(), 9);
    await page.locator('.heatmap-figure img').waitFor();

    await page.setInputFiles('#classify-file', items[0].path);
    await page.fill('#labels', 'cat\ndog\nrocket');
    await page.click('#classify-submit');
    await page.waitForSelector('#classify-bars');
    assert.equal(await page.locator('#classify-bars li').count(), 3);
    assert.deepEqual(problems, []);
  } finally {
    await page.close();
  }
  // Service info and the collection list (JSON), similarity and classify (multipart uploads): each by documentId.
  assert.equal(bodies.length, 4, bodies.map((b) => b.slice(0, 80)).join('\n'));
  for (const body of bodies) {
    assert.match(body, /"documentId":"sha256:[0-9a-f]{64}"/, body.slice(0, 200));
    assert.doesNotMatch(body, /"query"/, body.slice(0, 200));
  }
});
