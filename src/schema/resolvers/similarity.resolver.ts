import 'reflect-metadata';
import { Arg, Ctx, Query, Resolver } from 'type-graphql';
import { analyse } from '../../similarity/similarity';
import type { RequestContext } from '../context';
import { ImageInput } from '../inputs';
import { checkCaptions, checkImages, imageEmbeddings, MODEL_ARGUMENT, readImages, resolveBackend, scoresOf, textEmbeddings } from '../requests';
import { Match, SimilarityMatrix, Timings } from '../types';
import { backendView, captionView, computedField, imageView, modelView } from '../views';

@Resolver(() => SimilarityMatrix)
export class SimilarityResolver {
  @Query(() => SimilarityMatrix, { description: 'The caption × image cosine-similarity matrix (rows = captions, columns = images, in request order), as in the CLIP walkthrough.' })
  async similarity(
    @Arg('images', () => [ImageInput]) images: ImageInput[],
    @Arg('captions', () => [String]) captions: string[],
    @Arg('backend', () => String, { nullable: true, description: 'Backend name (Query.backends); the default when omitted.' }) backendName: string | null,
    @Arg('model', () => String, { nullable: true, description: MODEL_ARGUMENT }) modelName: string | null,
    @Ctx() request: RequestContext,
  ): Promise<SimilarityMatrix> {
    const t0 = performance.now();
    const ctx = request.forModel(modelName);
    checkImages(images, ctx);
    checkCaptions(captions, ctx);
    const backend = await resolveBackend(ctx, backendName);
    const refs = await readImages(images, ctx);
    const t1 = performance.now();
    const [img, txt] = await Promise.all([imageEmbeddings(refs, ctx, backend), textEmbeddings(captions, ctx, backend)]);
    const t2 = performance.now();
    const r = analyse(scoresOf(txt, img), ctx.pipeline.bundle.probability);
    const embedder = await ctx.pipeline.embedder(backend);
    const view = Object.assign(new SimilarityMatrix(), {
      images: refs.map((ref, i) => imageView(ref, i, backend, ctx.model.name)),
      captions: captions.map((c, i) => captionView(ctx, c, i, backend)),
      scores: r.scores,
      bestCaptionPerImage: r.bestCaptionPerImage.map((i, j) => match(j, i, r.scores[i][j], () => r.probsPerImage[j][i])),
      bestImagePerCaption: r.bestImagePerCaption.map((j, i) => match(j, i, r.scores[i][j], () => r.probsPerCaption[i][j])),
      model: modelView(ctx, img[0]?.length),
      backend: backendView(embedder.backend, backend === ctx.pipeline.defaultBackend),
      timings: Object.assign(new Timings(), { inputMs: t1 - t0, embedMs: t2 - t1, totalMs: performance.now() - t0 }),
    });
    // probabilities only when selected: a model without a probability rule answers the rest
    computedField(view, 'probabilitiesOverCaptions', () => r.scores.map((row, i) => row.map((_, j) => r.probsPerImage[j][i])));
    return computedField(view, 'probabilitiesOverImages', () => r.probsPerCaption);
  }
}

function match(image: number, caption: number, score: number, probability: () => number): Match {
  return computedField(Object.assign(new Match(), { image, caption, score }), 'probability', probability);
}
