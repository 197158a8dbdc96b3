/**
 * The limit: onnxruntime's raw session throughput for one tower at the given batch sizes, with the
 * service's own session options (src/backends/onnx/session-options.ts) and no server, in a process
 * of its own. Inputs are random (speed does not depend on values).
 *
 *   node dist/scripts/bench/serving/raw.js --model DIR --tower image|text --batches 1,8,32
 *        [--threads N] [--spin 0|1] [--nice N] [--seconds S] [--min-runs N]
 * Answers RESULT {"tower","threads","spin","results":[{"batch","runs","msPerRun","itemsPerSecond"}]}
 */
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { lowerThreadPriority, sessionOptions } from '../../../src/backends/onnx/session-options';
import { answer, args, median } from '../common';

async function main(): Promise<void> {
  const a = args();
  const model = a.model;
  const tower = a.tower === 'text' ? 'text' : 'image';
  const batches = (a.batches ?? '1,8,32').split(',').map(Number);
  const threads = Number(a.threads ?? os.availableParallelism());
  const spin = a.spin === '1';
  const seconds = Number(a.seconds ?? 10);
  const minRuns = Number(a['min-runs'] ?? 2);
  // The service's default niceness for its inference threads (CLIP_ONNX_NICE), the same here.
  const nice = Number(a.nice ?? process.env.CLIP_ONNX_NICE ?? 10);
  lowerThreadPriority(nice);
  const file = path.join(model, 'onnx', tower === 'image' ? 'vision_model.onnx' : 'text_model.onnx');
  const session = await ort.InferenceSession.create(file, sessionOptions({ executionProvider: 'cpu', intraOpThreads: threads, spin }));
  const meta = session.inputMetadata[0];
  const size = meta.isTensor && typeof meta.shape[2] === 'number' ? meta.shape[2] : 224;
  const feeds = (n: number): Record<string, ort.Tensor> => {
    if (tower === 'image') {
      const px = new Float32Array(n * 3 * size * size);
      for (let i = 0; i < px.length; i++) px[i] = Math.random() * 4 - 2;
      return { pixel_values: new ort.Tensor('float32', px, [n, 3, size, size]) };
    }
    const ids = new BigInt64Array(n * 77);
    for (let r = 0; r < n; r++) {
      ids[r * 77] = 49406n;
      for (let k = 1; k < 12; k++) ids[r * 77 + k] = BigInt(1000 + Math.floor(Math.random() * 40000));
      ids[r * 77 + 12] = 49407n;
    }
    return { input_ids: new ort.Tensor('int64', ids, [n, 77]) };
  };
  const results = [];
  for (const batch of batches) {
    const f = feeds(batch);
    const times: number[] = [];
    // The first run at a new shape pays allocations; it is not counted, unless it is long enough
    // (over 5 s: ViT-L/14@336px at batch 8 and 32) for them not to matter and time is short.
    let cpu0 = process.cpuUsage();
    let start = performance.now();
    await session.run(f);
    const first = performance.now() - start;
    if (first > 5000 && minRuns <= 1) times.push(first);
    else {
      cpu0 = process.cpuUsage();
      start = performance.now();
    }
    while (times.length < minRuns || performance.now() - start < seconds * 1000) {
      const t = performance.now();
      await session.run(f);
      times.push(performance.now() - t);
    }
    const ms = median(times);
    const cpu = process.cpuUsage(cpu0);
    // CPU time of every thread of this process (onnxruntime's included) per item, in core-ms.
    const cpuMsPerItem = (cpu.user + cpu.system) / 1000 / (times.length * batch);
    results.push({ batch, runs: times.length, msPerRun: ms, itemsPerSecond: (batch * 1000) / ms, cpuMsPerItem });
    process.stderr.write(`raw ${tower} batch ${batch}: ${((batch * 1000) / ms).toFixed(2)}/s (${times.length} runs, ${ms.toFixed(0)} ms)\n`);
  }
  await session.release();
  answer({ tower, threads, spin, nice, results });
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
