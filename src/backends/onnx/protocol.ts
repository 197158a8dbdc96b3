/**
 * Messages between OnnxBackend (main thread) and onnx-worker (worker thread). Tensors travel as
 * transferred ArrayBuffers: no copies, no JSON.
 */
import type { TowerSignature } from '../../bundle/bundle';
import type { ImageTransformConfig } from '../../preprocess/image/config';

export interface WorkerConfig {
  readonly visionPath: string;
  readonly textPath: string;
  /** onnxruntime execution provider: "cpu", "webgpu", "cuda". */
  readonly executionProvider: string;
  readonly intraOpThreads: number;
  /** Spin idle intra-op threads (see session-options.ts). */
  readonly spin: boolean;
  /** Niceness of the inference threads (0: as the process; see lowerPriority in onnx-worker.ts). */
  readonly nice: number;
  readonly imageSize: number;
  readonly contextLength: number;
  /** The bundle's image transform: its mean, std and rescaling normalise the uint8 crops (toTensor). */
  readonly transform: ImageTransformConfig;
  /** The names the towers may give their embeddings under (the model family's: ModelFamily.towerOutputs). */
  readonly outputs: { readonly image: readonly string[]; readonly text: readonly string[] };
}

export type Tower = 'image' | 'text';

export interface RunRequest {
  readonly type: 'run';
  readonly id: number;
  readonly tower: Tower;
  /** 'image': one uint8 [S, S, 3] RGB crop per image (the worker normalises them into one batch); 'text': one BigInt64 [count, L] buffer. */
  readonly buffers: readonly ArrayBuffer[];
  readonly count: number;
}

/**
 * Ends the thread at once with `code`, between two messages: a crash as the backend sees it (the
 * tests' fault injection). The backend ends its threads with terminate(), once they are idle.
 */
export interface ExitRequest {
  readonly type: 'exit';
  readonly code: number;
}

export type WorkerRequest = RunRequest | ExitRequest;

export type WorkerMessage =
  | { readonly type: 'ready'; readonly vision: TowerSignature; readonly text: TowerSignature; readonly textHasMask: boolean }
  | { readonly type: 'init-error'; readonly message: string; readonly file?: string }
  | { readonly type: 'result'; readonly id: number; readonly buffer: ArrayBuffer; readonly count: number; readonly dim: number }
  | { readonly type: 'run-error'; readonly id: number; readonly message: string };
