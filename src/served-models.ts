/**
 * The models a server serves, by name (CLIP_MODELS, or the one CLIP_MODEL). Every surface that
 * takes a model name (/v1's `model`, GraphQL's `model` argument) resolves it here, so adding
 * models means filling this map, not touching the surfaces.
 *
 * Each model is its own ClipPipeline: its own backends, batchers and embedding caches (so cache
 * keys are per model), all sharing the first pipeline's preprocessing pool. Embeddings of two
 * models are never compared: a request works with one model throughout, and a collection bound
 * to one model refuses another's embeddings with MODEL_MISMATCH naming both (store/store.ts).
 */
import { ClipqlError, ErrorCode } from './errors';
import type { ClipPipeline } from './pipeline';

export interface ServedModel {
  readonly name: string;
  readonly pipeline: ClipPipeline;
}

/** What loading a model cost, measured at start-up (service.ts): Query.models reports it. */
export interface LoadFigures {
  /** Opening the bundle and tokenizer, then starting and warming the default backend. */
  readonly startupMs: number;
  /** Growth of the process's resident set (RSS) over that, in bytes (0 when it shrank). */
  readonly rssBytes: number;
  /** Size of the model's files the default backend reads (its ONNX towers, or the TorchScript file). */
  readonly fileBytes: number;
}

export class ServedModels {
  private readonly byName: ReadonlyMap<string, ServedModel>;
  private readonly figures = new Map<string, LoadFigures>();

  /** `models` in order; the first is the default. */
  constructor(models: readonly ServedModel[]) {
    if (models.length === 0) throw new TypeError('ServedModels needs at least one model');
    const byName = new Map<string, ServedModel>();
    for (const m of models) {
      if (byName.has(m.name)) throw new TypeError(`two models are named ${m.name}`);
      byName.set(m.name, m);
    }
    this.byName = byName;
  }

  get default(): ServedModel {
    return this.byName.values().next().value as ServedModel;
  }

  /** Records a model's start-up figures (once, at start-up). */
  recordLoad(name: string, figures: LoadFigures): void {
    this.figures.set(name, figures);
  }

  loadFigures(name: string): LoadFigures | undefined {
    return this.figures.get(name);
  }

  /** Closes every pipeline, the default last: it owns the preprocessing pool the others share. */
  async close(): Promise<void> {
    for (const m of this.list().reverse()) await m.pipeline.close();
  }

  list(): ServedModel[] {
    return [...this.byName.values()];
  }

  /** The model a request names (the default when it names none); MODEL_NOT_FOUND lists the served ones. */
  resolve(name: string | null | undefined, argument = 'model'): ServedModel {
    if (name === undefined || name === null || name === '') return this.default;
    const m = this.byName.get(name);
    if (!m) {
      const served = [...this.byName.keys()].map((n) => JSON.stringify(n)).join(', ');
      throw new ClipqlError(ErrorCode.MODEL_NOT_FOUND, `${argument}: this server does not serve the model ${JSON.stringify(name.slice(0, 200))}; it serves ${served}`, { details: { argument } });
    }
    return m;
  }
}
