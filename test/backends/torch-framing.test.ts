/**
 * Units of the torch backend that need no Python: the binary framing (whatever way the stream is
 * cut into chunks) and the settings read from the environment.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ModelBundle } from '../../src/bundle/bundle';
import { ClipqlError, ErrorCode } from '../../src/errors';
import { DType, FrameReader, FrameType, HEADER_BYTES, float32Payload, jsonFrame, jsonPayload, tensorHeader, type Frame } from '../../src/backends/torch/framing';
import { readSettings } from '../../src/backends/torch/settings';
import { parseConfig } from '../../src/config/config';

function tensorFrame(id: number, rows: Float32Array, shape: number[]): Buffer {
  const payload = Buffer.from(rows.buffer, rows.byteOffset, rows.byteLength);
  return Buffer.concat([tensorHeader(FrameType.RESULT, id, DType.FLOAT32, shape, payload.length), payload]);
}

describe('framing', () => {
  test('the header is 32 bytes: magic, version, type, dtype, ndim, id, shape, length', () => {
    const h = tensorHeader(FrameType.IMAGE, 7, DType.UINT8, [2, 3, 4, 5], 120);
    assert.equal(h.length, HEADER_BYTES);
    assert.equal(h.subarray(0, 4).toString('latin1'), 'CLPQ');
    assert.deepEqual([h[4], h[5], h[6], h[7]], [2, FrameType.IMAGE, DType.UINT8, 4]);
    assert.equal(h.readUInt32LE(8), 7);
    assert.deepEqual([0, 1, 2, 3].map((i) => h.readUInt32LE(12 + 4 * i)), [2, 3, 4, 5]);
    assert.equal(h.readUInt32LE(28), 120);
  });

  test('frames come out whole and in order however the stream is cut', () => {
    const a = new Float32Array([1.5, -2, 3.25, 4, 5, 6]);
    const stream = Buffer.concat([jsonFrame(FrameType.READY, 0, { dim: 3 }), tensorFrame(1, a, [2, 3]), jsonFrame(FrameType.FAILED, 2, { message: 'no' }), tensorFrame(3, new Float32Array(0), [0, 3])]);
    for (const cut of [1, 3, 7, 31, 32, 33, 64, stream.length]) {
      const reader = new FrameReader();
      const frames: Frame[] = [];
      for (let i = 0; i < stream.length; i += cut) frames.push(...reader.push(stream.subarray(i, i + cut)));
      assert.equal(frames.length, 4, `cut every ${cut} bytes`);
      assert.equal(reader.pending, 0);
      assert.deepEqual(jsonPayload(frames[0].payload), { dim: 3 });
      assert.deepEqual([frames[1].id, ...frames[1].shape], [1, 2, 3]);
      assert.deepEqual(float32Payload(frames[1].payload), a);
      assert.deepEqual(jsonPayload(frames[2].payload), { message: 'no' });
      assert.equal(frames[3].payload.length, 0);
    }
  });

  test('an odd offset does not break float32 payloads (they are copied aligned)', () => {
    const a = new Float32Array([0.1, 0.2, 0.3]);
    const reader = new FrameReader();
    const frames = reader.push(Buffer.concat([Buffer.from([0]), tensorFrame(9, a, [1, 3])]).subarray(1));
    assert.deepEqual(float32Payload(frames[0].payload), a);
  });

  test('a stream out of step is an error, not a guess', () => {
    const bad = Buffer.alloc(HEADER_BYTES, 0x41);
    assert.throws(() => new FrameReader().push(bad), /bad frame header/);
    const h = tensorHeader(FrameType.RESULT, 1, DType.FLOAT32, [2, 3], 20); // 6 floats are 24 bytes
    assert.throws(() => new FrameReader().push(h), /does not match/);
    assert.throws(() => tensorHeader(FrameType.IMAGE, 1, DType.FLOAT32, [1, 2, 3, 4, 5], 0), TypeError);
  });
});

describe('settings', () => {
  const bundle = { dir: '/m/tiny', name: 'tiny', files: { torch: '/m/tiny/torch/model.pt' } } as unknown as ModelBundle;
  const settings = (env: Record<string, string>) => readSettings({ bundle, config: parseConfig(env).config });
  // Bad values are configuration errors, found when the configuration is parsed (config/config.ts).
  const refused = (env: Record<string, string>, pattern: RegExp) =>
    assert.throws(() => settings(env), (e: unknown) => e instanceof ClipqlError && e.code === ErrorCode.BAD_CONFIG && pattern.test(e.message));
  const parseDevices = (raw: string | undefined) => (raw === undefined ? settings({}) : settings({ CLIP_TORCH_DEVICES: raw })).devices;

  test('CLIP_TORCH_DEVICES: cpu by default, several CPU workers, GPU indices as cuda:N (repeats: several workers on one GPU), nonsense refused', () => {
    assert.deepEqual(parseDevices(undefined), ['cpu']);
    assert.deepEqual(parseDevices('cpu'), ['cpu']);
    assert.deepEqual(parseDevices('cpu,cpu'), ['cpu', 'cpu']);
    assert.deepEqual(parseDevices('0,1'), ['cuda:0', 'cuda:1']);
    assert.deepEqual(parseDevices(' cuda:1 , 0 '), ['cuda:1', 'cuda:0']);
    assert.deepEqual(parseDevices('0,0'), ['cuda:0', 'cuda:0']);
    refused({ CLIP_TORCH_DEVICES: 'gpu' }, /CLIP_TORCH_DEVICES="gpu": bad entry "gpu"/);
    refused({ CLIP_TORCH_DEVICES: 'cpu,0' }, /mixes the CPU and GPUs/);
  });

  test('CLIP_TORCH_DTYPE: float16 on GPUs and float32 on the CPU by default; bfloat16 as an option, on the CPU too; float16 on the CPU refused', () => {
    assert.equal(settings({}).dtype, 'float32');
    assert.equal(settings({ CLIP_TORCH_DEVICES: '0' }).dtype, 'float16');
    assert.equal(settings({ CLIP_TORCH_DEVICES: '0', CLIP_TORCH_DTYPE: 'float32' }).dtype, 'float32');
    assert.equal(settings({ CLIP_TORCH_DEVICES: '0', CLIP_TORCH_DTYPE: 'bfloat16' }).dtype, 'bfloat16');
    refused({ CLIP_TORCH_DTYPE: 'float16' }, /float16 needs a GPU/);
    assert.equal(settings({ CLIP_TORCH_DTYPE: 'bfloat16' }).dtype, 'bfloat16', 'bfloat16 on the CPU (oneDNN)');
    refused({ CLIP_TORCH_DEVICES: '0', CLIP_TORCH_DTYPE: 'bf16' }, /CLIP_TORCH_DTYPE="bf16": not a known value; expected one of float32, float16, bfloat16/);
  });

  test("CLIP_TORCH_NICE: 10 for CPU workers (as the onnx backend's inference threads), 0 on GPUs, 0-19", () => {
    assert.equal(settings({}).nice, 10);
    assert.equal(settings({ CLIP_TORCH_DEVICES: '0' }).nice, 0);
    assert.equal(settings({ CLIP_TORCH_NICE: '0' }).nice, 0);
    refused({ CLIP_TORCH_NICE: '20' }, /CLIP_TORCH_NICE/);
  });

  test('threads, batches in flight, implementation, attention, CUDA graphs, compile', () => {
    const d = settings({});
    assert.deepEqual([d.inFlight, d.impl, d.attention, d.cudaGraphs, d.compile], [2, 'eager', 'auto', [], false]);
    assert.equal(settings({ CLIP_TORCH_DEVICES: 'cpu,cpu', CLIP_TORCH_THREADS: '3' }).threads, 3);
    assert.equal(settings({ CLIP_TORCH_DEVICES: '0' }).threads, 2);
    assert.equal(settings({ CLIP_TORCH_DEVICES: '0' }).maxImageBatch, 64, 'GPU default batch');
    assert.deepEqual(settings({ CLIP_TORCH_DEVICES: '0', CLIP_TORCH_CUDA_GRAPHS: 'on' }).cudaGraphs, [1, 2, 4, 8, 16, 32, 64]);
    assert.deepEqual(settings({ CLIP_TORCH_DEVICES: '0', CLIP_TORCH_CUDA_GRAPHS: '32,8,8' }).cudaGraphs, [8, 32]);
    assert.equal(settings({ CLIP_TORCH_DEVICES: '0', CLIP_TORCH_COMPILE: '1' }).compile, true);
    refused({ CLIP_TORCH_CUDA_GRAPHS: 'on' }, /needs GPUs/);
    refused({ CLIP_TORCH_DEVICES: '0', CLIP_TORCH_CUDA_GRAPHS: '8,128' }, /batch sizes must be from 1 to CLIP_TORCH_MAX_BATCH \(64\)/);
    refused({ CLIP_TORCH_IMPL: 'jit' }, /CLIP_TORCH_IMPL="jit": not a known value; expected one of eager, torchscript/);
    refused({ CLIP_TORCH_ATTENTION: 'flash' }, /CLIP_TORCH_ATTENTION="flash": not a known value/);
    refused({ CLIP_TORCH_COMPILE: 'yes' }, /CLIP_TORCH_COMPILE="yes": not a boolean/);
    refused({ CLIP_TORCH_IN_FLIGHT: '0' }, /CLIP_TORCH_IN_FLIGHT="0": out of bounds; expected an integer from 1 to 64/);
  });

  test('batch limits, timeouts, python, model file', () => {
    const s = settings({ CLIP_TORCH_MAX_BATCH: '8', CLIP_TORCH_CALL_TIMEOUT_MS: '500', CLIP_TORCH_PYTHON: '/opt/venv/bin/python', CLIP_TORCH_MODEL: '/x/ViT-L-14-336px.pt' });
    assert.deepEqual([s.maxImageBatch, s.maxTextBatch, s.callTimeoutMs, s.python, s.modelFile], [8, 32, 500, '/opt/venv/bin/python', '/x/ViT-L-14-336px.pt']);
    const d = settings({});
    assert.deepEqual([d.maxImageBatch, d.maxTextBatch, d.callTimeoutMs, d.startTimeoutMs, d.modelFile], [32, 128, 60_000, 120_000, '/m/tiny/torch/model.pt']);
    assert.match(d.workerScript, /src\/backends\/torch\/worker\.py$/);
    refused({ CLIP_TORCH_MAX_BATCH: '0' }, /CLIP_TORCH_MAX_BATCH="0": out of bounds/);
    refused({ CLIP_TORCH_CALL_TIMEOUT_MS: 'soon' }, /CLIP_TORCH_CALL_TIMEOUT_MS="soon": not an integer/);
  });
});
