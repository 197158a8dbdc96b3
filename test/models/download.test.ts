/**
 * `models download (or fetch) / verify / remove / list` against a fake hub on 127.0.0.1 (hub-server.ts) that
 * serves the tiny bundle in the hub's URL scheme. Nothing here touches the network, the real
 * manifest or the real models folder: every test gets its own manifest and models folder, and its
 * own environment (HF_ENDPOINT pointing at the fake hub; no proxy variables from the machine).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadBundle } from '../../src/bundle/bundle';
import { ClipqlError } from '../../src/errors';
import { main } from '../../src/download/cli';
import { downloadModel, type DownloadModelOptions } from '../../src/download/model-download';
import { loadManifest } from '../../src/download/manifest';
import { createProgress, formatBytes, formatDuration } from '../../src/download/progress';
import { proxyFor } from '../../src/download/proxy';
import { RECORD_FILE } from '../../src/download/model-folder';
import { BPE_VOCAB } from '../helpers/shared';
import { bundleFiles, closedPort, COMMIT, connectProxy, HubServer, sha256, tempDir, writeManifest } from './hub-server';

const FILES = bundleFiles();
const ONNX_AND_COMMON = [...FILES.keys()].filter((p) => !p.startsWith('torch/'));
const BIG = 'onnx/text_model.onnx';

let server: HubServer;
before(async () => {
  server = await new HubServer(FILES, new Map([['tiny.pt', 'torch/model.pt']])).start();
});
after(async () => {
  await server.close();
});

function reset(): void {
  server.requests.length = 0;
  server.cut.clear();
  const b = server.behaviour;
  b.cutAfter.clear();
  b.stall.clear();
  b.stallAfterHeaders.clear();
  b.missing.clear();
  b.ignoreRange = false;
  b.redirect.clear();
  b.linkedSha.clear();
}

/** Options for one test: a fresh models folder, fast timeouts, progress captured. */
function setup(manifestOptions: Parameters<typeof writeManifest>[1] = {}, env: Record<string, string> = {}) {
  reset();
  const lines: string[] = [];
  const options: DownloadModelOptions = {
    manifestPath: writeManifest(server, manifestOptions),
    modelsDir: tempDir('clipql-models-'),
    name: 'tiny',
    env: { HF_ENDPOINT: server.hubOrigin, ...env },
    stallTimeoutMs: 2_000,
    retries: 2,
    retryDelayMs: 10,
    progress: createProgress({ write: (s: string) => lines.push(s) }, { tty: false }),
  };
  return { options, lines, dir: path.join(options.modelsDir, 'tiny'), staging: path.join(options.modelsDir, '.tiny.partial') };
}

function assertSameFiles(dir: string, files: readonly string[]): void {
  for (const f of files) assert.ok(readFileSync(path.join(dir, f)).equals(FILES.get(f)!), `${f} differs from the served file`);
}

/** Everything under dir, relative. */
function tree(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return (readdirSync(dir, { recursive: true }) as string[]).map(String).sort();
}

/**
 * The resumed request asks for the rest after what was written: `sent` bytes when the client read
 * them all before the cut (the usual case), fewer when a loaded machine dropped some buffered ones.
 */
function assertResumedFrom(range: string | string[] | undefined, sent: number): void {
  const m = /^bytes=(\d+)-$/.exec(String(range));
  assert.ok(m, `a Range request, got ${String(range)}`);
  const from = Number(m[1]);
  assert.ok(from > 0 && from <= sent, `resumed from ${from}, the server had sent ${sent}`);
}

