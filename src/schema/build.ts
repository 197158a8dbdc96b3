/**
 * Builds the executable schema from the type-graphql classes.
 *
 * ErrorMiddleware (errors.ts) wraps the resolvers that run code: queries, mutations and
 * @FieldResolver methods, where a ClipqlError can be thrown. The object types' plain data fields
 * are declared with `simpleResolvers: true`: type-graphql would otherwise give each of them a
 * resolver that runs the middleware chain (a promise per field per object: for a search's 10
 * hits, dozens of promises a request) to read a property that cannot throw. Such a field gets
 * graphql-js's default resolver, which reads the property by its schema name: a field renamed
 * with `@Field({ name })` must not be declared on such a type.
 */
import 'reflect-metadata';
import type { GraphQLSchema } from 'graphql';
import { buildSchemaSync } from 'type-graphql';
import { ErrorMiddleware } from './errors';
import { AddImagesCountResolver, CollectionResolver, DeleteItemsCountResolver } from './resolvers/collection.resolver';
import { DuplicatesResolver } from './resolvers/duplicates.resolver';
import { ClassifyResolver } from './resolvers/classify.resolver';
import { CompareResolver } from './resolvers/compare.resolver';
import { CaptionResolver, ImageResolver } from './resolvers/embed.resolver';
import { HeatmapResolver } from './resolvers/heatmap.resolver';
import { SimilarityResolver } from './resolvers/similarity.resolver';
import { SystemResolver } from './resolvers/system.resolver';

export const RESOLVERS = [SimilarityResolver, HeatmapResolver, ClassifyResolver, ImageResolver, CaptionResolver, SystemResolver, CompareResolver, CollectionResolver, AddImagesCountResolver, DeleteItemsCountResolver, DuplicatesResolver] as const;

export function buildClipSchema(): GraphQLSchema {
  return buildSchemaSync({ resolvers: [...RESOLVERS], globalMiddlewares: [ErrorMiddleware], validate: false });
}
