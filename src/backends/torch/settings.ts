/**
 * The torch backend's settings, read once from the environment. Every variable is documented
 * here, where it is parsed; a malformed value is a BACKEND_UNAVAILABLE error at start-up naming
 * the variable, what it got and what it takes.
 *
 *   CLIP_TORCH_DEVICES           where workers run, one worker each: "cpu" (the default when unset:
 *                                one worker on the CPU), or GPU indices "0,1" (also "cuda:0,cuda:1"),
 *                                as torch numbers them, i.e. after HIP_VISIBLE_DEVICES /
 *                                CUDA_VISIBLE_DEVICES. A GPU asked for and absent is an error at
 *                                start-up, never a fall back to the CPU.
 *   CLIP_TORCH_DTYPE             float16 | float32; default float16 on GPUs, float32 on the CPU.
 *                                float16 on the CPU is refused.
 *   CLIP_TORCH_MAX_BATCH         largest image batch per worker call (default 32); text batches
 *                                take 4x as many (128). Larger calls are split across workers.
 *   CLIP_TORCH_PYTHON            the interpreter that has torch (default /usr/bin/python3 when it
 *                                exists, else python3 on the PATH).
 *   CLIP_TORCH_MODEL             a TorchScript file to serve instead of the bundle's torch/model.pt
 *                                (OpenAI's ViT-L-14-336px.pt, say); the bundle still gives the
 *                                preprocessing and tokenizer.
 *   CLIP_TORCH_WORKER            path of worker.py (default: src/backends/torch/worker.py in the
 *                                repository, which tsc does not copy into dist/).
 *   CLIP_TORCH_START_TIMEOUT_MS  how long a worker may take to load and warm up (default 120000).
 *   CLIP_TORCH_CALL_TIMEOUT_MS   how long one call may take, waiting for a worker included
 *                                (default 60000); past it the call fails with TIMEOUT and its
 *                                worker is killed and restarted.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ClipqlError, ErrorCode } from '../../errors';
import { REPO_ROOT } from '../../paths';
import type { BackendOptions } from '../backend';

/** worker.py's place in the repository: dist/ holds only the compiled TypeScript. */
export const DEFAULT_WORKER_SCRIPT = path.join(REPO_ROOT, 'src', 'backends', 'torch', 'worker.py');

export type TorchDtype = 'float32' | 'float16';

export interface TorchSettings {
  /** "cpu" or "cuda:N", one worker each, in the order given. */
  readonly devices: readonly string[];
  readonly dtype: TorchDtype;
  readonly maxImageBatch: number;
  readonly maxTextBatch: number;
  readonly python: string;
  readonly workerScript: string;
  readonly modelFile: string;
  readonly startTimeoutMs: number;
  readonly callTimeoutMs: number;
}

function unavailable(message: string): ClipqlError {
  return new ClipqlError(ErrorCode.BACKEND_UNAVAILABLE, message);
}

function intSetting(env: BackendOptions['env'], name: string, fallback: number, min = 1): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw unavailable(`${name} must be an integer >= ${min}, got ${JSON.stringify(raw)}`);
  return n;
}

export function parseDevices(raw: string | undefined): string[] {
  const text = (raw ?? '').trim().toLowerCase();
  if (text === '' || text === 'cpu') return ['cpu'];
  const devices = text.split(',').map((part) => {
    const p = part.trim();
    const m = /^(?:cuda:)?(\d+)$/.exec(p);
    if (!m) {
      throw unavailable(`CLIP_TORCH_DEVICES must be "cpu" or a comma-separated list of GPU indices such as "0,1", got ${JSON.stringify(raw)} (bad entry ${JSON.stringify(p)})`);
    }
    return `cuda:${Number(m[1])}`;
  });
  const dup = devices.find((d, i) => devices.indexOf(d) !== i);
  if (dup) throw unavailable(`CLIP_TORCH_DEVICES lists ${dup} twice: one worker per GPU`);
  return devices;
}

function defaultPython(): string {
  return existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
}

export function readSettings(options: BackendOptions): TorchSettings {
  const env = options.env;
  const devices = parseDevices(env.CLIP_TORCH_DEVICES);
  const onCpu = devices[0] === 'cpu';
  const rawDtype = (env.CLIP_TORCH_DTYPE ?? '').trim().toLowerCase();
  if (rawDtype !== '' && rawDtype !== 'float32' && rawDtype !== 'float16') {
    throw unavailable(`CLIP_TORCH_DTYPE must be float32 or float16, got ${JSON.stringify(env.CLIP_TORCH_DTYPE)}`);
  }
  const dtype: TorchDtype = rawDtype === '' ? (onCpu ? 'float32' : 'float16') : (rawDtype as TorchDtype);
  if (dtype === 'float16' && onCpu) {
    throw unavailable('CLIP_TORCH_DTYPE=float16 needs a GPU (PyTorch\'s CPU kernels lack half precision for parts of CLIP): use float32 with CLIP_TORCH_DEVICES=cpu, or name GPUs in CLIP_TORCH_DEVICES');
  }
  const maxImageBatch = intSetting(env, 'CLIP_TORCH_MAX_BATCH', 32);
  const modelFile = env.CLIP_TORCH_MODEL ? path.resolve(env.CLIP_TORCH_MODEL) : options.bundle.files.torch;
  if (!modelFile) {
    const expected = path.join(options.bundle.dir, 'torch', 'model.pt');
    throw new ClipqlError(
      ErrorCode.BAD_MODEL,
      `${expected}: missing from the model bundle; the torch backend needs a TorchScript CLIP with encode_image and encode_text there (models/generate.py writes one for the test bundles; OpenAI's released checkpoints such as ViT-L-14-336px.pt are such files), or CLIP_TORCH_MODEL naming one`,
      { details: { file: expected } },
    );
  }
  return {
    devices,
    dtype,
    maxImageBatch,
    maxTextBatch: maxImageBatch * 4,
    python: env.CLIP_TORCH_PYTHON || defaultPython(),
    workerScript: env.CLIP_TORCH_WORKER ? path.resolve(env.CLIP_TORCH_WORKER) : DEFAULT_WORKER_SCRIPT,
    modelFile,
    startTimeoutMs: intSetting(env, 'CLIP_TORCH_START_TIMEOUT_MS', 120_000),
    callTimeoutMs: intSetting(env, 'CLIP_TORCH_CALL_TIMEOUT_MS', 60_000),
  };
}
