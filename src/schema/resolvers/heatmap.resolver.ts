import 'reflect-metadata';
import { Arg, Ctx, FieldResolver, Int, Resolver, Root } from 'type-graphql';
import { makeThumbnail, renderHeatmap, renderHeatmapPng } from '../../heatmap';
import type { RequestContext } from '../context';
import { Heatmap } from '../heatmap.type';
import { HeatmapFormat, SimilarityMatrix } from '../types';

/** Title of the walkthrough's figure, with the model and the backend that produced the numbers. */
export function heatmapTitle(m: SimilarityMatrix): string {
  return `Cosine similarity between text and image features — ${m.model.name} on ${m.backend.name} (${m.backend.device})`;
}

@Resolver(() => SimilarityMatrix)
export class HeatmapResolver {
  @FieldResolver(() => Heatmap, {
    description:
      'The matrix as a figure (SVG made on the server; PNG rasterised from it with sharp). Colours span the matrix min..max. At most 64 captions × 64 images (else TOO_MANY_INPUTS).',
  })
  async heatmap(
    @Root() m: SimilarityMatrix,
    @Arg('format', () => HeatmapFormat, { defaultValue: HeatmapFormat.SVG }) format: HeatmapFormat,
    @Arg('width', () => Int, { nullable: true, description: 'Width in pixels, clamped to 200..4096; default the natural size (72 px per cell plus labels).' }) width: number | null,
    @Ctx() ctx: RequestContext,
  ): Promise<Heatmap> {
    // The images were decoded for their embeddings already; should a thumbnail still fail, the
    // figure shows a "no preview" box for it rather than failing as a whole.
    const thumbnails = await Promise.all(m.images.map((im) => makeThumbnail(im.ref.bytes, { maxPixels: ctx.limits.maxPixels }).catch(() => undefined)));
    const figure = renderHeatmap({
      scores: m.scores,
      captions: m.captions.map((c) => c.text),
      images: m.images.map((im, j) => ({ thumbnail: thumbnails[j]?.data, mime: thumbnails[j]?.mime, label: im.id })),
      title: heatmapTitle(m),
      subtitle: m.model.randomWeights ? 'Random weights (test model): these similarities are meaningless.' : undefined,
      width: width ?? undefined,
    });
    const out = Object.assign(new Heatmap(), { format, width: figure.width, height: figure.height });
    if (format === HeatmapFormat.PNG) {
      const png = await renderHeatmapPng(figure.svg, figure.width);
      return Object.assign(out, { mime: 'image/png', dataUrl: `data:image/png;base64,${png.toString('base64')}` });
    }
    return Object.assign(out, { mime: 'image/svg+xml', dataUrl: `data:image/svg+xml;base64,${Buffer.from(figure.svg, 'utf8').toString('base64')}` });
  }
}
