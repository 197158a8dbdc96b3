/**
 * The models a server serves, by name. Every surface that takes a model name (/v1's `model`;
 * GraphQL's `model` argument once several models are served, issue 17 item 1) resolves it here,
 * so adding models means filling this map, not touching the surfaces. For now it holds the one
 * pipeline the server was started with.
 */
import { ClipqlError, ErrorCode } from './errors';
import type { ClipPipeline } from './pipeline';

export interface ServedModel {
  readonly name: string;
  readonly pipeline: ClipPipeline;
}

export class ServedModels {
  private readonly byName: ReadonlyMap<string, ServedModel>;

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

  static single(pipeline: ClipPipeline): ServedModels {
    return new ServedModels([{ name: pipeline.bundle.name, pipeline }]);
  }

  get default(): ServedModel {
    return this.byName.values().next().value as ServedModel;
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
