/**
 * The workplace's shared files (../shared beside the repository, or $CLIPQL_SHARED): OpenAI's BPE
 * vocabulary and the eight images and captions of OpenAI's CLIP notebook. Tests fail with a clear
 * message when they are missing, rather than skipping.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../../src/paths';

export const SHARED = process.env.CLIPQL_SHARED ?? path.join(REPO_ROOT, '..', 'shared');

export function sharedFile(...parts: string[]): string {
  const p = path.join(SHARED, ...parts);
  if (!existsSync(p)) {
    throw new Error(`${p} is missing: the tests need the shared files (OpenAI's CLIP vocabulary bpe_simple_vocab_16e6.txt.gz and the CLIP notebook images) in ../shared beside the repository or in $CLIPQL_SHARED`);
  }
  return p;
}

export const BPE_VOCAB = (): string => sharedFile('clip', 'bpe_simple_vocab_16e6.txt.gz');

export interface NotebookItem {
  readonly file: string;
  readonly path: string;
  readonly caption: string;
}

/** The eight notebook images with their captions, in captions.json order. */
export function notebook(): NotebookItem[] {
  const captions = JSON.parse(readFileSync(sharedFile('images', 'notebook', 'captions.json'), 'utf8')) as Record<string, string>;
  return Object.entries(captions).map(([file, caption]) => ({ file, path: sharedFile('images', 'notebook', file), caption }));
}

/** captions.json and the eight images: every notebook file a generator reads. */
export function notebookFiles(): string[] {
  return [sharedFile('images', 'notebook', 'captions.json'), ...notebook().map((it) => it.path)];
}

export const TINY_REFERENCE_DIR = path.join(REPO_ROOT, 'test', 'fixtures', 'tiny-clip-336');