async function rejects(p: Promise<unknown>, code: string, pattern: RegExp): Promise<ClipqlError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ClipqlError, `expected a ClipqlError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, pattern);
    return e;
  }
  assert.fail(`expected a ${code} error matching ${pattern}`);
}

describe('fetch', () => {
  test('a full fetch: files identical, a record, no staging left, progress on stderr', async () => {
    const { options, lines, dir, staging } = setup();
    const result = await downloadModel(options);
    assert.equal(result.status, 'fetched');
    assertSameFiles(dir, ONNX_AND_COMMON);
    assert.ok(!existsSync(path.join(dir, 'torch')), 'default format is onnx: no torch file');
    assert.ok(!existsSync(staging), 'the staging folder was renamed into place');
    assert.deepEqual(tree(dir).filter((f) => f.endsWith('.part') || f.endsWith('.part.json')), []);
    const record = JSON.parse(readFileSync(path.join(dir, RECORD_FILE), 'utf8'));
    assert.deepEqual(record.files.map((f: { path: string }) => f.path).sort(), [...ONNX_AND_COMMON].sort());
    for (const f of record.files) assert.equal(f.sha256, sha256(FILES.get(f.path)!));
    assert.ok(lines.some((l) => l.includes(`${BIG}: done`)), lines.join(''));
    assert.ok(lines.every((l) => !l.includes('\r')), 'plain lines when not a terminal');
    if (FILES.has('preprocessor_config.json') && FILES.get('config.json')!.length > 200) {
      // The committed tiny bundle came through: the fetched folder is a bundle the service loads.
      const bundle = await loadBundle(dir, { bpeVocab: BPE_VOCAB() });
      assert.equal(bundle.name, 'tiny');
      assert.equal(bundle.randomWeights, true);
    }

    const before = server.requests.length;
    const again = await downloadModel(options);
    assert.equal(again.status, 'present');
    assert.equal(server.requests.length, before, 'nothing downloaded twice');
  });

  test('an interrupted transfer resumes with a Range request answered 206', async () => {
    const { options, dir, lines } = setup();
    server.behaviour.cutAfter.set(BIG, 100_000);
    const result = await downloadModel(options);
    assert.equal(result.status, 'fetched');
    assertSameFiles(dir, [BIG]);
    const reqs = server.requestsFor(BIG);
    assert.equal(reqs.length, 2, 'one cut, one resumed');
    assert.equal(reqs[0]!.headers.range, undefined);
    assertResumedFrom(reqs[1]!.headers.range, 100_000);
    assert.ok(reqs[1]!.headers['if-range'], 'If-Range carries the validator');
    assert.equal(reqs[1]!.status, 206);
    assert.ok(lines.some((l) => /retrying/.test(l)), lines.join(''));
  });

  test('a fetch that fails leaves a partial download that the next run resumes', async () => {
    const { options, dir, staging } = setup();
    server.behaviour.cutAfter.set(BIG, 200_000);
    await rejects(downloadModel({ ...options, retries: 0 }), 'FETCH_FAILED', /text_model\.onnx.*gave up after 1 attempt\..*run the same command again to resume/s);
    assert.ok(!existsSync(dir), 'no model folder after a failed fetch');
    assert.ok(existsSync(path.join(staging, `${BIG}.part`)), `the part is kept: ${tree(staging).join(', ')}`);

    const out: string[] = [];
    const code = await main(['list', '--manifest', options.manifestPath, '--models-dir', options.modelsDir], { out: (s) => out.push(s), err: { write: () => true }, env: {} });
    assert.equal(code, 0);
    assert.match(out.join(''), /tiny \(default\)\s+partial: run download to resume/);

    const before = server.requests.length;
    await downloadModel(options);
    assertSameFiles(dir, ONNX_AND_COMMON);
    const later = server.requests.slice(before);
    // Files are fetched in manifest order: config.json was complete before the failure.
    assert.ok(!later.some((r) => r.path.endsWith('/config.json')), 'a completed file is not requested again');
    assert.equal(path.basename(later[0]!.path), 'text_model.onnx');
    assertResumedFrom(later[0]!.headers.range, 200_000);
    assert.equal(later[0]!.status, 206);
  });

  test('a server that ignores Range: the download starts over and is still right', async () => {
    const { options, dir, lines } = setup();
    server.behaviour.cutAfter.set(BIG, 100_000);
    server.behaviour.ignoreRange = true;
    await downloadModel(options);
    assertSameFiles(dir, [BIG]);
    const reqs = server.requestsFor(BIG);
    assert.equal(reqs.length, 2);
    assertResumedFrom(reqs[1]!.headers.range, 100_000);
    assert.equal(reqs[1]!.status, 200);
    assert.ok(lines.some((l) => /whole file instead of the rest/.test(l)), lines.join(''));
  });

  test('a checksum mismatch: a clear error, and nothing that looks like a model', async () => {
    const wrong = 'f'.repeat(64);
    const { options, dir, staging } = setup({ pins: { 'onnx/vision_model.onnx': { sha256: wrong } } });
    const e = await rejects(downloadModel(options), 'BAD_MODEL', /onnx\/vision_model\.onnx: checksum mismatch: sha256 [0-9a-f]{64}, the manifest expects f{64}/);
    assert.match(e.message, /the download was deleted/);
    assert.ok(!existsSync(dir), 'no models/tiny');
    assert.deepEqual(tree(staging).filter((f) => f.includes('vision_model')), [], 'the bad file is gone, not even as a .part');
  });

  test('a size the manifest pins that the server contradicts fails before downloading', async () => {
    const { options, dir } = setup({ pins: { [BIG]: { size: 123 } } });
    await rejects(downloadModel(options), 'BAD_MODEL', /text_model\.onnx: the server offers \d+ bytes but the manifest pins 123/);
    assert.ok(!existsSync(dir));
  });

  test('a 404 names the file and the URL; an optional file that is missing is skipped', async () => {
    const { options, dir } = setup();
    server.behaviour.missing.add('preprocessor_config.json');
    await rejects(downloadModel(options), 'FETCH_FAILED', new RegExp(`preprocessor_config\\.json: HTTP 404 from ${server.hubOrigin}/clipql/tiny-clip-336/resolve/main/preprocessor_config\\.json\\. Check the repository`));
    assert.ok(!existsSync(dir));

    const opt = setup({ optional: ['tokenizer.json'], extra: ['tokenizer.json'] });
    const result = await downloadModel(opt.options);
    assert.deepEqual(result.skipped, ['tokenizer.json']);
    assert.ok(result.warnings.some((w) => /no tokenizer files/.test(w)));
    assert.ok(existsSync(path.join(opt.dir, 'onnx', 'vision_model.onnx')));
  });

  test('a server that stalls fails within the stall timeout and its retries', async () => {
    const { options, dir } = setup();
    server.behaviour.stall.add('onnx/vision_model.onnx');
    const t0 = Date.now();
    await rejects(downloadModel({ ...options, stallTimeoutMs: 300, retries: 1 }), 'FETCH_FAILED', /vision_model\.onnx: no data for 0\.3 s \(stall timeout\).*gave up after 2 attempts/s);
    const elapsed = Date.now() - t0;
    assert.ok(elapsed < 3_000, `took ${elapsed} ms`);
    assert.equal(server.requestsFor('onnx/vision_model.onnx').length, 2);
    assert.ok(!existsSync(dir));

    const mid = setup();
    server.behaviour.stallAfterHeaders.add(BIG);
    await rejects(downloadModel({ ...mid.options, stallTimeoutMs: 300, retries: 0 }), 'FETCH_FAILED', /no data for 0\.3 s/);
  });

  test('offline (connection refused): fails at once, saying so', async () => {
    const port = await closedPort();
    const { options, dir } = setup({}, { HF_ENDPOINT: `http://127.0.0.1:${port}` });
    const t0 = Date.now();
    await rejects(downloadModel({ ...options, retries: 5, retryDelayMs: 1_000 }), 'FETCH_FAILED', new RegExp(`^cannot reach 127\\.0\\.0\\.1:${port}: are you offline\\? \\(connection refused: ECONNREFUSED`));
    assert.ok(Date.now() - t0 < 1_000, 'no retries when the host cannot be reached');
    assert.ok(!existsSync(dir));
    assert.deepEqual(tree(options.modelsDir), [], 'no empty staging folder, no lock left');
  });

  test('HF_TOKEN goes to the hub and not to the CDN it redirects to; the hub\'s X-Linked-Etag is checked', async () => {
    const { options, dir } = setup({}, { HF_TOKEN: 'hf_secret' });
    for (const f of ONNX_AND_COMMON.filter((p) => p.startsWith('onnx/'))) server.behaviour.redirect.add(f);
    const result = await downloadModel(options);
    assertSameFiles(dir, ONNX_AND_COMMON);
    const hub = server.requests.filter((r) => r.server === 'hub');
    const cdn = server.requests.filter((r) => r.server === 'cdn');
    assert.ok(hub.length >= ONNX_AND_COMMON.length && cdn.length === 2, `hub ${hub.length}, cdn ${cdn.length}`);
    for (const r of hub) assert.equal(r.headers.authorization, 'Bearer hf_secret', `hub request ${r.path}`);
    for (const r of cdn) assert.equal(r.headers.authorization, undefined, `the token leaked to the CDN: ${r.path}`);
    const vision = result.files.find((f) => f.path === 'onnx/vision_model.onnx')!;
    assert.equal(vision.verifiedBy, 'hub');
    assert.equal(vision.commit, COMMIT);

    const bad = setup();
    server.behaviour.redirect.add('onnx/vision_model.onnx');
    server.behaviour.linkedSha.set('onnx/vision_model.onnx', 'e'.repeat(64));
    await rejects(downloadModel(bad.options), 'BAD_MODEL', /vision_model\.onnx: checksum mismatch: .* the hub expects e{64}/);
    assert.ok(!existsSync(bad.dir));
  });

  test('--pin writes sizes, checksums and the hub commit; later fetches check against them', async () => {
    const { options, dir } = setup();
    const result = await downloadModel({ ...options, pin: true, format: 'all' });
    assert.ok(result.pinned.length > 0);
    const manifest = await loadManifest(options.manifestPath);
    const tiny = manifest.models.tiny!;
    for (const f of tiny.files) {
      assert.equal(f.size, FILES.get(f.path)!.length, f.path);
      assert.equal(f.sha256, sha256(FILES.get(f.path)!), f.path);
    }
    assert.deepEqual(tiny.sources.hub, { type: 'hf', repo: 'clipql/tiny-clip-336', revision: COMMIT });
    assert.ok(server.requests.some((r) => r.path.includes(`/resolve/main/`)));

    server.requests.length = 0;
    const again = await downloadModel({ ...options, force: true, format: 'all' });
    assert.ok(again.files.every((f) => f.verifiedBy === 'manifest'));
    assert.ok(server.requests.every((r) => !r.path.includes('/resolve/') || r.path.includes(`/resolve/${COMMIT}/`)), 'the pinned revision is used');
    assertSameFiles(dir, [...FILES.keys()]);
  });

  test('formats: torch alone from the "url" source, then onnx added to the same folder', async () => {
    const { options, dir } = setup();
    await downloadModel({ ...options, format: 'torch' });
    assert.ok(existsSync(path.join(dir, 'torch', 'model.pt')));
    assert.ok(!existsSync(path.join(dir, 'onnx')));
    assert.ok(server.requests.some((r) => r.path.startsWith('/clip/models/') && r.path.endsWith('/tiny.pt')));
    const result = await downloadModel({ ...options, format: 'onnx' });
    assert.equal(result.status, 'fetched');
    assertSameFiles(dir, [...FILES.keys()]);
    assert.deepEqual(result.files.map((f) => f.path).sort(), [...FILES.keys()].sort());
  });

  test('HTTP_PROXY is used for http URLs, NO_PROXY bypasses it', async () => {
    const proxy = await connectProxy();
    try {
      const { options, dir } = setup({}, { HTTP_PROXY: proxy.url });
      await downloadModel(options);
      assertSameFiles(dir, ONNX_AND_COMMON);
      assert.ok(proxy.targets.includes(new URL(server.hubOrigin).host), `proxy saw ${proxy.targets.join(', ')}`);

      proxy.targets.length = 0;
      const direct = setup({}, { HTTP_PROXY: proxy.url, NO_PROXY: 'localhost,127.0.0.1' });
      await downloadModel(direct.options);
      assert.deepEqual(proxy.targets, []);
    } finally {
      await proxy.close();
    }
  });

  test('an unknown model, a bad manifest, a folder that fetch did not make', async () => {
    const { options } = setup();
    await rejects(downloadModel({ ...options, name: 'ViT-H-14' }), 'BAD_USER_INPUT', /unknown model "ViT-H-14"; known models: tiny, other/);
    const broken = path.join(tempDir('clipql-manifest-'), 'manifest.json');
    writeFileSync(broken, JSON.stringify({ version: 1, models: { tiny: { sources: {}, files: [{ path: '../x', source: 'hub', size: null, sha256: null }] } } }));
    await rejects(downloadModel({ ...options, manifestPath: broken }), 'BAD_MODEL', /models\.tiny\.files\[0\]\.path must be a relative path inside the bundle/);
    mkdirSync(path.join(options.modelsDir, 'tiny', 'onnx'), { recursive: true });
    await rejects(downloadModel(options), 'BAD_USER_INPUT', /exists but was not created by `models download`/);
  });
});

