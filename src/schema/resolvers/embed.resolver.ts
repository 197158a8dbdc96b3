import 'reflect-metadata';
import type { GraphQLResolveInfo } from 'graphql';
import { Arg, Ctx, FieldResolver, Float, Info, Query, Resolver, Root } from 'type-graphql';
import type { RequestContext } from '../context';
import { ImageInput } from '../inputs';
import { checkCaptions, checkImages, MODEL_ARGUMENT, readImages, resolveBackend, selects } from '../requests';
import { Caption, Image } from '../types';
import { captionView, embeddingView, imageView } from '../views';

@Resolver(() => Image)
export class ImageResolver {
  @Query(() => [Image], { description: 'Images with their metadata; select `embedding` to have them encoded (batched and cached).' })
  async embedImages(
    @Arg('images', () => [ImageInput]) images: ImageInput[],
    @Arg('backend', () => String, { nullable: true }) backendName: string | null,
    @Arg('model', () => String, { nullable: true, description: MODEL_ARGUMENT }) modelName: string | null,
    @Ctx() request: RequestContext,
    @Info() info: GraphQLResolveInfo,
  ): Promise<Image[]> {
    const ctx = request.forModel(modelName);
    checkImages(images, ctx);
    const backend = await resolveBackend(ctx, backendName);
    const refs = await readImages(images, ctx, 'images', selects(info, 'embedding') ? 'embed' : 'facts');
    return refs.map((r, i) => imageView(r, i, backend, ctx.model.name));
  }

  @FieldResolver(() => [Float], { description: 'The image embedding (D floats); L2-normalised unless normalize is false (then the raw projected image_embeds).' })
  async embedding(@Root() image: Image, @Arg('normalize', () => Boolean, { defaultValue: true }) normalize: boolean, @Ctx() ctx: RequestContext): Promise<number[]> {
    return embeddingView(await ctx.forModel(image.modelName).imageLoader(image.backend).load(image.ref), normalize);
  }
}

@Resolver(() => Caption)
export class CaptionResolver {
  @Query(() => [Caption], { description: 'Captions with their tokens; select `embedding` to have them encoded (batched and cached).' })
  async embedCaptions(
    @Arg('captions', () => [String]) captions: string[],
    @Arg('backend', () => String, { nullable: true }) backendName: string | null,
    @Arg('model', () => String, { nullable: true, description: MODEL_ARGUMENT }) modelName: string | null,
    @Ctx() request: RequestContext,
  ): Promise<Caption[]> {
    const ctx = request.forModel(modelName);
    checkCaptions(captions, ctx);
    const backend = await resolveBackend(ctx, backendName);
    return captions.map((c, i) => captionView(ctx, c, i, backend));
  }

  @FieldResolver(() => [Float], { description: 'The text embedding (D floats); L2-normalised unless normalize is false.' })
  async embedding(@Root() caption: Caption, @Arg('normalize', () => Boolean, { defaultValue: true }) normalize: boolean, @Ctx() ctx: RequestContext): Promise<number[]> {
    return embeddingView(await ctx.forModel(caption.modelName).textLoader(caption.backend).load(caption.text), normalize);
  }
}
