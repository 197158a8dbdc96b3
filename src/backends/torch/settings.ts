/**
 * The torch backend's settings, derived from the configuration (config/settings.ts documents and
 * validates each CLIP_TORCH_* variable; the defaults that depend on the devices are set here):
 * where the workers run, their threads and batches in flight, precision, batch limits, the model
 * implementation and attention, CUDA graphs and torch.compile, the interpreter, files and timeouts.
 */
import os from 'node:os';
import path from 'node:path';
import type { Config } from '../../config/config';
import { ClipqlError, ErrorCode } from '../../errors';
import { defaultPython, REPO_ROOT } from '../../paths';
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
  /** The worker process's niceness (Linux), set before torch starts its threads. */
  readonly nice: number;
  readonly python: string;
  /** Start workers through a fork server that imported torch once (fork-server.ts). */
  readonly forkServer: boolean;
  readonly workerScript: string;
  readonly modelFile: string;
  readonly startTimeoutMs: number;
  readonly callTimeoutMs: number;
}

/** "on": powers of two up to the max batch, and the max batch itself. */
function graphSizes(setting: Config['CLIP_TORCH_CUDA_GRAPHS'], maxBatch: number): number[] {
  if (setting !== 'on') return [...setting];
  const out: number[] = [];
  for (let b = 1; b < maxBatch; b *= 2) out.push(b);
  return [...out, maxBatch];
}

export function readSettings(options: BackendOptions): TorchSettings {
  const c = options.config;
  const devices = c.CLIP_TORCH_DEVICES;
  const onCpu = devices[0] === 'cpu';
  const maxImageBatch = c.CLIP_TORCH_MAX_BATCH ?? (onCpu ? 32 : 64);
  const cpuWorkers = devices.filter((d) => d === 'cpu').length;
  const modelFile = c.CLIP_TORCH_MODEL ? path.resolve(c.CLIP_TORCH_MODEL) : (options.bundle.files.torch ?? options.bundle.files.weights);
  if (!modelFile) {
    const expected = path.join(options.bundle.dir, 'torch', 'model.pt');
    throw new ClipqlError(
      ErrorCode.BAD_MODEL,
      `${options.bundle.dir}: no weights for the torch backend: it reads torch/model.pt (TorchScript, such as OpenAI's released ViT-L-14-336px.pt, or a state_dict), model.safetensors or pytorch_model.bin (a Hugging Face CLIP folder), or the file CLIP_TORCH_MODEL names`,
      { details: { file: expected } },
    );
  }
  return {
    devices,
    dtype: c.CLIP_TORCH_DTYPE ?? (onCpu ? 'float32' : 'float16'),
    threads: c.CLIP_TORCH_THREADS ?? (onCpu ? Math.max(1, Math.floor(os.availableParallelism() / cpuWorkers)) : 2),
    inFlight: c.CLIP_TORCH_IN_FLIGHT,
    maxImageBatch,
    maxTextBatch: maxImageBatch * 4,
    impl: c.CLIP_TORCH_IMPL,
    attention: c.CLIP_TORCH_ATTENTION,
    cudaGraphs: graphSizes(c.CLIP_TORCH_CUDA_GRAPHS, maxImageBatch),
    compile: c.CLIP_TORCH_COMPILE,
    nice: c.CLIP_TORCH_NICE ?? (onCpu ? 10 : 0),
    python: c.CLIP_TORCH_PYTHON ?? defaultPython(),
    forkServer: c.CLIP_TORCH_FORK_SERVER,
    workerScript: c.CLIP_TORCH_WORKER ? path.resolve(c.CLIP_TORCH_WORKER) : DEFAULT_WORKER_SCRIPT,
    modelFile,
    startTimeoutMs: c.CLIP_TORCH_START_TIMEOUT_MS,
    callTimeoutMs: c.CLIP_TORCH_CALL_TIMEOUT_MS,
  };
}
