import 'reflect-metadata';
import { Ctx, Query, Resolver } from 'type-graphql';
import type { RequestContext } from '../context';
import { BackendStatus, ModelInfo } from '../types';
import { backendView, modelView } from '../views';

@Resolver()
export class SystemResolver {
  @Query(() => [BackendStatus], { description: 'Every registered backend: started ones with device, batch limits and health; others say why they are not serving.' })
  async backends(@Ctx() ctx: RequestContext): Promise<BackendStatus[]> {
    const { pipeline } = ctx;
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

  @Query(() => [ModelInfo], { description: 'The loaded model(s).' })
  models(@Ctx() ctx: RequestContext): ModelInfo[] {
    return [modelView(ctx.pipeline)];
  }
}