describe('cli: verify, remove, list, usage', () => {
  const io = (env: Record<string, string> = {}) => {
    const out: string[] = [];
    const err: string[] = [];
    return { out, err, io: { out: (s: string) => out.push(s), err: { write: (s: string) => err.push(s) }, env } };
  };

  test('fetch by alias, verify, modify a file, verify fails, remove removes', async () => {
    const { options, dir } = setup();
    const common = ['--manifest', options.manifestPath, '--models-dir', options.modelsDir];
    const f = io({ HF_ENDPOINT: server.hubOrigin });
    assert.equal(await main(['download', 'tiny/336', ...common], f.io), 0, f.out.join(''));
    assert.match(f.out.join(''), /^tiny: \d+ files, .* in /);
    assert.ok(f.err.some((l) => l.includes('[1/')), 'progress on stderr');

    const ok = io();
    assert.equal(await main(['verify', 'tiny', ...common], ok.io), 0, ok.out.join(''));
    assert.match(ok.out.join(''), /tiny: all \d+ files verified/);

    const file = path.join(dir, 'onnx', 'vision_model.onnx');
    const bytes = readFileSync(file);
    bytes[1000] = bytes[1000]! ^ 0xff;
    writeFileSync(file, bytes);
    const bad = io();
    assert.equal(await main(['verify', 'tiny', ...common], bad.io), 1);
    assert.match(bad.out.join(''), /FAILED {4}onnx\/vision_model\.onnx: sha256 [0-9a-f]{64}, expected [0-9a-f]{64}: the file was modified since it was fetched/);

    const listed = io();
    assert.equal(await main(['list', ...common], listed.io), 0);
    assert.match(listed.out.join(''), /tiny \(default\)\s+fetched \[onnx\]/);
    assert.match(listed.out.join(''), /other\s+not fetched/);

    const rm = io();
    assert.equal(await main(['remove', 'tiny', ...common], rm.io), 0);
    assert.ok(!existsSync(dir));
    const listed2 = io();
    await main(['list', ...common], listed2.io);
    assert.match(listed2.out.join(''), /tiny \(default\)\s+not fetched/);
  });

  test('remove refuses a folder fetch did not create; list shows it as local', async () => {
    const { options } = setup();
    const common = ['--manifest', options.manifestPath, '--models-dir', options.modelsDir];
    mkdirSync(path.join(options.modelsDir, 'mine', 'onnx'), { recursive: true });
    writeFileSync(path.join(options.modelsDir, 'mine', 'config.json'), '{}');
    const rm = io();
    assert.equal(await main(['remove', 'mine', ...common], rm.io), 1);
    assert.match(rm.out.join(''), /was not created by `models download`.*not removing it/);
    assert.ok(existsSync(path.join(options.modelsDir, 'mine')));
    const listed = io();
    await main(['list', ...common], listed.io);
    assert.match(listed.out.join(''), /mine\s+local, not in the manifest/);
  });

  test('usage errors exit 2; failures exit 1', async () => {
    const { options } = setup();
    const common = ['--manifest', options.manifestPath, '--models-dir', options.modelsDir];
    const cases: Array<[string[], number, RegExp]> = [
      [[], 2, /no command given/],
      [['frobnicate'], 2, /unknown command "frobnicate"/],
      [['fetch', 'tiny', '--format', 'tflite', ...common], 2, /--format must be one of onnx, torch, all/],
      [['fetch', 'tiny', '--retries', 'many', ...common], 2, /--retries must be a whole number/],
      [['fetch', 'nope', ...common], 2, /unknown model "nope"/],
      [['verify', ...common], 2, /verify needs a model name/],
      [['fetch', 'tiny', '--bogus'], 2, /Unknown option '--bogus'/],
      [['verify', 'tiny', ...common], 1, /does not exist: fetch tiny first/],
    ];
    for (const [argv, code, pattern] of cases) {
      const c = io();
      assert.equal(await main(argv, c.io), code, `${argv.join(' ')}: ${c.out.join('')}`);
      assert.match(c.out.join(''), pattern);
    }
    const help = io();
    assert.equal(await main(['--help'], help.io), 0);
    assert.match(help.out.join(''), /usage: npm run models -- <command>/);
  });
});

