/**
 * The GraphQL object types. Names and fields are the public contract (schema.graphql is emitted
 * from these classes and committed). Plain data lives in fields; anything that costs model work
 * (embeddings) is a field resolver in resolvers/, computed only when a query selects it.
 */
import 'reflect-metadata';
import { Field, Float, ID, Int, ObjectType, registerEnumType } from 'type-graphql';

@ObjectType({ simpleResolvers: true, description: 'An input image, as decoded by the service.' })
export class Image {
  @Field(() => ID, { description: 'Position of the image in the request: "image-0", "image-1", ...' })
  id!: string;

  @Field(() => Int, { description: 'Width in pixels, as stored in the file (EXIF orientation is not applied, as in the reference).' })
  width!: number;

  @Field(() => Int)
  height!: number;

  @Field({ description: 'Container format: jpeg, png, webp, gif, tiff, avif...' })
  format!: string;

  @Field({ description: 'The PIL mode the reference pipeline sees: RGB, L, RGBA, P, I;16...' })
  mode!: string;

  @Field({ description: 'SHA-256 of the image bytes, hex; the embedding cache key.' })
  sha256!: string;

  /** Internal: request-scoped handle used by the embedding field resolver. */
  ref!: import('./image-ref').ImageRef;
  /** Internal: the backend this image is embedded with. */
  backend!: string;
  /** Internal: the served model it is embedded with. */
  modelName!: string;
}

@ObjectType({ simpleResolvers: true, description: 'A caption (or a zero-shot label prompt) as the model reads it.' })
export class Caption {
  @Field(() => ID, { description: 'Position of the caption in the request: "caption-0", ...' })
  id!: string;

  @Field({ description: 'The caption as given.' })
  text!: string;

  @Field(() => [Int], { description: 'CLIP token ids, exactly 77: <|startoftext|>, BPE ids, <|endoftext|>, zero padding.' })
  tokens!: number[];

  @Field(() => Int, { description: 'Tokens before truncation, start and end tokens included.' })
  tokenCount!: number;

  @Field({ description: 'True when the caption was longer than 77 tokens and was cut (the end token is kept).' })
  truncated!: boolean;

  /** Internal: the backend and served model it is embedded with. */
  backend!: string;
  modelName!: string;
}

@ObjectType({ simpleResolvers: true, description: 'A best match: one image and one caption with their score.' })
export class Match {
  @Field(() => Int, { description: 'Index of the image in the request.' })
  image!: number;

  @Field(() => Int, { description: 'Index of the caption in the request.' })
  caption!: number;

  @Field(() => Float, { description: 'Cosine similarity.' })
  score!: number;

  @Field(() => Float, { description: 'Probability of the pair by the model family\'s rule (ModelInfo.probability): CLIP, softmax of 100 × score along the axis searched; SigLIP, sigmoid(exp(logit_scale) × score + logit_bias) for the pair on its own.' })
  probability!: number;
}

@ObjectType({ simpleResolvers: true, description: 'A served model (Query.models), or the one a result was computed with.' })
export class ModelInfo {
  @Field({ description: 'The name requests choose it by (`model` arguments): its CLIP_MODELS name, else its bundle folder\'s name.' })
  name!: string;

  @Field({ description: 'The bundle folder\'s name.' })
  bundle!: string;

  @Field({ description: 'True for the model that serves requests that name none (the first of CLIP_MODELS).' })
  isDefault!: boolean;

  @Field(() => [String], { description: 'Backends registered for it (Query.backends); each model has its own instances, batchers and caches.' })
  backends!: string[];

  @Field(() => Float, { nullable: true, description: 'Start-up time: opening the bundle and tokenizer, starting and warming the default backend (ms). Null before start-up finished.' })
  startupMs?: number;

  @Field(() => Float, { nullable: true, description: 'Memory: growth of the process RSS while it was opened and warmed, in bytes (measured at start-up, one model after the other; a few MiB of noise).' })
  memoryBytes?: number;

  @Field(() => Float, { nullable: true, description: 'Size of the tower files its default backend loads, in bytes.' })
  fileBytes?: number;

  @Field(() => Int, { description: 'Side of the square input of the vision tower (S).' })
  imageSize!: number;

  @Field(() => Int, { nullable: true, description: 'Embedding dimension (D), when known.' })
  embedDim?: number;

  @Field(() => Int)
  contextLength!: number;

  @Field({ description: 'True for the generated test models: seeded random weights, meaningless similarities.' })
  randomWeights!: boolean;

  @Field({ description: 'The model family (config.json model_type): "clip" (OpenAI CLIP, OpenCLIP/LAION) or "siglip" (SigLIP, SigLIP 2). It decides the preprocessing, the tokenizer and what probabilities mean.' })
  family!: string;

