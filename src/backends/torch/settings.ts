/**
 * The torch backend's settings, read once from the environment. Every variable is documented
 * here, where it is parsed; a malformed value is a BACKEND_UNAVAILABLE error at start-up naming
 * the variable, what it got and what it takes.
 *
 *   CLIP_TORCH_DEVICES           where workers run, one worker process per entry: "cpu" (the
 *                                default), "cpu,cpu" (two CPU workers), or GPU indices "0,1" (also
 *                                "cuda:0,cuda:1") as torch numbers them, i.e. after
 *                                HIP_VISIBLE_DEVICES / CUDA_VISIBLE_DEVICES. An MI250 shows up as
 *                                two GPUs: "0,1" uses the whole card. An index may repeat ("0,0":
 *                                two workers on one GPU, Triton's instance groups). A GPU asked for
 *                                and absent is an error at start-up, never a fall back to the CPU.
 *   CLIP_TORCH_THREADS           torch's intra-op threads in each worker; default: on the CPU the
 *                                cores divided among the CPU workers, on a GPU 2 (the worker's CPU
 *                                work is copying bytes; preprocessing needs the cores).
 *   CLIP_TORCH_IN_FLIGHT         batches kept in flight per worker (default 2: one computing, one
 *                                arriving, so the upload of the next overlaps the compute).
 *   CLIP_TORCH_DTYPE             float32 | float16 | bfloat16; default float16 on GPUs, float32 on
 *                                the CPU. Half precision on the CPU is refused.
 *   CLIP_TORCH_MAX_BATCH         largest image batch per worker call (default 64 on GPUs, 32 on
 *                                the CPU); text batches take 4x as many. Larger calls are split
 *                                across workers.
 *   CLIP_TORCH_IMPL              eager (default: CLIP in eager PyTorch built from the file's
 *                                weights, clip_model.py) | torchscript (the file's TorchScript
 *                                graphs, for checkpoints the eager builder cannot read).
 *   CLIP_TORCH_ATTENTION         auto (default: SDPA, fused kernels, where torch has it: 2.0+) |
 *                                sdpa | math (the plain formula).
 *   CLIP_TORCH_CUDA_GRAPHS       off (default) | on (batch sizes 1, 2, 4, ... up to the max batch)
 *                                | a list of image batch sizes "8,16,32,64" to capture as CUDA
 *                                graphs (hipGraph on ROCm); other sizes are padded up to the next
 *                                one, and the batcher cuts batches to suit them. GPUs only.
 *   CLIP_TORCH_COMPILE           0 (default) | 1: torch.compile the eager towers (torch 2).
 *   CLIP_TORCH_PYTHON            the interpreter that has torch (default /usr/bin/python3 when it
 *                                exists, else python3 on the PATH).
 *   CLIP_TORCH_MODEL             a TorchScript file (or state_dict) to serve instead of the
 *                                bundle's torch/model.pt (OpenAI's ViT-L-14-336px.pt, say); the
 *                                bundle still gives the preprocessing, tokenizer and head counts.
 *   CLIP_TORCH_WORKER            path of worker.py (default: src/backends/torch/worker.py in the
 *                                repository, which tsc does not copy into dist/).
 *   CLIP_TORCH_START_TIMEOUT_MS  how long a worker may take to load and warm up (default 120000;
 *                                graph capture and compilation count).
 *   CLIP_TORCH_CALL_TIMEOUT_MS   how long one call may take, waiting for a worker included
 *                                (default 60000); past it the call fails with TIMEOUT and its
 *                                worker is killed and restarted.
 */
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ClipqlError, ErrorCode } from '../../errors';
import { REPO_ROOT } from '../../paths';
import type { BackendOptions } from '../backend';

/** worker.py's place in the repository: dist/ holds only the compiled TypeScript. */
export const DEFAULT_WORKER_SCRIPT = path.join(REPO_ROOT, 'src', 'backends', 'torch', 'worker.py');

export type TorchDtype = 'float32' | 'float16' | 'bfloat16';
export type TorchImpl = 'eager' | 'torchscript';
export type TorchAttention = 'auto' | 'sdpa' | 'math';

