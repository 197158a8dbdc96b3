/** The default number of preprocessing threads follows the machine and the default backend. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BackendCapacity } from '../../src/backends/backend';
import { ClipPipeline, defaultPreprocessThreads } from '../../src/pipeline';
import { TINY_MODEL_DIR } from '../../src/paths';

const cap = (hostThreads: number): BackendCapacity => ({ devices: 1, perDevice: 1, hostThreads, imageBatchSizes: [] });

test('the cores inference leaves, less one for the event loop, at least one', () => {
  assert.equal(defaultPreprocessThreads(2, cap(2)), 1, 'onnx on 2 cores: its threads take both');
  assert.equal(defaultPreprocessThreads(16, cap(16)), 1, 'onnx on 16 cores');
  assert.equal(defaultPreprocessThreads(16, cap(1)), 14, 'one GPU worker on 16 cores');
  assert.equal(defaultPreprocessThreads(16, cap(2)), 13, 'two GPU workers');
  assert.equal(defaultPreprocessThreads(16, undefined), 1, 'unknown backend');
});

test('the pipeline uses it, and CLIP_PREPROCESS_THREADS overrides it', async () => {
  const env: Record<string, string | undefined> = { ...process.env, CLIP_ONNX_THREADS: '1' };
  delete env.CLIP_PREPROCESS_THREADS;
  const cores = (await import('node:os')).availableParallelism();
  const a = await ClipPipeline.open({ modelDir: TINY_MODEL_DIR, env });
  const b = await ClipPipeline.open({ modelDir: TINY_MODEL_DIR, env: { ...env, CLIP_PREPROCESS_THREADS: '3' } });
  try {
    assert.equal(a.preprocessThreads, Math.max(1, cores - 1 - 1), 'onnx with one inference thread');
    assert.equal(b.preprocessThreads, 3);
  } finally {
    await a.close();
    await b.close();
  }
});
