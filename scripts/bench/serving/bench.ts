/**
 * `npm run bench`: every figure of issue 5 for each benchmark model found under models/
 * (bench-vit-b-32, bench-vit-l-14-336: `npm run bench:models` makes them), each as a ratio to the
 * raw onnxruntime limit measured in the same run; prints one markdown table per model and writes
 * BENCHMARKS.md (with the machine and the date).
 *
 * Every process is separate: the raw limit (raw.ts), preprocessing (preprocess.ts), the server
 * (`node dist/src/server/main.js`), the load generator (load.ts, autocannon), the liveness probe
 * (liveness.ts), the Transformers.js peer (peer-server.ts) and PyTorch (torch_peer.py). This
 * process only starts them and reads their answers. The machine is shared and noisy: the figures
 * that make the targets (limit, clipql and Transformers.js at the same concurrency) are measured
 * in interleaved rounds and reported as medians.
 *
 *   node dist/scripts/bench/serving/bench.js [--models vit-b-32,vit-l-14-336] [--quick] [--out BENCHMARKS.md]
 *   node dist/scripts/bench/serving/bench.js --render /tmp/clipql-bench/results.json   (tables only, again)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { args, log, median, REPO, runChild, runNode, startNode } from '../common';
import { makeVariants } from './inputs';
import { renderMarkdown, sections, type ModelReport, type LoadFigure, type RawResult } from './report';
import { cpuSplit, startClipql, startPeer, type RunningServer } from './server';
import { writeTokenizerJson } from './tokenizer-json';

/** results.json: rewritten after each model (minutes so far), so a cut-short run keeps what it measured. */
interface Saved {
  readonly date: string;
  readonly minutes: number;
  readonly quick: boolean;
  readonly models: ModelReport[];
}

interface Profile {
  /** Seconds per raw batch size (at least 2 runs). */
  readonly rawSeconds: number;
  readonly preprocessSeconds: number;
  /** Load runs last max(minSeconds, cycles full rounds of `concurrency` requests at the raw rate). */
  readonly minSeconds: number;
  readonly cycles: number;
  readonly maxSeconds: number;
  /** Interleaved rounds of (limit, clipql, Transformers.js) for the figures the targets compare. */
  readonly rounds: number;
  /** Concurrencies measured in rounds after the first (the first measures 1, 8 and 32). */
  readonly laterConcurrencies: readonly number[];
  readonly rssRequests: number;
  /** Different images and captions in the RSS run (the rest are cache hits). */
  readonly rssDistinct: number;
  readonly torchImages: number;
  readonly rawMinRuns: number;
}

const PROFILES: Record<string, Profile> = {
  full: { rawSeconds: 4, preprocessSeconds: 2, minSeconds: 10, cycles: 4, maxSeconds: 90, rounds: 2, laterConcurrencies: [1, 8, 32], rssRequests: 10_000, rssDistinct: 64, torchImages: 2, rawMinRuns: 2 },
  quick: { rawSeconds: 2, preprocessSeconds: 1, minSeconds: 4, cycles: 1, maxSeconds: 20, rounds: 1, laterConcurrencies: [1, 8, 32], rssRequests: 1_000, rssDistinct: 16, torchImages: 1, rawMinRuns: 1 },
};

/**
 * ViT-L/14@336px takes seconds an image here (a batch of 32 about a minute): one run per large
 * batch, load runs of about two rounds of `concurrency` requests (at most ~40 s of the limit),
 * 2,000 requests with 8 distinct inputs in the RSS run, and no PyTorch image (generate.py's eager
 * pass took about 140 s an image on this machine). A second round re-measures only what the
 * targets compare: the limit at the first round's best batch, clipql and Transformers.js at
 * concurrency 8 (one round alone let a slow minute during the limit read clipql at 1.06 × it).
 */
function forModel(name: string, p: Profile): Profile {
  if (!name.startsWith('vit-l')) return p;
  return { ...p, rawSeconds: Math.min(p.rawSeconds, 4), cycles: Math.min(p.cycles, 2), maxSeconds: Math.min(p.maxSeconds, 40), rounds: Math.min(p.rounds, 2), laterConcurrencies: [8], rssRequests: Math.min(p.rssRequests, 2_000), rssDistinct: 8, torchImages: 0, rawMinRuns: 1 };
}

const MODELS = ['vit-b-32', 'vit-l-14-336'];
const TMP = path.join(os.tmpdir(), 'clipql-bench');

