/**
 * The two Python interpreters the tests run:
 * - the project's venv (scripts/install-python.sh, which the README's test command runs): torch 2
 *   (SDPA, half precision on the CPU, torch.compile), transformers, safetensors, onnx, faiss. The
 *   default of the torch backend and of the model scripts; the tests fail, never skip, without it.
 * - Debian's /usr/bin/python3 (python3-torch 1.13, torchvision 0.14, Pillow 9.4): the supported
 *   fallback for the plain-attention path, and the PIL + torchvision pixel references.
 */
import { existsSync } from 'node:fs';
import { PROJECT_PYTHON } from '../../src/paths';

export const DEBIAN_PYTHON = '/usr/bin/python3';

export function venvPython(): string {
  if (!existsSync(PROJECT_PYTHON)) {
    throw new Error(`${PROJECT_PYTHON} is missing: the tests need the project's Python environment (bash scripts/install-python.sh; the README's test command runs it)`);
  }
  return PROJECT_PYTHON;
}
