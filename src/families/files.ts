/** File helpers the families share: existence, the derived-files cache (never the model folder). */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ClipqlError, ErrorCode } from '../errors';
import { buildVocabFiles } from '../preprocess/text/vocab';

export async function fileExists(p: string): Promise<boolean> {
  return fs.stat(p).then((s) => s.isFile(), () => false);
}

export function missingTokenizer(file: string, what: string): ClipqlError {
  return new ClipqlError(ErrorCode.BAD_MODEL, `${file}: tokenizer files missing: ${what}`, { details: { file } });
}

/**
 * A cache subfolder named `${prefix}-${sha256 of source}` holding `done` (the file whose presence
 * says it is complete), made by `build(dir)` when absent. The cache folder first, the system's
 * temporary folder when that cannot be written (a read-only home).
 */
export async function cachedDerivation(source: string, prefix: string, done: string, cacheDir: string, build: (dir: string) => Promise<void>): Promise<string> {
  const digest = createHash('sha256').update(await fs.readFile(source).catch(() => Buffer.alloc(0))).digest('hex').slice(0, 16);
  for (const base of [cacheDir, path.join(os.tmpdir(), `clipql-cache-${os.userInfo().uid}`)]) {
    const dir = path.join(base, `${prefix}-${digest}`);
    if (await fileExists(path.join(dir, done))) return dir;
    try {
      await build(dir);
      return dir;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? (e as { cause?: NodeJS.ErrnoException }).cause?.code;
      if (e instanceof ClipqlError || !['EACCES', 'EROFS', 'EPERM', 'ENOTDIR'].includes(code ?? '')) throw e;
    }
  }
  throw new ClipqlError(ErrorCode.BAD_MODEL, `${cacheDir}: cannot be written, nor can the temporary folder: set CLIP_CACHE_DIR to a writable folder`, { details: { file: cacheDir } });
}

/** vocab.json + merges.txt built from OpenAI's BPE file (CLIP bundles without tokenizer files). */
export function cachedVocab(bpeVocab: string, cacheDir: string): Promise<string> {
  return cachedDerivation(bpeVocab, 'bpe', 'vocab.json', cacheDir, (dir) => buildVocabFiles(bpeVocab, dir));
}
