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

export type CollectionsQueryVariables = Exact<{ [key: string]: never; }>;


export type CollectionsQuery = { collections: Array<{ name: string, model: string, dimension: number, count: number, createdAt: string, engine: string }> };

export type CreateCollectionMutationVariables = Exact<{
  name: string;
  model?: string | null | undefined;
}>;


export type CreateCollectionMutation = { createCollection: { name: string, model: string, dimension: number, engine: string } };

export type DropCollectionMutationVariables = Exact<{
  name: string;
}>;


export type DropCollectionMutation = { dropCollection: boolean };

export type AddImagesMutationVariables = Exact<{
  collection: string;
  images: Array<ImageInput> | ImageInput;
  ids: Array<string | number> | string | number;
  metadata?: Array<unknown> | unknown | null | undefined;
}>;


export type AddImagesMutation = { addImages: { collection: string, ids: Array<string>, count: number } };

export type DeleteItemsMutationVariables = Exact<{
  collection: string;
  ids: Array<string | number> | string | number;
}>;


export type DeleteItemsMutation = { deleteItems: { collection: string, deleted: Array<string>, count: number } };

export type SearchQueryVariables = Exact<{
  collection: string;
  text?: string | null | undefined;
  image?: ImageInput | null | undefined;
  k?: number | null | undefined;
  filter?: unknown;
  after?: string | null | undefined;
}>;


export type SearchQuery = { search: { collection: string, model: string, hasNextPage: boolean, endCursor: string | null, hits: Array<{ id: string, rank: number, score: number, metadata: unknown, sha256: string, width: number, height: number, format: string, thumbnail: string | null }> } };

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

export type WebCollectionsQueryVariables = Exact<{ [key: string]: never; }>;


export type WebCollectionsQuery = { collections: Array<{ name: string, model: string, dimension: number, count: number, engine: string }> };

export type WebCreateCollectionMutationVariables = Exact<{
  name: string;
}>;


export type WebCreateCollectionMutation = { createCollection: { name: string, model: string, dimension: number, engine: string } };

export type WebAddImagesMutationVariables = Exact<{
  collection: string;
  images: Array<ImageInput> | ImageInput;
  ids: Array<string | number> | string | number;
  metadata?: Array<unknown> | unknown | null | undefined;
}>;


export type WebAddImagesMutation = { addImages: { ids: Array<string>, count: number } };

export type WebSearchQueryVariables = Exact<{
  collection: string;
  text?: string | null | undefined;
  image?: ImageInput | null | undefined;
  k?: number | null | undefined;
}>;


export type WebSearchQuery = { search: { model: string, hits: Array<{ id: string, rank: number, score: number, thumbnail: string | null, width: number, height: number }> } };

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
    `) as unknown as TypedDocumentString<SimilarityQuery, SimilarityQueryVariables>;
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
    `) as unknown as TypedDocumentString<ClassifyQuery, ClassifyQueryVariables>;
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
    `) as unknown as TypedDocumentString<EmbedImagesQuery, EmbedImagesQueryVariables>;
export const EmbedCaptionsDocument = new TypedDocumentString(`
    query EmbedCaptions($captions: [String!]!, $normalize: Boolean = true) {
  embedCaptions(captions: $captions) {
    id
    text
    tokens
    embedding(normalize: $normalize)
  }
}
    `) as unknown as TypedDocumentString<EmbedCaptionsQuery, EmbedCaptionsQueryVariables>;
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
    `) as unknown as TypedDocumentString<ServiceInfoQuery, ServiceInfoQueryVariables>;
export const CollectionsDocument = new TypedDocumentString(`
    query Collections {
  collections {
    name
    model
    dimension
    count
    createdAt
    engine
  }
}
    `) as unknown as TypedDocumentString<CollectionsQuery, CollectionsQueryVariables>;
export const CreateCollectionDocument = new TypedDocumentString(`
    mutation CreateCollection($name: String!, $model: String) {
  createCollection(name: $name, model: $model) {
    name
    model
    dimension
    engine
  }
}
    `) as unknown as TypedDocumentString<CreateCollectionMutation, CreateCollectionMutationVariables>;
export const DropCollectionDocument = new TypedDocumentString(`
    mutation DropCollection($name: String!) {
  dropCollection(name: $name)
}
    `) as unknown as TypedDocumentString<DropCollectionMutation, DropCollectionMutationVariables>;
export const AddImagesDocument = new TypedDocumentString(`
    mutation AddImages($collection: String!, $images: [ImageInput!]!, $ids: [ID!]!, $metadata: [JSON]) {
  addImages(
    collection: $collection
    images: $images
    ids: $ids
    metadata: $metadata
  ) {
    collection
    ids
    count
  }
}
    `) as unknown as TypedDocumentString<AddImagesMutation, AddImagesMutationVariables>;
export const DeleteItemsDocument = new TypedDocumentString(`
    mutation DeleteItems($collection: String!, $ids: [ID!]!) {
  deleteItems(collection: $collection, ids: $ids) {
    collection
    deleted
    count
  }
}
    `) as unknown as TypedDocumentString<DeleteItemsMutation, DeleteItemsMutationVariables>;
export const SearchDocument = new TypedDocumentString(`
    query Search($collection: String!, $text: String, $image: ImageInput, $k: Int, $filter: JSON, $after: String) {
  search(
    collection: $collection
    text: $text
    image: $image
    k: $k
    filter: $filter
    after: $after
  ) {
    collection
    model
    hasNextPage
    endCursor
    hits {
      id
      rank
      score
      metadata
      sha256
      width
      height
      format
      thumbnail
    }
  }
}
    `) as unknown as TypedDocumentString<SearchQuery, SearchQueryVariables>;
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
    `) as unknown as TypedDocumentString<WebServiceInfoQuery, WebServiceInfoQueryVariables>;
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
    `) as unknown as TypedDocumentString<WebSimilarityQuery, WebSimilarityQueryVariables>;
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
    `) as unknown as TypedDocumentString<WebClassifyQuery, WebClassifyQueryVariables>;
export const WebCollectionsDocument = new TypedDocumentString(`
    query WebCollections {
  collections {
    name
    model
    dimension
    count
    engine
  }
}
    `) as unknown as TypedDocumentString<WebCollectionsQuery, WebCollectionsQueryVariables>;
export const WebCreateCollectionDocument = new TypedDocumentString(`
    mutation WebCreateCollection($name: String!) {
  createCollection(name: $name) {
    name
    model
    dimension
    engine
  }
}
    `) as unknown as TypedDocumentString<WebCreateCollectionMutation, WebCreateCollectionMutationVariables>;
export const WebAddImagesDocument = new TypedDocumentString(`
    mutation WebAddImages($collection: String!, $images: [ImageInput!]!, $ids: [ID!]!, $metadata: [JSON]) {
  addImages(
    collection: $collection
    images: $images
    ids: $ids
    metadata: $metadata
  ) {
    ids
    count
  }
}
    `) as unknown as TypedDocumentString<WebAddImagesMutation, WebAddImagesMutationVariables>;
export const WebSearchDocument = new TypedDocumentString(`
    query WebSearch($collection: String!, $text: String, $image: ImageInput, $k: Int) {
  search(collection: $collection, text: $text, image: $image, k: $k) {
    model
    hits {
      id
      rank
      score
      thumbnail
      width
      height
    }
  }
}
    `) as unknown as TypedDocumentString<WebSearchQuery, WebSearchQueryVariables>;