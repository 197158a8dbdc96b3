import 'reflect-metadata';
import { Arg, Ctx, Query, Resolver } from 'type-graphql';
import type { RequestContext } from '../context';
import { MODEL_ARGUMENT } from '../requests';
import { BackendStatus, ModelInfo } from '../types';
import { backendView, modelView } from '../views';

@Resolver()
export class SystemResolver {
  @Query(() => [BackendStatus], { description: 'Every registered backend of a model (the default when omitted): started ones with device, batch limits and health; others say why they are not serving.' })
  async backends(
    @Arg('model', () => String, { nullable: true, description: MODEL_ARGUMENT }) modelName: string | null,
    @Ctx() request: RequestContext,
  ): Promise<BackendStatus[]> {
    const { pipeline } = request.forModel(modelName);
    const started = new Map(pipeline.registry.created().map((b) => [b.name, b]));
    return Promise.all(
      pipeline.registry.names().map(async (name) => {
        const isDefault = name === pipeline.defaultBackend;
        const b = started.get(name);
        if (!b) {
          return Object.assign(new BackendStatus(), { name, device: 'not started', model: pipeline.bundle.name, dtype: '', maxImageBatch: 0, maxTextBatch: 0, healthy: false, error: 'not started: it starts when a request names it', details: '{}', isDefault });
        }
        try {
          await b.health();
          return backendView(b, isDefault);
        } catch (e) {
          return backendView(b, isDefault, false, (e as Error).message);
        }
      }),
    );
  }

  @Query(() => [ModelInfo], { description: 'The served models, the default first (CLIP_MODELS order), with dimension, input size, backends, start-up time and memory.' })
  models(@Ctx() ctx: RequestContext): ModelInfo[] {
    return ctx.models.list().map((m) => modelView(ctx.forModel(m.name)));
  }
}
