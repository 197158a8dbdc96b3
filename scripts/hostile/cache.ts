/**
 * The corpus on disk, made once per generator version: test-artifacts/hostile-corpus-<key>/,
 * where the key hashes the seed, the generator's own code and the libvips version (the encoders
 * that make its images). Making the corpus takes seconds (the bombs are real images); reading it
 * takes milliseconds. A folder with a missing or damaged file is made again.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { REPO_ROOT } from '../../src/paths';
import { generateCorpus, type CorpusEntry } from './corpus';

interface Manifest {
  readonly seed: number;
  readonly files: ReadonlyArray<Omit<CorpusEntry, 'bytes'> & { readonly sha256: string; readonly bytes: number }>;
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/**
 * The corpus as files and manifest.json in `dir` (written whole, or not at all). An earlier corpus
 * there is replaced; any other non-empty folder is refused, never deleted.
 */
export function writeCorpus(dir: string, seed: number, corpus: readonly CorpusEntry[]): void {
  if (existsSync(dir) && readdirSync(dir).length > 0 && !existsSync(path.join(dir, 'manifest.json'))) {
    throw new Error(`${dir} exists and holds something other than a corpus; choose an empty or new folder`);
  }
  const partial = `${dir}.partial-${process.pid}`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  for (const e of corpus) writeFileSync(path.join(partial, e.name), e.bytes);
  const manifest: Manifest = { seed, files: corpus.map((e) => ({ name: e.name, bytes: e.bytes.length, sha256: sha256(e.bytes), expect: e.expect, note: e.note })) };
  writeFileSync(path.join(partial, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  rmSync(dir, { recursive: true, force: true });
  renameSync(partial, dir);
}

function readCorpus(dir: string): CorpusEntry[] | undefined {
  try {
    const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Manifest;
    return manifest.files.map((f) => {
      const bytes = readFileSync(path.join(dir, f.name));
      if (sha256(bytes) !== f.sha256) throw new Error(`${f.name} changed`);
      return { name: f.name, bytes, expect: f.expect, note: f.note };
    });
  } catch {
    return undefined;
  }
}

/** The corpus for `seed`, from the cache folder when it is there and whole, else made and cached. */
export async function cachedCorpus(seed = 1): Promise<CorpusEntry[]> {
  const code = ['corpus.js', 'bytes.js'].map((f) => readFileSync(path.join(__dirname, f), 'utf8')).join('\n');
  const key = createHash('sha256').update(`${seed}\n${sharp.versions.vips}\n${code}`).digest('hex').slice(0, 12);
  const dir = path.join(REPO_ROOT, 'test-artifacts', `hostile-corpus-${key}`);
  const cached = existsSync(dir) ? readCorpus(dir) : undefined;
  if (cached) return cached;
  const corpus = await generateCorpus(seed);
  writeCorpus(dir, seed, corpus);
  // Corpora of earlier generator versions are of no further use.
  for (const old of readdirSync(path.dirname(dir))) {
    if (old.startsWith('hostile-corpus-') && old !== path.basename(dir) && !old.includes('.partial-')) rmSync(path.join(path.dirname(dir), old), { recursive: true, force: true });
  }
  return corpus;
}