/** The sections other bench scripts wrote into the file this run replaces (torch-cpu.ts's). */
const kept = (file: string) => (fs.existsSync(file) ? sections(fs.readFileSync(file, 'utf8')) : []);

const bestBatchOf = (r: RawResult) => r.results.reduce((b, x) => (x.itemsPerSecond > b.itemsPerSecond ? x : b)).batch;

async function main(): Promise<void> {
  const a = args();
  const profile = PROFILES[a.quick ? 'quick' : 'full'];
  const wanted = (a.models ?? MODELS.join(',')).split(',');
  const out = path.resolve(REPO, a.out ?? 'BENCHMARKS.md');
  const started = Date.now();
  if (a.render) {
    // Re-render from a saved results.json (no measurement), with the run's own date and duration.
    const saved = JSON.parse(fs.readFileSync(a.render, 'utf8')) as Saved;
    const md = renderMarkdown(saved.models, { ...(await machine()), date: saved.date }, saved, kept(out));
    fs.writeFileSync(out, md);
    process.stdout.write(md);
    return;
  }
  const variants = await makeVariants(path.join(TMP, 'variants'), 32);
  const reports: ModelReport[] = [];
  const m = await machine();
  let saved: Saved | undefined;
  for (const name of wanted) {
    const dir = path.join(REPO, 'models', `bench-${name}`);
    // models.ts writes .complete once the generator has finished and checked the folder; a folder
    // generated otherwise counts when its towers and configs are all there.
    const needed = ['config.json', 'preprocessor_config.json', 'onnx/vision_model.onnx', 'onnx/text_model.onnx'];
    if (!fs.existsSync(path.join(dir, '.complete')) && !needed.every((f) => fs.existsSync(path.join(dir, f)))) {
      log(`models/bench-${name} is missing or incomplete: run \`npm run bench:models\` first; skipped`);
      continue;
    }
    reports.push(await benchModel(name, dir, forModel(name, profile), variants));
    saved = { date: utcNow(), minutes: (Date.now() - started) / 60_000, quick: Boolean(a.quick), models: reports };
    fs.writeFileSync(path.join(TMP, 'results.json'), JSON.stringify(saved, null, 1));
  }
  if (!saved) throw new Error('no benchmark model: run `npm run bench:models` first');
  const md = renderMarkdown(reports, { ...m, date: saved.date }, saved, kept(out));
  fs.writeFileSync(out, md);
  process.stdout.write(md);
  log(`wrote ${path.relative(REPO, out)} in ${((Date.now() - started) / 60_000).toFixed(1)} min`);
}

/** clipql serving with CLIP_BACKEND=torch on the CPU: n images and n captions, one at a time. */
async function torchBackend(dir: string, variants: string, n: number): Promise<NonNullable<ModelReport['torchService']>> {
  const server = await startClipql(dir, { CLIP_BACKEND: 'torch', CLIP_TORCH_DEVICES: 'cpu', CLIP_REQUEST_TIMEOUT_MS: '600000', CLIP_TORCH_CALL_TIMEOUT_MS: '600000' });
  try {
    const one = (kind: string) => runNode<LoadFigure>('serving/load', ['--url', server.url, '--target', 'clipql', '--kind', kind, '--concurrency', '1', '--amount', String(n), '--variants', variants], { onLine: log });
    return { images: await one('image'), captions: await one('text') };
  } finally {
    await server.stop();
  }
}

