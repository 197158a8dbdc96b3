/**
 * The page at `/` in a real browser: Debian's Chromium (apt-get install chromium; never a
 * downloaded browser) driven by playwright-core, against the real service (tiny model, port 0)
 * with the page freshly built by web/build.ts. Screenshots go to test-artifacts/ (git-ignored).
 */
import { parseConfig } from '../../src/config/config';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { REPO_ROOT, TINY_MODEL_DIR } from '../../src/paths';
import { createLogger } from '../../src/server/log';
import { startService, type Service } from '../../src/server/service';
import { staticRoute } from '../../src/server/static';
import { buildWeb } from '../../web/build';
import { BPE_VOCAB, notebook } from '../helpers/shared';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = path.join(REPO_ROOT, 'test-artifacts');
const FILES = ['chelsea.png', 'astronaut.png', 'rocket.jpg'];

let service: Service;
let browser: Browser;
let context: BrowserContext;
let webDir: string;
const items = () => notebook().filter((n) => FILES.includes(n.file)).sort((a, b) => FILES.indexOf(a.file) - FILES.indexOf(b.file));
const captionsOf = () => items().map((n) => `It is ${n.caption}`);

before(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: the browser test drives Debian's Chromium (apt-get install chromium) or $CHROMIUM_PATH`);
  webDir = (await buildWeb(mkdtempSync(path.join(os.tmpdir(), 'clipql-page-')))).outDir;
  const { config } = parseConfig({ LOG_LEVEL: 'silent', CLIP_VOCAB: BPE_VOCAB() });
  service = await startService({ models: [{ name: '', dir: TINY_MODEL_DIR }], backend: 'onnx', port: 0, host: '127.0.0.1', config, log: createLogger(config.LOG_LEVEL), routes: [staticRoute({ dir: webDir })] });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  // One context for all tests (a fresh page each): a new context costs seconds on a slow machine.
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  mkdirSync(ARTIFACTS, { recursive: true });
});

after(async () => {
  await browser?.close();
  await service?.stop();
  if (webDir) rmSync(webDir, { recursive: true, force: true });
});

/** A page on `/`, with every console error and page error collected (CSP violations land there). */
async function openPage(): Promise<{ page: Page; problems: string[] }> {
  const page = await context.newPage();
  page.setDefaultTimeout(30_000); // generous: CI machines can be loaded
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  await page.goto(`${service.url}/`);
  await page.waitForSelector('#similarity-backend option', { state: 'attached' });
  return { page, problems };
}

async function compare(page: Page, files: (string | { name: string; mimeType: string; buffer: Buffer })[], captions: string[]): Promise<void> {
  // One file per pick: the page appends picks to its list, so a mix of paths and buffers keeps its order.
  for (const f of files) await page.setInputFiles('#image-files', f);
  await page.fill('#captions', captions.join('\n'));
  await page.click('#similarity-submit');
}