describe('helpers', () => {
  test('proxyFor follows curl: scheme-specific variables, NO_PROXY domains, ports and *', () => {
    const env = { HTTPS_PROXY: 'http://proxy:3128', http_proxy: 'http://p2:8080', NO_PROXY: '.internal.example, localhost:8080, 10.0.0.1' };
    assert.equal(proxyFor('https://huggingface.co/x', env), 'http://proxy:3128');
    assert.equal(proxyFor('http://huggingface.co/x', env), 'http://p2:8080');
    assert.equal(proxyFor('https://hub.internal.example/x', env), undefined);
    assert.equal(proxyFor('https://internal.example/x', env), undefined);
    assert.equal(proxyFor('http://localhost:8080/x', env), undefined);
    assert.equal(proxyFor('http://localhost:9090/x', env), 'http://p2:8080');
    assert.equal(proxyFor('http://10.0.0.1/x', env), undefined);
    assert.equal(proxyFor('https://example.com/', { HTTP_PROXY: 'http://p' }), undefined, 'HTTP_PROXY is not used for https');
    assert.equal(proxyFor('https://example.com/', { HTTPS_PROXY: 'http://p', no_proxy: '*' }), undefined);
  });

  test('progress: sizes, durations, a redrawn bar on a terminal', () => {
    assert.equal(formatBytes(999), '999 B');
    assert.equal(formatBytes(1_220_000_000), '1.22 GB');
    assert.equal(formatBytes(862_000), '862 kB');
    assert.equal(formatDuration(31), '0:31');
    assert.equal(formatDuration(3_725), '1:02:05');
    let t = 0;
    const out: string[] = [];
    const p = createProgress({ write: (s: string) => out.push(s), isTTY: true, columns: 200 }, { now: () => t });
    p.start({ label: 'onnx/vision_model.onnx', index: 2, count: 9, total: 1_000_000, offset: 0 });
    t = 1_000;
    p.update(250_000);
    p.done(1_000_000);
    const text = out.join('');
    assert.match(text, /\r\x1b\[K\[2\/9\] onnx\/vision_model\.onnx {2}\[#####-+\] {2}25% {2}250 kB \/ 1.00 MB {2}250 kB\/s {2}ETA 0:03/);
    assert.ok(text.endsWith('\n'));
  });
});
