/**
 * The second model of the several-models tests (issue 17): models/generate.py's tiny-224 preset
 * (D = 16, 224 px, patch 32; the committed tiny model is D = 32, 336 px), generated into a
 * temporary folder by the project's venv (torch 2, Pillow 12) with its PyTorch references: the numbers these tests
 * compare with come from PyTorch, never from the code under test. About 3 s; the caller removes
 * the folder.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '../../src/paths';
import { venvPython } from './python';
import type { TinyReference } from './reference';
import { BPE_VOCAB, SHARED } from './shared';

export interface SecondModel {
  /** The folder that holds the bundle; the bundle itself is `<root>/tiny-224`. */
  readonly root: string;
  readonly dir: string;
  readonly reference: TinyReference;
}

export function generateSecondModel(): SecondModel {
  const root = mkdtempSync(path.join(os.tmpdir(), 'clipql-second-model-'));
  const dir = path.join(root, 'tiny-224');
  const args = [path.join(REPO_ROOT, 'models', 'generate.py'), 'tiny-224', '--out', dir, '--fixtures', path.join(root, 'reference'), '--shared', SHARED, '--vocab', BPE_VOCAB(), '--no-torch', '--no-ort-check'];
  execFileSync(venvPython(), args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
  const reference = JSON.parse(readFileSync(path.join(root, 'reference', 'reference.json'), 'utf8')) as TinyReference;
  return { root, dir, reference };
}
