import 'reflect-metadata';
import { Field, Int, ObjectType } from 'type-graphql';
import { HeatmapFormat } from './types';

@ObjectType({ simpleResolvers: true, description: "The similarity matrix drawn as the CLIP walkthrough's figure: thumbnails above the columns, captions as row labels, YlOrRd cells with their values, the best caption of each image outlined, a colour bar." })
export class Heatmap {
  @Field(() => HeatmapFormat)
  format!: HeatmapFormat;

  @Field({ description: 'image/svg+xml or image/png.' })
  mime!: string;

  @Field(() => Int, { description: 'Width in pixels (the requested width clamped to 200..4096; by default the natural size).' })
  width!: number;

  @Field(() => Int, { description: 'Height in pixels (follows from the width and the matrix shape).' })
  height!: number;

  @Field({ description: 'The figure as a data: URL (base64), self-contained: thumbnails embedded, no external references.' })
  dataUrl!: string;
}