/** The scores the API gives for the same request, straight from /graphql. */
async function apiScores(): Promise<number[][]> {
  const images = items().map((n) => ({ base64: readFileSync(n.path).toString('base64') }));
  const res = await fetch(`${service.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: 'query($images: [ImageInput!]!, $captions: [String!]!) { similarity(images: $images, captions: $captions) { scores } }', variables: { images, captions: captionsOf() } }),
  });
  const body = (await res.json()) as { data: { similarity: { scores: number[][] } } };
  return body.data.similarity.scores;
}

describe('the page at /', () => {
  it('shows a 3 × 3 heatmap of three notebook images and three captions, best match per image marked', async () => {
    const { page, problems } = await openPage();
    try {
      // The tiny model has random weights: the page says so.
      await page.waitForSelector('#model-banner:not([hidden])');
      assert.match(await page.locator('#model-banner').innerText(), /random weights/i);

      await compare(page, items().map((n) => n.path), captionsOf());
      await page.waitForSelector('#similarity-table');
      const cells = await page.$$eval('#similarity-table tbody td.cell', (tds) =>
        tds.map((td) => ({ row: Number(td.getAttribute('data-row')), col: Number(td.getAttribute('data-col')), value: Number(td.getAttribute('data-value')), text: td.firstChild?.textContent ?? '', best: td.classList.contains('best'), bg: getComputedStyle(td).backgroundColor })),
      );
      assert.equal(cells.length, 9, 'nine values');
      assert.deepEqual([...new Set(cells.map((c) => c.row))].sort(), [0, 1, 2]);
      assert.deepEqual([...new Set(cells.map((c) => c.col))].sort(), [0, 1, 2]);
      const scores = await apiScores();
      for (const c of cells) {
        assert.match(c.text, /^-?\d\.\d\d$/, `cell ${c.row},${c.col} prints 2 decimals`);
        assert.ok(Math.abs(c.value - scores[c.row][c.col]) < 1e-6, `cell ${c.row},${c.col}: page ${c.value}, API ${scores[c.row][c.col]}`);
        assert.equal(c.text, scores[c.row][c.col].toFixed(2));
      }
      for (let j = 0; j < 3; j++) {
        const column = cells.filter((c) => c.col === j);
        const marked = column.filter((c) => c.best);
        assert.equal(marked.length, 1, `image ${j} has one best match`);
        assert.equal(marked[0].value, Math.max(...column.map((c) => c.value)), `image ${j}'s marked caption is its best`);
      }
      // Coloured: the lowest and the highest cell have YlOrRd's ends.
      const byValue = [...cells].sort((a, b) => a.value - b.value);
      assert.equal(byValue[0].bg, 'rgb(255, 255, 204)');
      assert.equal(byValue[8].bg, 'rgb(128, 0, 38)');
      // The server's figure is shown too, and decodes.
      const figure = page.locator('.heatmap-figure img');
      await figure.waitFor();
      assert.ok((await figure.evaluate((img: HTMLImageElement) => img.decode().then(() => img.naturalWidth))) > 200);
      assert.match(await page.locator('#similarity-status').innerText(), /Done: 3 × 3/);
      await page.screenshot({ path: path.join(ARTIFACTS, 'page.png'), fullPage: true });
      assert.deepEqual(problems, []);
    } finally {
      await page.close();
    }
  });

  it('shows the API error next to the corrupt file, and recovers once it is removed', async () => {
    const { page, problems } = await openPage();
    try {
      const corrupt = { name: 'corrupt.png', mimeType: 'image/png', buffer: Buffer.concat([readFileSync(items()[0].path).subarray(0, 200), Buffer.from('garbage')]) };
      await compare(page, [items()[0].path, corrupt, items()[2].path], captionsOf());
      const bad = page.locator('.image-item.invalid');
      await bad.waitFor();
      assert.equal(await bad.count(), 1, 'only the corrupt file is marked');
      assert.match(await bad.locator('.image-name').innerText(), /^corrupt\.png$/);
      const message = await bad.locator('.field-error').innerText();
      assert.match(message, /\((BAD_IMAGE|UNSUPPORTED_FORMAT)\)$/, message);
      assert.equal(await bad.getAttribute('aria-invalid'), 'true');
      assert.equal(await page.evaluate(() => document.activeElement?.querySelector('.image-name')?.textContent), 'corrupt.png', 'focus moves to the failing image');
      assert.match(await page.locator('#similarity-status').innerText(), /The request failed/);
      assert.equal(await page.locator('#similarity-table').count(), 0);
      await page.screenshot({ path: path.join(ARTIFACTS, 'page-error.png'), fullPage: true });

      await page.click('button[aria-label="Remove corrupt.png"]');
      await page.click('#similarity-submit');
      await page.waitForSelector('#similarity-table');
      assert.equal(await page.locator('#similarity-table tbody td.cell').count(), 6);
      assert.equal(await page.locator('.image-item.invalid').count(), 0);
      // The corrupt file's failed preview is handled by the page (a placeholder), not a console error.
      assert.deepEqual(problems, []);
    } finally {
      await page.close();
    }
  });

  it('ranks labels for one image as probability bars (zero-shot)', async () => {
    const { page, problems } = await openPage();
    try {
      await page.setInputFiles('#classify-file', items()[0].path);
      await page.fill('#labels', 'cat\ndog\nrocket');
      await page.click('#classify-submit');
      await page.waitForSelector('#classify-bars');
      const bars = await page.$$eval('#classify-bars li', (lis) => lis.map((li) => ({ label: li.querySelector('.bar-label')?.textContent, p: Number(li.querySelector('meter')?.getAttribute('value')) })));
      assert.deepEqual(bars.map((b) => b.label).sort(), ['cat', 'dog', 'rocket']);
      assert.ok(Math.abs(bars.reduce((s, b) => s + b.p, 0) - 1) < 1e-4);
      for (let i = 1; i < bars.length; i++) assert.ok(bars[i - 1].p >= bars[i].p, 'most probable first');
      assert.deepEqual(problems, []);
    } finally {
      await page.close();
    }
  });

  it('has the accessibility basics: labelled controls, alt text, live regions, keyboard-reachable inputs', async () => {
    const { page, problems } = await openPage();
    try {
      const unlabelled = await page.$$eval('input, select, textarea, button', (els) =>
        els.filter((el) => !(el as HTMLInputElement).labels?.length && !el.getAttribute('aria-label') && !el.textContent?.trim()).map((el) => el.outerHTML),
      );
      assert.deepEqual(unlabelled, []);
      await page.setInputFiles('#image-files', [items()[0].path]);
      const withoutAlt = await page.$$eval('img', (imgs) => imgs.filter((i) => !i.hasAttribute('alt')).map((i) => i.outerHTML.slice(0, 80)));
      assert.deepEqual(withoutAlt, []);
      for (const id of ['similarity-result', 'similarity-status', 'captions-error', 'classify-result']) {
        assert.equal(await page.getAttribute(`#${id}`, 'aria-live'), 'polite', id);
      }
      // Empty captions are caught before the request, next to the field, which gets focus.
      await page.click('#similarity-submit');
      assert.match(await page.locator('#captions-error').innerText(), /at least one caption/);
      assert.equal(await page.evaluate(() => document.activeElement?.id), 'captions');
      // Tab order reaches the file input and the submit button.
      await page.focus('#image-files');
      const reached = new Set<string>();
      for (let i = 0; i < 12; i++) {
        await page.keyboard.press('Tab');
        reached.add(await page.evaluate(() => document.activeElement?.id ?? ''));
      }
      assert.ok(reached.has('image-url') && reached.has('captions') && reached.has('similarity-submit'), [...reached].join(', '));
      assert.deepEqual(problems, []);
    } finally {
      await page.close();
    }
  });
});