export interface TorchSettings {
  /** "cpu" or "cuda:N", one worker each, in the order given (repeats allowed). */
  readonly devices: readonly string[];
  readonly dtype: TorchDtype;
  readonly threads: number;
  readonly inFlight: number;
  readonly maxImageBatch: number;
  readonly maxTextBatch: number;
  readonly impl: TorchImpl;
  readonly attention: TorchAttention;
  /** Image batch sizes captured as CUDA graphs, ascending; empty when off. */
  readonly cudaGraphs: readonly number[];
  readonly compile: boolean;
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

function choice<T extends string>(env: BackendOptions['env'], name: string, allowed: readonly T[], fallback: T): T {
  const raw = (env[name] ?? '').trim().toLowerCase();
  if (raw === '') return fallback;
  if (!(allowed as readonly string[]).includes(raw)) throw unavailable(`${name} must be one of ${allowed.join(', ')}, got ${JSON.stringify(env[name])}`);
  return raw as T;
}

export function parseDevices(raw: string | undefined): string[] {
  const text = (raw ?? '').trim().toLowerCase();
  if (text === '') return ['cpu'];
  const devices = text.split(',').map((part) => {
    const p = part.trim();
    if (p === 'cpu') return 'cpu';
    const m = /^(?:cuda:)?(\d+)$/.exec(p);
    if (!m) {
      throw unavailable(`CLIP_TORCH_DEVICES must be "cpu", "cpu,cpu" or a comma-separated list of GPU indices such as "0,1", got ${JSON.stringify(raw)} (bad entry ${JSON.stringify(p)})`);
    }
    return `cuda:${Number(m[1])}`;
  });
  if (devices.includes('cpu') && devices.some((d) => d !== 'cpu')) {
    throw unavailable(`CLIP_TORCH_DEVICES mixes the CPU and GPUs (${JSON.stringify(raw)}): their precision and batch sizes differ; run one or the other`);
  }
  return devices;
}

/** CLIP_TORCH_CUDA_GRAPHS: off, on (powers of two up to the max batch), or a list of sizes. */
export function parseGraphs(raw: string | undefined, maxBatch: number): number[] {
  const text = (raw ?? '').trim().toLowerCase();
  if (text === '' || text === 'off' || text === '0') return [];
  if (text === 'on' || text === '1') {
    const out: number[] = [];
    for (let b = 1; b < maxBatch; b *= 2) out.push(b);
    return [...out, maxBatch];
  }
  const sizes = text.split(',').map((p) => Number(p.trim()));
  if (sizes.some((n) => !Number.isInteger(n) || n < 1 || n > maxBatch)) {
    throw unavailable(`CLIP_TORCH_CUDA_GRAPHS must be off, on, or batch sizes from 1 to CLIP_TORCH_MAX_BATCH (${maxBatch}) such as "8,16,32,64", got ${JSON.stringify(raw)}`);
  }
  return [...new Set(sizes)].sort((a, b) => a - b);
}

function defaultPython(): string {
  return existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
}

export function readSettings(options: BackendOptions): TorchSettings {
  const env = options.env;
  const devices = parseDevices(env.CLIP_TORCH_DEVICES);
  const onCpu = devices[0] === 'cpu';
  const dtype = choice<TorchDtype>(env, 'CLIP_TORCH_DTYPE', ['float32', 'float16', 'bfloat16'], onCpu ? 'float32' : 'float16');
  if (dtype !== 'float32' && onCpu) {
    throw unavailable(`CLIP_TORCH_DTYPE=${dtype} needs a GPU (PyTorch's CPU kernels lack half precision for parts of CLIP): use float32 with CLIP_TORCH_DEVICES=cpu, or name GPUs in CLIP_TORCH_DEVICES`);
  }
  const maxImageBatch = intSetting(env, 'CLIP_TORCH_MAX_BATCH', onCpu ? 32 : 64);
  const cudaGraphs = parseGraphs(env.CLIP_TORCH_CUDA_GRAPHS, maxImageBatch);
  if (cudaGraphs.length > 0 && onCpu) throw unavailable('CLIP_TORCH_CUDA_GRAPHS needs GPUs in CLIP_TORCH_DEVICES (CUDA graphs, hipGraph on ROCm)');
  const cpuWorkers = devices.filter((d) => d === 'cpu').length;
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
    threads: intSetting(env, 'CLIP_TORCH_THREADS', onCpu ? Math.max(1, Math.floor(os.availableParallelism() / cpuWorkers)) : 2),
    inFlight: intSetting(env, 'CLIP_TORCH_IN_FLIGHT', 2),
    maxImageBatch,
    maxTextBatch: maxImageBatch * 4,
    impl: choice<TorchImpl>(env, 'CLIP_TORCH_IMPL', ['eager', 'torchscript'], 'eager'),
    attention: choice<TorchAttention>(env, 'CLIP_TORCH_ATTENTION', ['auto', 'sdpa', 'math'], 'auto'),
    cudaGraphs,
    compile: choice(env, 'CLIP_TORCH_COMPILE', ['0', '1'], '0') === '1',
    python: env.CLIP_TORCH_PYTHON || defaultPython(),
    workerScript: env.CLIP_TORCH_WORKER ? path.resolve(env.CLIP_TORCH_WORKER) : DEFAULT_WORKER_SCRIPT,
    modelFile,
    startTimeoutMs: intSetting(env, 'CLIP_TORCH_START_TIMEOUT_MS', 120_000),
    callTimeoutMs: intSetting(env, 'CLIP_TORCH_CALL_TIMEOUT_MS', 60_000),
  };
}
