/**
 * What the torch backend's tests share: a backend on the CPU with real worker processes
 * (Debian's python3-torch), seeded random crops, token rows and a typed rejection check.
 */
import assert from 'node:assert/strict';
import type { ImageBatch, TokenBatch } from '../../src/backends/backend';
import { TorchBackend } from '../../src/backends/torch/torch-backend';
import type { ModelBundle } from '../../src/bundle/bundle';
import { parseConfig } from '../../src/config/config';
import { ClipqlError, type ErrorCode } from '../../src/errors';

export const CPU_ENV = { ...process.env, CLIP_TORCH_DEVICES: 'cpu', CLIP_TORCH_DTYPE: 'float32', CLIP_ONNX_EP: 'cpu' };

/** A torch backend on the CPU; an empty value in `env` unsets that variable (the configuration refuses empty values). */
export function torchBackend(bundle: ModelBundle, env: Record<string, string> = {}): TorchBackend {
  const merged: Record<string, string | undefined> = { ...CPU_ENV, ...env };
  for (const k of Object.keys(merged)) if (merged[k] === '') delete merged[k];
  return new TorchBackend({ bundle, config: parseConfig(merged).config });
}

/** `count` seeded pseudo-random RGB crops of `size` (fresh buffers each call: backends may detach them). */
export function randomCrops(size: number, count: number, seed: number): ImageBatch {
  let x = seed >>> 0;
  const pixels = Array.from({ length: count }, () => {
    const t = new Uint8Array(size * size * 3);
    for (let i = 0; i < t.length; i++) {
      x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
      t[i] = x >>> 24;
    }
    return t;
  });
  return { pixels, size };
}

/** Token rows (without SOT/EOT) of a few short captions. */
export const TOKEN_ROWS = [[320, 1125, 539, 320, 2368], [320, 1929], [550, 2441, 786, 12, 320, 896, 1374], [2368], [320, 3086, 539, 1237], [1929, 267, 2368]];

export function tokenBatch(contextLength: number, rows: number[][] = TOKEN_ROWS): TokenBatch {
  const ids = new BigInt64Array(rows.length * contextLength);
  rows.forEach((row, r) => [49406, ...row, 49407].forEach((t, i) => (ids[r * contextLength + i] = BigInt(t))));
  return { ids, count: rows.length, contextLength };
}

/** Awaits a rejection with a ClipqlError of `code` and returns it. */
export async function rejection(p: Promise<unknown>, code: ErrorCode, what: string): Promise<ClipqlError> {
  const e = await p.then(
    () => assert.fail(`${what}: expected a ${code} rejection, it resolved`),
    (err: unknown) => err,
  );
  assert.ok(e instanceof ClipqlError, `${what}: expected a ClipqlError, got ${String(e)}`);
  assert.equal(e.code, code, `${what}: got ${e.code}: ${e.message}`);
  return e;
}
