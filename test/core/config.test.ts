/**
 * The one configuration (src/config): every bad value stops start-up with exit status 2 within
 * 10 s and a message naming the variable, the value and what is allowed, for each kind of
 * setting; unknown CLIP_* variables are warned about; nothing else reads the environment;
 * docs/configuration.md's table is the generated one.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { parseConfig } from '../../src/config/config';
import { REPO_ROOT, TINY_MODEL_DIR } from '../../src/paths';
import { CONFIG_DOC, withTable } from '../../scripts/config-table';
import { BPE_VOCAB } from '../helpers/shared';

function runServer(env: Record<string, string>): Promise<{ code: number | null; stderr: string; ms: number }> {
  const started = Date.now();
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'dist', 'src', 'server', 'main.js')], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, CLIP_MODEL: TINY_MODEL_DIR, CLIP_VOCAB: BPE_VOCAB(), PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr, ms: Date.now() - started });
    });
  });
}

// One case per kind of setting and kind of mistake: [variable, value, what the message must say].
const CASES: Array<[string, string, RegExp]> = [
  ['CLIP_SHUTDOWN_TIMEOUT_MS', '30s', /CLIP_SHUTDOWN_TIMEOUT_MS="30s": not an integer; expected an integer >= 0 \(milliseconds, no unit\)/],
  ['PORT', '70000', /PORT="70000": out of bounds; expected an integer from 0 to 65535/],
  ['PORT', '', /PORT="": empty; unset it for the default \(4000\)/],
  ['CLIP_MAX_IMAGES', '0', /CLIP_MAX_IMAGES="0": out of bounds; expected an integer >= 1/],
  ['CLIP_PREPROCESS', 'exakt', /CLIP_PREPROCESS="exakt": not a known value; expected one of exact, fast/],
  ['CLIP_ALLOW_PRIVATE_URLS', 'yes', /CLIP_ALLOW_PRIVATE_URLS="yes": not a boolean; expected 0 or 1/],
  ['CLIP_FETCH_ALLOW_HOSTS', 'a b', /CLIP_FETCH_ALLOW_HOSTS="a b": bad entry "a b"/],
  ['CLIP_TORCH_DEVICES', 'gpu0', /CLIP_TORCH_DEVICES="gpu0": bad entry "gpu0"/],
  ['CLIP_TORCH_DTYPE', 'float16', /CLIP_TORCH_DTYPE=float16 needs a GPU/],
  ['HOST', ' ', /HOST=" ": empty/],
];

for (const [name, value, message] of CASES) {
  test(`${name}=${JSON.stringify(value)}: exit 2 within 10 s, naming the variable and what is allowed`, async () => {
    const r = await runServer({ [name]: value });
    assert.equal(r.code, 2, r.stderr);
    assert.ok(r.ms < 10_000, `took ${r.ms} ms`);
    assert.match(r.stderr, /error \[BAD_CONFIG\]: bad configuration:/);
    assert.match(r.stderr, message);
  });
}

test('every bad variable is named at once; secrets are not echoed', () => {
  assert.throws(
    () => parseConfig({ PORT: 'x', CLIP_BATCH_DELAY_MS: '-1', HF_TOKEN: '' }),
    (e: Error) => /PORT="x"/.test(e.message) && /CLIP_BATCH_DELAY_MS="-1"/.test(e.message) && /HF_TOKEN=<hidden>: empty/.test(e.message),
  );
});

test('an unknown CLIP_* variable is a warning naming the nearest known one', () => {
  const { warnings } = parseConfig({ CLIP_TORCH_DEVICE: 'cpu', CLIP_PREPROCES: 'fast', OTHER: '1' });
  assert.deepEqual(warnings, [
    'unknown setting CLIP_PREPROCES (ignored): did you mean CLIP_PREPROCESS?',
    'unknown setting CLIP_TORCH_DEVICE (ignored): did you mean CLIP_TORCH_DEVICES?',
  ]);
});

test('the parsed configuration is typed and frozen, with the documented defaults', () => {
  const { config } = parseConfig({ CLIP_TORCH_DEVICES: 'cpu,cpu', CLIP_FETCH_ALLOW_HOSTS: 'Images.Internal:8080, cdn' });
  assert.equal(config.PORT, 4000);
  assert.equal(config.CLIP_AUTO_FETCH, true);
  assert.deepEqual(config.CLIP_TORCH_DEVICES, ['cpu', 'cpu']);
  assert.deepEqual(config.CLIP_FETCH_ALLOW_HOSTS, ['images.internal:8080', 'cdn']);
  assert.equal(config.CLIP_TORCH_THREADS, undefined);
  assert.ok(Object.isFrozen(config));
});

test('nothing in src/ reads process.env but the configuration module', () => {
  const walk = (d: string): string[] => readdirSync(d).flatMap((f) => (statSync(path.join(d, f)).isDirectory() ? walk(path.join(d, f)) : [path.join(d, f)]));
  const src = path.join(REPO_ROOT, 'src');
  const readers = walk(src)
    .filter((f) => /\.(ts|py)$/.test(f) && readFileSync(f, 'utf8').includes('process.env'))
    .map((f) => path.relative(src, f));
  assert.deepEqual(readers, ['config/config.ts']);
});

test("docs/configuration.md's configuration table is the generated one (npm run config-table)", () => {
  const text = readFileSync(CONFIG_DOC, 'utf8');
  assert.equal(withTable(text), text, 'docs/configuration.md is stale: run npm run config-table');
});

test('CLIP_MODELS: name=dir pairs in order; bad entries, repeated names, and CLIP_MODEL beside it are refused naming the variables', () => {
  assert.deepEqual(parseConfig({ CLIP_MODELS: 'large=models/ViT-L-14-336, base=/srv/b32' }).config.CLIP_MODELS, [
    { name: 'large', dir: 'models/ViT-L-14-336' },
    { name: 'base', dir: '/srv/b32' },
  ]);
  const refused = (env: Record<string, string>) => {
    try {
      parseConfig(env);
    } catch (e) {
      return (e as Error).message;
    }
    throw new Error(`accepted ${JSON.stringify(env)}`);
  };
  assert.match(refused({ CLIP_MODELS: 'models/a' }), /CLIP_MODELS="models\/a": bad entry .*name=dir/);
  assert.match(refused({ CLIP_MODELS: 'a=x,a=y' }), /CLIP_MODELS=.*the model name a is given twice/);
  assert.match(refused({ CLIP_MODELS: 'b@d=x' }), /CLIP_MODELS=.*bad model name "b@d"/);
  const both = refused({ CLIP_MODEL: 'models/a', CLIP_MODELS: 'a=models/a' });
  assert.match(both, /CLIP_MODEL and CLIP_MODELS are both set/);
});
