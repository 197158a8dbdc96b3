import 'reflect-metadata';
import { Arg, Ctx, Query, Resolver } from 'type-graphql';
import { ClipqlError, ErrorCode } from '../../errors';
import { analyse, rawCosine as cos } from '../../similarity/similarity';
import { BackendComparison, BackendMatrix } from '../compare.type';
import type { RequestContext } from '../context';
import { ImageInput } from '../inputs';
import { checkCaptions, checkImages, imageEmbeddings, MODEL_ARGUMENT, readImages, resolveBackend, scoresOf, textEmbeddings } from '../requests';
import { Timings } from '../types';
import { backendView } from '../views';

@Resolver(() => BackendComparison)
export class CompareResolver {
  @Query(() => BackendComparison, { description: 'Runs the same similarity query on several backends and compares them with the first: check a new GPU against the CPU reference in one call.' })
  async compareBackends(
    @Arg('images', () => [ImageInput]) images: ImageInput[],
    @Arg('captions', () => [String]) captions: string[],
    @Arg('backends', () => [String], { description: 'Backend names; the first is the reference. At least two, no repeats.' }) backends: string[],
    @Arg('model', () => String, { nullable: true, description: MODEL_ARGUMENT }) modelName: string | null,
    @Ctx() request: RequestContext,
  ): Promise<BackendComparison> {
    const ctx = request.forModel(modelName);
    checkImages(images, ctx);
    checkCaptions(captions, ctx);
    if (backends.length < 2 || new Set(backends).size !== backends.length) {
      throw new ClipqlError(ErrorCode.BAD_USER_INPUT, `backends: name at least two distinct backends, got ${JSON.stringify(backends)}`, { details: { argument: 'backends' } });
    }
    for (const b of backends) await resolveBackend(ctx, b);
    const refs = await readImages(images, ctx);
    // One backend after the other: on a shared machine, timings stay comparable.
    const runs = [];
    for (const backend of backends) {
      const t0 = performance.now();
      const [img, txt] = await Promise.all([imageEmbeddings(refs, ctx, backend), textEmbeddings(captions, ctx, backend)]);
      const t1 = performance.now();
      runs.push({ backend, img, txt, r: analyse(scoresOf(txt, img), ctx.pipeline.bundle.probability), ms: t1 - t0 });
    }
    const ref = runs[0];
    const results = await Promise.all(
      runs.map(async (run) => {
        const embedder = await ctx.pipeline.embedder(run.backend);
        const maxAbs = Math.max(...run.r.scores.flatMap((row, i) => row.map((v, j) => Math.abs(v - ref.r.scores[i][j]))));
        const cosines = [...run.img.map((e, i) => cos(e, ref.img[i])), ...run.txt.map((e, i) => cos(e, ref.txt[i]))];
        return Object.assign(new BackendMatrix(), {
          backend: backendView(embedder.backend, run.backend === ctx.pipeline.defaultBackend),
          scores: run.r.scores,
          bestCaptionPerImage: run.r.bestCaptionPerImage,
          bestImagePerCaption: run.r.bestImagePerCaption,
          maxAbsDifference: maxAbs,
          minEmbeddingCosine: Math.min(...cosines),
          timings: Object.assign(new Timings(), { inputMs: 0, embedMs: run.ms, totalMs: run.ms }),
        });
      }),
    );
    const same = (a: number[], b: number[]) => a.every((v, i) => v === b[i]);
    return Object.assign(new BackendComparison(), {
      reference: ref.backend,
      results,
      maxAbsDifference: Math.max(...results.map((r) => r.maxAbsDifference)),
      bestMatchesAgree: runs.every((r) => same(r.r.bestCaptionPerImage, ref.r.bestCaptionPerImage) && same(r.r.bestImagePerCaption, ref.r.bestImagePerCaption)),
    });
  }
}
