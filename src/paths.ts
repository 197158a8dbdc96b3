/** Where things are, relative to the installed package (dist/src/paths.js → repo root). */
import { existsSync } from 'node:fs';
import path from 'node:path';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');

/** The committed tiny test model (seeded random weights: never silently used for real work). */
export const TINY_MODEL_DIR = path.join(REPO_ROOT, 'models', 'tiny-clip-336');

/**
 * OpenAI's BPE vocabulary file (bpe_simple_vocab_16e6.txt.gz): CLIP_VOCAB, else the workplace's
 * ../shared/clip copy beside the repository (or CLIPQL_SHARED's). Undefined when neither exists.
 * `env` is the configuration (or, in tests and scripts, an environment).
 */
export function defaultBpeVocab(env: { readonly CLIP_VOCAB?: string; readonly CLIPQL_SHARED?: string } = {}): string | undefined {
  if (env.CLIP_VOCAB) return path.resolve(env.CLIP_VOCAB);
  const shared = path.join(env.CLIPQL_SHARED ?? path.join(REPO_ROOT, '..', 'shared'), 'clip', 'bpe_simple_vocab_16e6.txt.gz');
  return existsSync(shared) ? shared : undefined;
}

/** The project's Python environment (scripts/install-python.sh): torch 2, transformers, safetensors, onnx. */
export const PROJECT_PYTHON = path.join(REPO_ROOT, '.venv', 'bin', 'python');

/**
 * The interpreter for the torch backend's workers and the model scripts when CLIP_TORCH_PYTHON is
 * unset: the project's venv, else Debian's /usr/bin/python3 (python3-torch), else python3.
 */
export function defaultPython(): string {
  if (existsSync(PROJECT_PYTHON)) return PROJECT_PYTHON;
  return existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
}
