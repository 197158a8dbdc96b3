/**
 * The SigLIP-family fixtures, made by transformers (test/reference/siglip_*.py) once per content
 * of the scripts into the git-ignored test-artifacts/; later runs reuse them.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../../src/paths';
import { cachedFixture } from './fixture-cache';
import { withLock } from './lock';
import { venvPython } from './python';
import { SHARED } from './shared';

const SCRIPT = path.join(REPO_ROOT, 'test', 'reference', 'siglip_tokenizers.py');

export interface SiglipAnswers {
  readonly strings: string[];
  readonly siglip: number[][];
  readonly siglip2: number[][];
  readonly siglip_untruncated: number[];
  readonly siglip2_untruncated: number[];
  readonly images: string[];
}

/** The fixture folder (siglip/, siglip2/, pixels/, answers.json), made when missing. */
export async function siglipFixtures(): Promise<string> {
  const digest = createHash('sha256').update(readFileSync(SCRIPT)).digest('hex').slice(0, 12);
  const dir = path.join(REPO_ROOT, 'test-artifacts', `siglip-tokenizers-${digest}`);
  if (existsSync(path.join(dir, 'answers.json'))) return dir;
  return withLock('siglip-tokenizers', async () => {
    if (existsSync(path.join(dir, 'answers.json'))) return dir;
    const tmp = `${dir}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(path.dirname(dir), { recursive: true });
    await promisify(execFile)(venvPython(), [SCRIPT, tmp, SHARED], { timeout: 600_000, maxBuffer: 1 << 22, env: { ...process.env, OMP_NUM_THREADS: '1' } });
    renameSync(tmp, dir);
    return dir;
  });
}

export function siglipAnswers(dir: string): SiglipAnswers {
  return JSON.parse(readFileSync(path.join(dir, 'answers.json'), 'utf8')) as SiglipAnswers;
}

const MODELS_SCRIPT = path.join(REPO_ROOT, 'test', 'reference', 'siglip_models.py');
const EXPORTERS = ['export.py', 'export_siglip.py'].map((f) => path.join(REPO_ROOT, 'models', f));
export const SIGLIP_MODELS = ['siglip-p16', 'siglip2-p14'] as const;

export interface SiglipModelAnswers {
  readonly images: string[];
  readonly captions: string[];
  readonly tokens: number[][];
  readonly image_embeds: number[][];
  readonly text_embeds: number[][];
  /** [image][caption]: sigmoid of SiglipModel.forward's logits_per_image. */
  readonly probabilities_per_image: number[][];
  readonly logit_scale: number;
  readonly logit_bias: number;
}

/**
 * siglip_models.py's seeded SiglipModel folders (DIR/<name>/) and transformers' answers
 * (DIR/<name>.json), and each folder exported by `models/export.py` (DIR/<name>-onnx/): made once
 * per content of the scripts and exporters, into test-artifacts/.
 */
export async function siglipModels(): Promise<string> {
  const tokenizers = await siglipFixtures();
  const h = createHash('sha256');
  for (const f of [SCRIPT, MODELS_SCRIPT, ...EXPORTERS]) h.update(readFileSync(f));
  const dir = path.join(REPO_ROOT, 'test-artifacts', `siglip-models-${h.digest('hex').slice(0, 12)}`);
  if (existsSync(path.join(dir, 'done'))) return dir;
  return withLock('siglip-models', async () => {
    if (existsSync(path.join(dir, 'done'))) return dir;
    const tmp = `${dir}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    const env = { ...process.env, OMP_NUM_THREADS: '1' };
    const run = promisify(execFile);
    await run(venvPython(), [MODELS_SCRIPT, tmp, tokenizers, SHARED], { timeout: 600_000, maxBuffer: 1 << 22, env });
    for (const name of SIGLIP_MODELS) {
      await run(venvPython(), [EXPORTERS[0], path.join(tmp, name), '--out', path.join(tmp, `${name}-onnx`), '--images', path.join(SHARED, 'images', 'notebook')], { timeout: 600_000, maxBuffer: 1 << 22, env });
    }
    writeFileSync(path.join(tmp, 'done'), '');
    renameSync(tmp, dir);
    return dir;
  });
}

export function siglipModelAnswers(dir: string, name: string): SiglipModelAnswers {
  return JSON.parse(readFileSync(path.join(dir, `${name}.json`), 'utf8')) as SiglipModelAnswers;
}

/**
 * A cache folder (the product's CLIP_CACHE_DIR) shared by the tests that use SigLIP bundles but
 * are not about deriving tokenizer.json from spiece.model: the first of them derives it
 * (transformers, about 2.5 s of CPU), the others read it. The product's cache is made to be
 * shared by processes (derive_tokenizer.py writes tokenizer.json by rename), so, unlike other
 * fixtures, this folder is written by the code under test. Keyed like one (fixture-cache.ts): by
 * the interpreter and the deriving script, so a change of either derives afresh.
 * test/families/siglip.test.ts keeps an empty cache of its own: it checks the derivation.
 */
export function sharedTokenizerCache(): Promise<string> {
  const derive = path.join(REPO_ROOT, 'src', 'families', 'siglip', 'derive_tokenizer.py');
  return cachedFixture('tokenizer-cache', { pythons: [venvPython()], files: [derive] }, async (dir) => mkdirSync(dir));
}