  @Field({ description: 'What this model\'s probabilities are, e.g. "softmax(100 × cosine) across the other axis" (CLIP) or "sigmoid(117.9 × cosine + -12.9) per pair" (SigLIP, its own logit_scale and logit_bias): SigLIP\'s need not sum to 1.' })
  probability!: string;

  @Field({ description: 'False when the model\'s files do not say how to make probabilities (a Transformers.js SigLIP folder without onnx/model.onnx: no logit_scale / logit_bias); its similarities are served, and a query that selects a probability fails with PROBABILITY_UNAVAILABLE. `probability` says why.' })
  probabilitiesAvailable!: boolean;

  @Field({ nullable: true, description: 'Set when the answer should not be trusted as CLIP, and why.' })
  warning?: string;
}

@ObjectType({ simpleResolvers: true, description: 'A model backend: where and how inference runs.' })
export class BackendStatus {
  @Field()
  name!: string;

  @Field({ description: 'e.g. cpu, cuda:0, webgpu (onnxruntime).' })
  device!: string;

  @Field()
  model!: string;

  @Field()
  dtype!: string;

  @Field(() => Int)
  maxImageBatch!: number;

  @Field(() => Int)
  maxTextBatch!: number;

  @Field({ description: 'True when the backend answers its health check.' })
  healthy!: boolean;

  @Field({ nullable: true, description: 'Why the backend is not healthy, or failed to start.' })
  error?: string;

  @Field({ description: 'Backend-specific details as JSON (execution provider, threads, workers...).' })
  details!: string;

  @Field({ description: 'True for the backend that serves requests that name none.' })
  isDefault!: boolean;
}

@ObjectType({ simpleResolvers: true, description: 'Where the time of a request went, in milliseconds.' })
export class Timings {
  @Field(() => Float, { description: 'Reading inputs: base64 decoding, URL fetches, image headers.' })
  inputMs!: number;

  @Field(() => Float, { description: 'Preprocessing, queueing and model inference, until every embedding was there.' })
  embedMs!: number;

  @Field(() => Float, { description: 'The whole resolver.' })
  totalMs!: number;
}

@ObjectType({ simpleResolvers: true, description: 'The caption × image cosine-similarity matrix and what is read off it.' })
export class SimilarityMatrix {
  @Field(() => [Image], { description: 'Columns, in request order.' })
  images!: Image[];

  @Field(() => [Caption], { description: 'Rows, in request order.' })
  captions!: Caption[];

  @Field(() => [[Float]], { description: 'scores[i][j] = cosine similarity of caption i and image j (text_features @ image_features.T).' })
  scores!: number[][];

  @Field(() => [[Float]], { description: 'Same shape as scores: for each image (column), its probabilities over the captions (ModelInfo.probability): CLIP, softmax of 100 × scores, each column summing to 1 (the notebook\'s zero-shot probabilities); SigLIP, each pair on its own.' })
  probabilitiesOverCaptions!: number[][];

  @Field(() => [[Float]], { description: 'Same shape as scores: for each caption (row), its probabilities over the images (CLIP: softmax, each row sums to 1; SigLIP: each pair on its own).' })
  probabilitiesOverImages!: number[][];

  @Field(() => [Match], { description: 'For each image, in order, its best caption.' })
  bestCaptionPerImage!: Match[];

  @Field(() => [Match], { description: 'For each caption, in order, its best image.' })
  bestImagePerCaption!: Match[];

  @Field(() => ModelInfo)
  model!: ModelInfo;

  @Field(() => BackendStatus)
  backend!: BackendStatus;

  @Field(() => Timings)
  timings!: Timings;
}

@ObjectType({ simpleResolvers: true, description: 'One label of a zero-shot classification.' })
export class LabelScore {
  @Field()
  label!: string;

  @Field({ description: 'The prompt the model read: the template with the label in it.' })
  prompt!: string;

  @Field(() => Float, { description: 'Cosine similarity of the image and the prompt.' })
  score!: number;

  @Field(() => Float, { description: 'By the model family\'s rule (ModelInfo.probability): CLIP, softmax of 100 × score over all labels; SigLIP, sigmoid of this label alone.' })
  probability!: number;

  @Field(() => Int, { description: '1 for the most likely label.' })
  rank!: number;
}

@ObjectType({ simpleResolvers: true, description: 'Zero-shot classification of one image against labels, ranked.' })
export class Classification {
  @Field(() => Image)
  image!: Image;

  @Field(() => [LabelScore], { description: 'Most probable first.' })
  labels!: LabelScore[];

  @Field(() => ModelInfo)
  model!: ModelInfo;

  @Field(() => BackendStatus)
  backend!: BackendStatus;
}

export enum HeatmapFormat {
  SVG = 'SVG',
  PNG = 'PNG',
}
registerEnumType(HeatmapFormat, { name: 'HeatmapFormat' });
