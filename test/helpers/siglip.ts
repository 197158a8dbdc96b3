/**
 * The SigLIP-family fixtures of test/reference/siglip_tokenizers.py (tokenizers trained here,
 * transformers' ids and pixels), made once per content of that script into the git-ignored
 * test-artifacts/ (one Python process; later runs reuse it).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../../src/paths';
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
