/** Builds the executable schema from the type-graphql classes. */
import 'reflect-metadata';
import type { GraphQLSchema } from 'graphql';
import { buildSchemaSync } from 'type-graphql';
import { ErrorMiddleware } from './errors';
import { CollectionResolver } from './resolvers/collection.resolver';
import { DuplicatesResolver } from './resolvers/duplicates.resolver';
import { ClassifyResolver } from './resolvers/classify.resolver';
import { CompareResolver } from './resolvers/compare.resolver';
import { CaptionResolver, ImageResolver } from './resolvers/embed.resolver';
import { HeatmapResolver } from './resolvers/heatmap.resolver';
import { SimilarityResolver } from './resolvers/similarity.resolver';
import { SystemResolver } from './resolvers/system.resolver';

export const RESOLVERS = [SimilarityResolver, HeatmapResolver, ClassifyResolver, ImageResolver, CaptionResolver, SystemResolver, CompareResolver, CollectionResolver, DuplicatesResolver] as const;

export function buildClipSchema(): GraphQLSchema {
  return buildSchemaSync({ resolvers: [...RESOLVERS], globalMiddlewares: [ErrorMiddleware], validate: false });
}
