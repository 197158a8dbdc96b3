/**
 * Opening the served models (CLIP_MODELS, or the one CLIP_MODEL) and warming them, one after the
 * other, each measured: start-up time and the growth of the process's RSS over its open and its
 * warm-up (Query.models, README "Several models"). One after the other so that each model's RSS
 * growth is its own; the figures are as noisy as RSS is (the allocator keeps freed pages, GC runs
 * when it likes): a few MiB either way.
 *
 * The first model's pipeline makes the one preprocessing pool (sized for its default backend);
 * the others share it, so N models never mean N thread pools competing for the cores.
 */
import { stat } from 'node:fs/promises';
import type { ModelSpec } from '../config/settings';
import { ClipPipeline, type PipelineOptions } from '../pipeline';
import { ServedModels, type ServedModel } from '../served-models';

type Common = Omit<PipelineOptions, 'modelDir' | 'pool'>;

/** The opened models, and `warm`, which starts each one's default backend and records its figures. */
export interface OpenedModels {
  readonly models: ServedModels;
  warm(): Promise<void>;
}

export async function openModels(specs: readonly ModelSpec[], common: Common): Promise<OpenedModels> {
  const models: ServedModel[] = [];
  /** Each model's open time and RSS growth, completed by its warm-up. */
  const opened = new Map<string, { ms: number; rss: number }>();
  try {
    for (const spec of specs) {
      const rss0 = process.memoryUsage.rss();
      const t0 = performance.now();
      const pipeline = await ClipPipeline.open({ ...common, modelDir: spec.dir, pool: models[0]?.pipeline.preprocessPool });
      const name = spec.name || pipeline.bundle.name; // '' (one CLIP_MODEL): the folder's name
      opened.set(name, { ms: performance.now() - t0, rss: process.memoryUsage.rss() - rss0 });
      models.push({ name, pipeline });
    }
  } catch (e) {
    for (const m of models.reverse()) await m.pipeline.close();
    throw e;
  }
  const served = new ServedModels(models);
  return { models: served, warm: () => warmModels(served, opened) };
}

/** Starts and warms each model's default backend, one after the other, and records its figures. */
async function warmModels(models: ServedModels, opened: ReadonlyMap<string, { ms: number; rss: number }>): Promise<void> {
  for (const m of models.list()) {
    const rss0 = process.memoryUsage.rss();
    const t0 = performance.now();
    await m.pipeline.embedder();
    const ms = performance.now() - t0;
    const rss = process.memoryUsage.rss() - rss0;
    const before = opened.get(m.name) ?? { ms: 0, rss: 0 };
    models.recordLoad(m.name, { startupMs: before.ms + ms, rssBytes: Math.max(0, before.rss + rss), fileBytes: await towerBytes(m.pipeline) });
    // The fingerprint collections are bound to (bundle/fingerprint.ts): hashed now, the first time
    // a folder is served (then cached), rather than on the first collection request.
    await m.pipeline.identity(m.name);
  }
}

/** Bytes of the files the default backend loads: the ONNX towers, or the TorchScript file. */
async function towerBytes(p: ClipPipeline): Promise<number> {
  const f = p.bundle.files;
  const int8 = (file: string) => (p.config.CLIP_ONNX_DTYPE === 'int8' ? file.replace(/\.onnx$/, '_int8.onnx') : file);
  const files = p.defaultBackend === 'torch' ? [p.config.CLIP_TORCH_MODEL ?? f.torch] : [int8(f.vision), int8(f.text)];
  let n = 0;
  for (const file of files) if (file) n += await stat(file).then((s) => s.size, () => 0);
  return n;
}
