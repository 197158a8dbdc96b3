import 'reflect-metadata';
import { Field, Float, Int, ObjectType } from 'type-graphql';
import { BackendStatus, Timings } from './types';

@ObjectType({ simpleResolvers: true, description: 'One backend\'s answer inside a comparison.' })
export class BackendMatrix {
  @Field(() => BackendStatus)
  backend!: BackendStatus;

  @Field(() => [[Float]], { description: 'rows = captions, columns = images, as in SimilarityMatrix.scores.' })
  scores!: number[][];

  @Field(() => [Int], { description: 'For each image, the index of its best caption.' })
  bestCaptionPerImage!: number[];

  @Field(() => [Int], { description: 'For each caption, the index of its best image.' })
  bestImagePerCaption!: number[];

  @Field(() => Float, { description: 'Largest |score - reference score| over the matrix (0 for the reference itself).' })
  maxAbsDifference!: number;

  @Field(() => Float, { description: 'Smallest cosine between this backend\'s embeddings and the reference\'s, over all images and captions.' })
  minEmbeddingCosine!: number;

  @Field(() => Timings)
  timings!: Timings;
}

@ObjectType({ simpleResolvers: true, description: 'The same images and captions through several backends, against the first as reference.' })
export class BackendComparison {
  @Field({ description: 'The backend every other is compared with: the first one named.' })
  reference!: string;

  @Field(() => [BackendMatrix], { description: 'In the order the backends were named.' })
  results!: BackendMatrix[];

  @Field(() => Float, { description: 'Largest absolute difference between any backend\'s scores and the reference\'s.' })
  maxAbsDifference!: number;

  @Field({ description: 'True when every backend picks the same best caption for every image and the same best image for every caption as the reference.' })
  bestMatchesAgree!: boolean;
}