async function benchModel(name: string, dir: string, p: Profile, variants: string): Promise<ModelReport> {
  log(`== ${name}`);
  await writeTokenizerJson(dir);
  const threads = os.availableParallelism();
  const raw = (tower: string, batches: number[], seconds = p.rawSeconds) =>
    runNode<RawResult>('serving/raw', ['--model', dir, '--tower', tower, '--batches', batches.join(','), '--instances', '1,2', '--seconds', String(seconds), '--min-runs', String(p.rawMinRuns)], { onLine: log });

  // The limit, both towers, batch 1, 8, 32.
  const rawImage = [await raw('image', [1, 8, 32])];
  const rawText = await raw('text', [1, 8, 32]);
  const imageRate = Math.max(...rawImage[0].results.map((r) => r.itemsPerSecond));
  const textRate = Math.max(...rawText.results.map((r) => r.itemsPerSecond));
  const seconds = (c: number, rate: number) => Math.round(Math.min(p.maxSeconds, Math.max(p.minSeconds, (p.cycles * c) / rate)));

  const preprocess = await runNode<ModelReport['preprocess']>('preprocess/preprocess', ['--model', dir, '--seconds', String(p.preprocessSeconds)], { onLine: log });

  // Throughput runs: the cache off (CLIP_CACHE_SIZE=0), every request a distinct image anyway.
  // CLIP_REQUEST_TIMEOUT_MS: 32 concurrent ViT-L/14@336px images take longer than the default 60 s.
  const clipql = await startClipql(dir, { CLIP_CACHE_SIZE: '0', CLIP_REQUEST_TIMEOUT_MS: '600000' });
  const peer = await startPeer(dir);
  let offset = 0; // every run starts where the last one stopped: captions stay distinct
  const load = async (server: RunningServer, target: 'clipql' | 'peer', kind: 'image' | 'text', c: number, extra: string[] = []): Promise<LoadFigure> => {
    const probe = startNode<{ p99: number; max: number; probes: number }>('serving/liveness', ['--url', server.url], {});
    // A fixed number of requests (all answered: nothing left running into the next run), about
    // `seconds` worth at the limit's rate, at least one per connection.
    // The peer runs batch 1 and is slower: half the requests keep its runs as long as clipql's.
    const rate = (kind === 'image' ? imageRate : textRate) / (target === 'peer' ? 2 : 1);
    const amount = Math.max(c, Math.round(rate * seconds(c, rate)));
    await server.loopDelayP99(); // resets the server's histogram
    const before = cpuSplit(server.pid);
    const r = await runNode<LoadFigure>('serving/load', ['--url', server.url, '--target', target, '--kind', kind, '--concurrency', String(c), '--amount', String(amount), '--variants', variants, '--start', String(offset), ...extra], { onLine: log });
    offset += r.ok + r.failed + c;
    const after = cpuSplit(server.pid);
    const delayP99 = await server.loopDelayP99();
    probe.stop();
    const live = await probe.result;
    const per = (k: 'main' | 'inference' | 'other') => (after[k] - before[k]) / Math.max(1, r.ok);
    return { ...r, delayP99, loopP99: live.p99, loopMax: live.max, probes: live.probes, cpuMs: { main: per('main'), inference: per('inference'), other: per('other') } };
  };
  try {
    // Warm both servers (first batches at a new size allocate).
    await runNode('serving/load', ['--url', clipql.url, '--target', 'clipql', '--kind', 'image', '--concurrency', '8', '--amount', imageRate > 2 ? '16' : '8', '--variants', variants]);
    await runNode('serving/load', ['--url', peer.url, '--target', 'peer', '--kind', 'image', '--concurrency', '2', '--amount', imageRate > 2 ? '4' : '2', '--variants', variants]);

    const rounds: { clipql: LoadFigure[]; peer: LoadFigure[] }[] = [];
    let jsonImages: LoadFigure | undefined;
    const concurrencies = [1, 8, 32];
    for (let r = 0; r < p.rounds; r++) {
      log(`-- ${name}: round ${r + 1} of ${p.rounds}`);
      const cs = r === 0 ? concurrencies : p.laterConcurrencies;
      // Later rounds re-measure every batch size, or only the first round's best where they
      // measure only some concurrencies (ViT-L/14@336px: a batch of 32 takes a minute).
      if (r > 0) rawImage.push(await raw('image', cs.length === concurrencies.length ? [1, 8, 32] : [bestBatchOf(rawImage[0])]));
      const round = { clipql: [] as LoadFigure[], peer: [] as LoadFigure[] };
      for (const c of cs) round.clipql.push(await load(clipql, 'clipql', 'image', c));
      if (r === 0) jsonImages = await load(clipql, 'clipql', 'image', 8, ['--transport', 'json']);
      for (const c of [1, 8].filter((x) => cs.includes(x))) round.peer.push(await load(peer, 'peer', 'image', c));
      rounds.push(round);
    }
    const captions: LoadFigure[] = [];
    for (const c of concurrencies) captions.push(await load(clipql, 'clipql', 'text', c));
    const peerCaptions = [await load(peer, 'peer', 'text', 8)];
    await Promise.all([clipql.stop(), peer.stop()]);

    // Cache hits and memory: the service as deployed (default cache), a fresh process.
    const cached = await startClipql(dir, { CLIP_REQUEST_TIMEOUT_MS: '600000' });
    const cacheHit = await runNode<LoadFigure>('serving/load', ['--url', cached.url, '--target', 'clipql', '--kind', 'image', '--concurrency', '1', '--amount', '200', '--variants', variants, '--repeat-one'], { onLine: log });
    const rss = await memory(cached, variants, p.rssRequests, p.rssDistinct);
    await cached.stop();

    log('PyTorch (for information)');
    const torch = await runChild<ModelReport['torch']>('/usr/bin/python3', [path.join(REPO, 'scripts', 'bench', 'backends', 'torch_peer.py'), '--model', dir, '--images', String(p.torchImages), '--captions', '2', '--budget', '60'], { onLine: log }).catch(
      (e: Error) => ({ error: e.message.slice(0, 200) }) as ModelReport['torch'],
    );

    // The GPU backend's code path (src/backends/torch: worker process, framing, batching) run on
    // the CPU: what clipql adds to PyTorch, beside the raw PyTorch row. Skipped where PyTorch
    // images are (ViT-L/14@336px: minutes an image with Debian's torch).
    let torchService: ModelReport['torchService'];
    if (p.torchImages > 0) {
      log('clipql with the torch backend on CPU (for information)');
      torchService = await torchBackend(dir, variants, p.torchImages).catch((e: Error) => ({ error: e.message.slice(0, 200) }));
    }

    let int8: ModelReport['int8'];
    if (fs.existsSync(path.join(dir, 'onnx', 'vision_model_int8.onnx'))) {
      log('int8 against fp32');
      const large = name.startsWith('vit-l');
      int8 = await runNode<NonNullable<ModelReport['int8']>>('backends/int8', ['--model', dir, '--batch', large ? '1' : '8', '--rounds', large ? '1' : '2', '--seconds', '4'], { onLine: log }).catch((e: Error) => {
        log(`int8 failed: ${e.message}`);
        return undefined;
      });
    }
    return { name, dir: path.relative(REPO, dir), threads, rawImage, rawText, preprocess, rounds, captions, jsonImages, peerCaptions, cacheHit, rss, torch, torchService, int8 };
  } finally {
    await Promise.all([clipql.stop(), peer.stop()]);
  }
}

