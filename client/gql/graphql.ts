/* eslint-disable */
/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
/** An image: exactly one of file (a multipart upload), base64 (plain, or a data URL) and url (http/https). */
export type ImageInput = {
  /** Base64 of the file's bytes, or a data URL (data:image/png;base64,...). */
  base64?: string | null | undefined;
  /** The file's bytes as a part of a multipart request (the fastest way to send an image: no base64, no JSON parsing). */
  file?: Blob | null | undefined;
  /** An http(s) URL the service fetches (private addresses are refused unless configured). */
  url?: string | null | undefined;
};

export type SimilarityQueryVariables = Exact<{
  images: Array<ImageInput> | ImageInput;
  captions: Array<string> | string;
  backend?: string | null | undefined;
}>;


export type SimilarityQuery = { similarity: { scores: Array<Array<number>>, probabilitiesOverCaptions: Array<Array<number>>, probabilitiesOverImages: Array<Array<number>>, images: Array<{ id: string, width: number, height: number, format: string, mode: string, sha256: string }>, captions: Array<{ id: string, text: string, tokens: Array<number>, tokenCount: number, truncated: boolean }>, bestCaptionPerImage: Array<{ image: number, caption: number, score: number, probability: number }>, bestImagePerCaption: Array<{ image: number, caption: number, score: number, probability: number }>, model: { name: string, imageSize: number, embedDim: number | null, randomWeights: boolean, warning: string | null }, backend: { name: string, device: string, dtype: string }, timings: { inputMs: number, embedMs: number, totalMs: number } } };

export type ClassifyQueryVariables = Exact<{
  image: ImageInput;
  labels: Array<string> | string;
  template?: string | null | undefined;
  backend?: string | null | undefined;
}>;


export type ClassifyQuery = { classify: { image: { id: string, width: number, height: number }, labels: Array<{ label: string, prompt: string, score: number, probability: number, rank: number }>, model: { name: string, randomWeights: boolean, warning: string | null }, backend: { name: string } } };

export type EmbedImagesQueryVariables = Exact<{
  images: Array<ImageInput> | ImageInput;
  normalize?: boolean | null | undefined;
}>;


export type EmbedImagesQuery = { embedImages: Array<{ id: string, sha256: string, width: number, height: number, embedding: Array<number> }> };

export type EmbedCaptionsQueryVariables = Exact<{
  captions: Array<string> | string;
  normalize?: boolean | null | undefined;
}>;


export type EmbedCaptionsQuery = { embedCaptions: Array<{ id: string, text: string, tokens: Array<number>, embedding: Array<number> }> };

export type ServiceInfoQueryVariables = Exact<{ [key: string]: never; }>;


export type ServiceInfoQuery = { backends: Array<{ name: string, device: string, model: string, dtype: string, maxImageBatch: number, maxTextBatch: number, healthy: boolean, error: string | null, isDefault: boolean }>, models: Array<{ name: string, imageSize: number, embedDim: number | null, contextLength: number, randomWeights: boolean, warning: string | null }> };

export type WebServiceInfoQueryVariables = Exact<{ [key: string]: never; }>;


export type WebServiceInfoQuery = { backends: Array<{ name: string, device: string, healthy: boolean, isDefault: boolean, error: string | null }>, models: Array<{ name: string, randomWeights: boolean, warning: string | null }> };

export type WebSimilarityQueryVariables = Exact<{
  images: Array<ImageInput> | ImageInput;
  captions: Array<string> | string;
  backend?: string | null | undefined;
}>;


export type WebSimilarityQuery = { similarity: { scores: Array<Array<number>>, images: Array<{ id: string, width: number, height: number, format: string }>, captions: Array<{ id: string, text: string, truncated: boolean }>, bestCaptionPerImage: Array<{ image: number, caption: number, score: number }>, model: { name: string, randomWeights: boolean, warning: string | null }, backend: { name: string, device: string }, timings: { totalMs: number }, heatmap: { dataUrl: string, width: number, height: number } } };

export type WebClassifyQueryVariables = Exact<{
  image: ImageInput;
  labels: Array<string> | string;
  template?: string | null | undefined;
  backend?: string | null | undefined;
}>;


export type WebClassifyQuery = { classify: { image: { id: string, width: number, height: number, format: string }, labels: Array<{ label: string, prompt: string, score: number, probability: number, rank: number }>, model: { name: string, randomWeights: boolean, warning: string | null }, backend: { name: string, device: string } } };

export class TypedDocumentString<TResult, TVariables>
  extends String
  implements DocumentTypeDecoration<TResult, TVariables>
{
  __apiType?: NonNullable<DocumentTypeDecoration<TResult, TVariables>['__apiType']>;
  private value: string;
  public __meta__?: Record<string, any> | undefined;

  constructor(value: string, __meta__?: Record<string, any> | undefined) {
    super(value);
    this.value = value;
    this.__meta__ = __meta__;
  }

  override toString(): string & DocumentTypeDecoration<TResult, TVariables> {
    return this.value;
  }
}

