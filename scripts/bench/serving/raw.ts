/**
 * The limit: onnxruntime's raw session throughput for one tower at the given batch sizes, with the
 * service's own session options (src/backends/onnx/session-options.ts) and no server, in a process
 * of its own. Inputs are random (speed does not depend on values).
 *
 *   node dist/scripts/bench/serving/raw.js --model DIR --tower image|text --batches 1,8,32
 *        [--instances N[,N...]] [--threads N] [--spin 0|1] [--nice N] [--seconds S] [--min-runs N]
 * Answers RESULT {"tower","spin","results":[{"batch","config","runs","msPerRun","itemsPerSecond","cpuMsPerItem","configs"}]}
 *
 * --instances N runs N sessions side by side, each on a worker thread of its own with --threads
 * intra-op threads (default: the cores / N), as the service's CLIP_ONNX_INSTANCES does; the rate is
 * the items all of them finished per second of the shared measuring window. With a list (1,2),
 * each configuration is measured in turn and every batch's result is its best one (`config` names
 * it, `configs` lists them all): the machine's limit is the best raw configuration, not only the
 * one the service runs. bench.ts and camera-roll.ts ask for 1,2.
 */
import os from 'node:os';
import path from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { lowerThreadPriority, sessionOptions } from '../../../src/backends/onnx/session-options';
import { answer, args, median } from '../common';

interface InstanceConfig {
  readonly file: string;
  readonly tower: 'image' | 'text';
  readonly threads: number;
  readonly spin: boolean;
  readonly nice: number;
}
/** main → instance: measure `batch` for `seconds` (at least `minRuns` runs). */
interface Go {
  readonly batch: number;
  readonly seconds: number;
  readonly minRuns: number;
}
/** instance → main. */
interface Done {
  readonly times: number[];
  readonly size: number;
}

async function instance(c: InstanceConfig): Promise<void> {
  lowerThreadPriority(c.nice);
  const session = await ort.InferenceSession.create(c.file, sessionOptions({ executionProvider: 'cpu', intraOpThreads: c.threads, spin: c.spin }));
  const meta = session.inputMetadata[0];
  const size = meta.isTensor && typeof meta.shape[2] === 'number' ? meta.shape[2] : 224;
  const feeds = (n: number): Record<string, ort.Tensor> => {
    if (c.tower === 'image') {
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
  const port = parentPort!;
  port.on('message', (m: Go | 'stop') => {
    if (m === 'stop') {
      void session.release().then(() => process.exit(0));
      return;
    }
    void (async () => {
      const f = feeds(m.batch);
      // The first run at a new shape pays allocations: not counted, unless it is long enough (over
      // 5 s: ViT-L/14@336px at batch 8 and 32) for them not to matter and time is short.
      let start = performance.now();
      await session.run(f);
      const first = performance.now() - start;
      const times: number[] = [];
      if (first > 5000 && m.minRuns <= 1) times.push(first);
      else start = performance.now();
      port.postMessage('warm');
      while (times.length < m.minRuns || performance.now() - start < m.seconds * 1000) {
        const t = performance.now();
        await session.run(f);
        times.push(performance.now() - t);
      }
      port.postMessage({ times, size } satisfies Done);
    })();
  });
  port.postMessage('ready');
}

interface BatchResult {
  readonly batch: number;
  readonly config: string;
  readonly runs: number;
  readonly msPerRun: number;
  readonly itemsPerSecond: number;
  readonly cpuMsPerItem: number;
}

/** Every batch size with `instances` sessions of `config.threads` threads each. */
async function measure(config: InstanceConfig, instances: number, batches: number[], seconds: number, minRuns: number): Promise<BatchResult[]> {
  const workers = Array.from({ length: instances }, () => new Worker(__filename, { workerData: config }));
  const next = (w: Worker) => new Promise<unknown>((resolve, reject) => (w.once('message', resolve), w.once('error', reject)));
  await Promise.all(workers.map(next));
  const name = `${instances} x ${config.threads} threads`;
  const results: BatchResult[] = [];
  for (const batch of batches) {
    // Each instance warms up at the shape, then all measure at once; CPU time covers every thread
    // of this process (onnxruntime's included) from the first counted run to the last.
    const warm = workers.map(next);
    workers.forEach((w) => w.postMessage({ batch, seconds, minRuns } satisfies Go));
    await Promise.all(warm);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const done = (await Promise.all(workers.map(next))) as Done[];
    const elapsed = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const runs = done.reduce((n, d) => n + d.times.length, 0);
    const itemsPerSecond = (runs * batch * 1000) / elapsed;
    results.push({ batch, config: name, runs, msPerRun: median(done.flatMap((d) => d.times)), itemsPerSecond, cpuMsPerItem: (cpu.user + cpu.system) / 1000 / (runs * batch) });
    process.stderr.write(`raw ${config.tower} batch ${batch}, ${name}: ${itemsPerSecond.toFixed(2)}/s (${runs} runs)\n`);
  }
  await Promise.all(workers.map((w) => new Promise((r) => (w.once('exit', r), w.postMessage('stop')))));
  return results;
}

async function main(): Promise<void> {
  const a = args();
  const tower = a.tower === 'text' ? 'text' : 'image';
  const batches = (a.batches ?? '1,8,32').split(',').map(Number);
  const spin = a.spin === '1';
  const seconds = Number(a.seconds ?? 10);
  const minRuns = Number(a['min-runs'] ?? 2);
  // The service's default niceness for its inference threads (CLIP_ONNX_NICE), the same here.
  const nice = Number(a.nice ?? process.env.CLIP_ONNX_NICE ?? 10);
  const file = path.join(a.model, 'onnx', tower === 'image' ? 'vision_model.onnx' : 'text_model.onnx');
  const byConfig: BatchResult[][] = [];
  for (const instances of (a.instances ?? '1').split(',').map(Number)) {
    const threads = Number(a.threads ?? Math.max(1, Math.floor(os.availableParallelism() / instances)));
    byConfig.push(await measure({ file, tower, threads, spin, nice }, instances, batches, seconds, minRuns));
  }
  const results = batches.map((batch, i) => {
    const all = byConfig.map((c) => c[i]);
    const best = all.reduce((b, x) => (x.itemsPerSecond > b.itemsPerSecond ? x : b));
    return { ...best, configs: all.map((x) => ({ config: x.config, itemsPerSecond: x.itemsPerSecond, cpuMsPerItem: x.cpuMsPerItem })) };
  });
  answer({ tower, spin, nice, results });
}

if (isMainThread) {
  main().catch((e: unknown) => {
    process.stderr.write(`${(e as Error).stack}\n`);
    process.exit(1);
  });
} else {
  void instance(workerData as InstanceConfig);
}