/**
 * RSS of the server (VmRSS) after each tenth of `total` requests, alternately images and captions
 * at concurrency 8, each cycling through `distinct` different inputs: the first pass is encoded,
 * the rest are cache hits through the whole HTTP / GraphQL / decoding path.
 */
async function memory(server: RunningServer, variants: string, total: number, distinct: number): Promise<ModelReport['rss']> {
  const samples = [{ requests: 0, kib: server.rssKiB() }];
  const step = total / 10;
  let done = 0;
  for (let i = 0; i < 10; i++) {
    const kind = i % 2 === 0 ? 'image' : 'text';
    await runNode('serving/load', ['--url', server.url, '--target', 'clipql', '--kind', kind, '--concurrency', '8', '--amount', String(step), '--variants', variants, '--start', String(done), '--distinct', String(distinct)]);
    done += step;
    samples.push({ requests: done, kib: server.rssKiB() });
    log(`rss after ${done} requests: ${(samples[samples.length - 1].kib / 1024).toFixed(0)} MiB`);
  }
  return { samples, distinct };
}

const utcNow = () => new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC';

async function machine(): Promise<Record<string, string>> {
  const version = (p: string) => (JSON.parse(fs.readFileSync(path.join(REPO, 'node_modules', p, 'package.json'), 'utf8')) as { version: string }).version;
  const torch = await runChild<{ v: string }>('/usr/bin/python3', ['-c', 'import torch, json; print("RESULT " + json.dumps({"v": torch.__version__}))']).catch(() => ({ v: 'not installed' }));
  return {
    cpu: `${os.cpus()[0]?.model ?? 'unknown'}`,
    cores: `${os.availableParallelism()}`,
    memory: `${(os.totalmem() / 2 ** 30).toFixed(0)} GiB`,
    node: process.version,
    onnxruntime: `onnxruntime-node ${version('onnxruntime-node')}`,
    transformers: `@huggingface/transformers ${version('@huggingface/transformers')}`,
    autocannon: `autocannon ${version('autocannon')}`,
    torch: `torch ${torch.v}`,
    date: utcNow(),
  };
}

export { median };

process.on('exit', (code) => log(`exit ${code}`));

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