export const SimilarityDocument = new TypedDocumentString(`
    query Similarity($images: [ImageInput!]!, $captions: [String!]!, $backend: String) {
  similarity(images: $images, captions: $captions, backend: $backend) {
    images {
      id
      width
      height
      format
      mode
      sha256
    }
    captions {
      id
      text
      tokens
      tokenCount
      truncated
    }
    scores
    probabilitiesOverCaptions
    probabilitiesOverImages
    bestCaptionPerImage {
      image
      caption
      score
      probability
    }
    bestImagePerCaption {
      image
      caption
      score
      probability
    }
    model {
      name
      imageSize
      embedDim
      randomWeights
      warning
    }
    backend {
      name
      device
      dtype
    }
    timings {
      inputMs
      embedMs
      totalMs
    }
  }
}
    `, {"hash":"sha256:61cdfaad6dd41337d1f0295758817a8369cc56beb390de5c302c3a8776a58ccc"}) as unknown as TypedDocumentString<SimilarityQuery, SimilarityQueryVariables>;
export const ClassifyDocument = new TypedDocumentString(`
    query Classify($image: ImageInput!, $labels: [String!]!, $template: String, $backend: String) {
  classify(image: $image, labels: $labels, template: $template, backend: $backend) {
    image {
      id
      width
      height
    }
    labels {
      label
      prompt
      score
      probability
      rank
    }
    model {
      name
      randomWeights
      warning
    }
    backend {
      name
    }
  }
}
    `, {"hash":"sha256:b8e8e17497e53511a643e526a061b8c32a198caaa1168ce5751465e580c1222d"}) as unknown as TypedDocumentString<ClassifyQuery, ClassifyQueryVariables>;
export const EmbedImagesDocument = new TypedDocumentString(`
    query EmbedImages($images: [ImageInput!]!, $normalize: Boolean = true) {
  embedImages(images: $images) {
    id
    sha256
    width
    height
    embedding(normalize: $normalize)
  }
}
    `, {"hash":"sha256:dbacfdea44453a8064a6c6ca330b0c916580bd90ad046f8f57b9a800de175a25"}) as unknown as TypedDocumentString<EmbedImagesQuery, EmbedImagesQueryVariables>;
export const EmbedCaptionsDocument = new TypedDocumentString(`
    query EmbedCaptions($captions: [String!]!, $normalize: Boolean = true) {
  embedCaptions(captions: $captions) {
    id
    text
    tokens
    embedding(normalize: $normalize)
  }
}
    `, {"hash":"sha256:67570bf4a7b57bf2c1b3829969f87871e862f9ea166df945d28129c6bd5b4523"}) as unknown as TypedDocumentString<EmbedCaptionsQuery, EmbedCaptionsQueryVariables>;
export const ServiceInfoDocument = new TypedDocumentString(`
    query ServiceInfo {
  backends {
    name
    device
    model
    dtype
    maxImageBatch
    maxTextBatch
    healthy
    error
    isDefault
  }
  models {
    name
    imageSize
    embedDim
    contextLength
    randomWeights
    warning
  }
}
    `, {"hash":"sha256:f2f714d3993e9740ef3d27f615fcfae4c25d862e81a59e200f4987d82e4e0b6a"}) as unknown as TypedDocumentString<ServiceInfoQuery, ServiceInfoQueryVariables>;
export const WebServiceInfoDocument = new TypedDocumentString(`
    query WebServiceInfo {
  backends {
    name
    device
    healthy
    isDefault
    error
  }
  models {
    name
    randomWeights
    warning
  }
}
    `, {"hash":"sha256:5bec66d8af67d817a14356449ecc5673dbd7910b4a1ba77247f598ed01b31423"}) as unknown as TypedDocumentString<WebServiceInfoQuery, WebServiceInfoQueryVariables>;
export const WebSimilarityDocument = new TypedDocumentString(`
    query WebSimilarity($images: [ImageInput!]!, $captions: [String!]!, $backend: String) {
  similarity(images: $images, captions: $captions, backend: $backend) {
    images {
      id
      width
      height
      format
    }
    captions {
      id
      text
      truncated
    }
    scores
    bestCaptionPerImage {
      image
      caption
      score
    }
    model {
      name
      randomWeights
      warning
    }
    backend {
      name
      device
    }
    timings {
      totalMs
    }
    heatmap(format: SVG) {
      dataUrl
      width
      height
    }
  }
}
    `, {"hash":"sha256:c8dd5cb7a3e4783e0678abe522271218f7c743c79d983f0ae00074463e695aae"}) as unknown as TypedDocumentString<WebSimilarityQuery, WebSimilarityQueryVariables>;
export const WebClassifyDocument = new TypedDocumentString(`
    query WebClassify($image: ImageInput!, $labels: [String!]!, $template: String, $backend: String) {
  classify(image: $image, labels: $labels, template: $template, backend: $backend) {
    image {
      id
      width
      height
      format
    }
    labels {
      label
      prompt
      score
      probability
      rank
    }
    model {
      name
      randomWeights
      warning
    }
    backend {
      name
      device
    }
  }
}
    `, {"hash":"sha256:86e4dd133296af613eebde4ecde996b9d5518b29fd0fc5b2c37e54705144283c"}) as unknown as TypedDocumentString<WebClassifyQuery, WebClassifyQueryVariables>;