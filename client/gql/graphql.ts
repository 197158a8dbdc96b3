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
  /** Apply the image's EXIF orientation first, as photo apps show it (true), or take the pixels as stored, as PIL's Image.open does (false, the default: the reference's numbers). Images stored in a collection (addImages) are always turned upright. */
  upright?: boolean | null | undefined;
  /** An http(s) URL the service fetches (private addresses are refused unless configured). */
  url?: string | null | undefined;
};

export type SimilarityQueryVariables = Exact<{
  images: Array<ImageInput> | ImageInput;
  captions: Array<string> | string;
  backend?: string | null | undefined;
  model?: string | null | undefined;
}>;


export type SimilarityQuery = { similarity: { scores: Array<Array<number>>, probabilitiesOverCaptions: Array<Array<number>>, probabilitiesOverImages: Array<Array<number>>, images: Array<{ id: string, width: number, height: number, format: string, mode: string, sha256: string }>, captions: Array<{ id: string, text: string, tokens: Array<number>, tokenCount: number, truncated: boolean }>, bestCaptionPerImage: Array<{ image: number, caption: number, score: number, probability: number }>, bestImagePerCaption: Array<{ image: number, caption: number, score: number, probability: number }>, model: { name: string, imageSize: number, embedDim: number | null, randomWeights: boolean, warning: string | null }, backend: { name: string, device: string, dtype: string }, timings: { inputMs: number, embedMs: number, totalMs: number } } };

export type ClassifyQueryVariables = Exact<{
  image: ImageInput;
  labels: Array<string> | string;
  template?: string | null | undefined;
  backend?: string | null | undefined;
  model?: string | null | undefined;
}>;


export type ClassifyQuery = { classify: { image: { id: string, width: number, height: number }, labels: Array<{ label: string, prompt: string, score: number, probability: number, rank: number }>, model: { name: string, randomWeights: boolean, warning: string | null }, backend: { name: string } } };

export type EmbedImagesQueryVariables = Exact<{
  images: Array<ImageInput> | ImageInput;
  normalize?: boolean | null | undefined;
  model?: string | null | undefined;
}>;


export type EmbedImagesQuery = { embedImages: Array<{ id: string, sha256: string, width: number, height: number, embedding: Array<number> }> };

export type EmbedCaptionsQueryVariables = Exact<{
  captions: Array<string> | string;
  normalize?: boolean | null | undefined;
  model?: string | null | undefined;
}>;


export type EmbedCaptionsQuery = { embedCaptions: Array<{ id: string, text: string, tokens: Array<number>, embedding: Array<number> }> };

export type ServiceInfoQueryVariables = Exact<{ [key: string]: never; }>;


export type ServiceInfoQuery = { backends: Array<{ name: string, device: string, model: string, dtype: string, maxImageBatch: number, maxTextBatch: number, healthy: boolean, error: string | null, isDefault: boolean }>, models: Array<{ name: string, bundle: string, isDefault: boolean, imageSize: number, embedDim: number | null, contextLength: number, backends: Array<string>, startupMs: number | null, memoryBytes: number | null, fileBytes: number | null, randomWeights: boolean, warning: string | null }> };

export type CollectionsQueryVariables = Exact<{ [key: string]: never; }>;


export type CollectionsQuery = { collections: Array<{ name: string, model: string, dimension: number, count: number, createdAt: string, engine: string }> };

export type CreateCollectionMutationVariables = Exact<{
  name: string;
  model?: string | null | undefined;
  m?: number | null | undefined;
  efConstruction?: number | null | undefined;
}>;


export type CreateCollectionMutation = { createCollection: { name: string, model: string, dimension: number, engine: string, m: number, efConstruction: number } };

export type DropCollectionMutationVariables = Exact<{
  name: string;
}>;


export type DropCollectionMutation = { dropCollection: boolean };

export type AddImagesMutationVariables = Exact<{
  collection: string;
  images: Array<ImageInput> | ImageInput;
  ids: Array<string | number> | string | number;
  metadata?: Array<unknown> | unknown | null | undefined;
  model?: string | null | undefined;
}>;


export type AddImagesMutation = { addImages: { collection: string, ids: Array<string> } };

export type DeleteItemsMutationVariables = Exact<{
  collection: string;
  ids: Array<string | number> | string | number;
}>;


export type DeleteItemsMutation = { deleteItems: { collection: string, deleted: Array<string> } };

export type ItemDigestsQueryVariables = Exact<{
  collection: string;
  after?: string | number | null | undefined;
  first?: number | null | undefined;
}>;


export type ItemDigestsQuery = { itemDigests: { hasNextPage: boolean, endCursor: string | null, items: Array<{ id: string, sha256: string }> } };

export type SearchQueryVariables = Exact<{
  collection: string;
  text?: string | null | undefined;
  image?: ImageInput | null | undefined;
  k?: number | null | undefined;
  filter?: unknown;
  after?: string | null | undefined;
  model?: string | null | undefined;
}>;


export type SearchQuery = { search: { collection: string, model: string, hasNextPage: boolean, endCursor: string | null, hits: Array<{ id: string, rank: number, score: number, metadata: unknown, sha256: string, width: number, height: number, format: string, thumbnail: string | null }> } };

export type WebServiceInfoQueryVariables = Exact<{ [key: string]: never; }>;


export type WebServiceInfoQuery = { backends: Array<{ name: string, device: string, healthy: boolean, isDefault: boolean, error: string | null }>, models: Array<{ name: string, isDefault: boolean, embedDim: number | null, imageSize: number, randomWeights: boolean, warning: string | null }> };

export type WebSimilarityQueryVariables = Exact<{
  images: Array<ImageInput> | ImageInput;
  captions: Array<string> | string;
  backend?: string | null | undefined;
  model?: string | null | undefined;
}>;


export type WebSimilarityQuery = { similarity: { scores: Array<Array<number>>, images: Array<{ id: string, width: number, height: number, format: string }>, captions: Array<{ id: string, text: string, truncated: boolean }>, bestCaptionPerImage: Array<{ image: number, caption: number, score: number }>, model: { name: string, randomWeights: boolean, warning: string | null }, backend: { name: string, device: string }, timings: { totalMs: number }, heatmap: { dataUrl: string, width: number, height: number } } };

export type WebClassifyQueryVariables = Exact<{
  image: ImageInput;
  labels: Array<string> | string;
  template?: string | null | undefined;
  backend?: string | null | undefined;
  model?: string | null | undefined;
}>;


export type WebClassifyQuery = { classify: { image: { id: string, width: number, height: number, format: string }, labels: Array<{ label: string, prompt: string, score: number, probability: number, rank: number }>, model: { name: string, randomWeights: boolean, warning: string | null }, backend: { name: string, device: string } } };

export type WebCollectionsQueryVariables = Exact<{ [key: string]: never; }>;


export type WebCollectionsQuery = { collections: Array<{ name: string, model: string, dimension: number, count: number, engine: string }> };

export type WebCreateCollectionMutationVariables = Exact<{
  name: string;
  model?: string | null | undefined;
}>;


export type WebCreateCollectionMutation = { createCollection: { name: string, model: string, dimension: number, engine: string } };

export type WebAddImagesMutationVariables = Exact<{
  collection: string;
  images: Array<ImageInput> | ImageInput;
  ids: Array<string | number> | string | number;
  metadata?: Array<unknown> | unknown | null | undefined;
  model?: string | null | undefined;
}>;


export type WebAddImagesMutation = { addImages: { ids: Array<string>, count: number } };

export type WebSearchQueryVariables = Exact<{
  collection: string;
  text?: string | null | undefined;
  image?: ImageInput | null | undefined;
  k?: number | null | undefined;
  model?: string | null | undefined;
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
    query Similarity($images: [ImageInput!]!, $captions: [String!]!, $backend: String, $model: String) {
  similarity(
    images: $images
    captions: $captions
    backend: $backend
    model: $model
  ) {
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
    `, {"hash":"sha256:0e631f145f5cbf648d18222f062f7f14fe34437f760e96f2f5497169d09d3ce8"}) as unknown as TypedDocumentString<SimilarityQuery, SimilarityQueryVariables>;
export const ClassifyDocument = new TypedDocumentString(`
    query Classify($image: ImageInput!, $labels: [String!]!, $template: String, $backend: String, $model: String) {
  classify(
    image: $image
    labels: $labels
    template: $template
    backend: $backend
    model: $model
  ) {
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
    `, {"hash":"sha256:e65a56ccaad4c4c901a5ccc563ded75a1a58e7692f8e9ff706f0bb80dcf84cbe"}) as unknown as TypedDocumentString<ClassifyQuery, ClassifyQueryVariables>;
export const EmbedImagesDocument = new TypedDocumentString(`
    query EmbedImages($images: [ImageInput!]!, $normalize: Boolean = true, $model: String) {
  embedImages(images: $images, model: $model) {
    id
    sha256
    width
    height
    embedding(normalize: $normalize)
  }
}
    `, {"hash":"sha256:fca111374215e89038e49507807a0a7cb7b1048958514853274f1990789cd7d7"}) as unknown as TypedDocumentString<EmbedImagesQuery, EmbedImagesQueryVariables>;
export const EmbedCaptionsDocument = new TypedDocumentString(`
    query EmbedCaptions($captions: [String!]!, $normalize: Boolean = true, $model: String) {
  embedCaptions(captions: $captions, model: $model) {
    id
    text
    tokens
    embedding(normalize: $normalize)
  }
}
    `, {"hash":"sha256:8559e1eff206862e9352ea0ae9070e3ecc942a32982a7403330a574ad04f9926"}) as unknown as TypedDocumentString<EmbedCaptionsQuery, EmbedCaptionsQueryVariables>;
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
    bundle
    isDefault
    imageSize
    embedDim
    contextLength
    backends
    startupMs
    memoryBytes
    fileBytes
    randomWeights
    warning
  }
}
    `, {"hash":"sha256:17f5af7317aef076e0b4cbe7565e412f2194e31de87f2d2cb447b876cb9efbb4"}) as unknown as TypedDocumentString<ServiceInfoQuery, ServiceInfoQueryVariables>;
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
    `, {"hash":"sha256:12200e49de55f283c6344550e7e8d84ccfb43f86909f836d05ee0a889e0eed59"}) as unknown as TypedDocumentString<CollectionsQuery, CollectionsQueryVariables>;
export const CreateCollectionDocument = new TypedDocumentString(`
    mutation CreateCollection($name: String!, $model: String, $m: Int, $efConstruction: Int) {
  createCollection(
    name: $name
    model: $model
    m: $m
    efConstruction: $efConstruction
  ) {
    name
    model
    dimension
    engine
    m
    efConstruction
  }
}
    `, {"hash":"sha256:57d195bab1a3da59adb1c5f28159329edecd8c16d0fd54b45fb789914edea873"}) as unknown as TypedDocumentString<CreateCollectionMutation, CreateCollectionMutationVariables>;
export const DropCollectionDocument = new TypedDocumentString(`
    mutation DropCollection($name: String!) {
  dropCollection(name: $name)
}
    `, {"hash":"sha256:30346a5645fa08a0bdaef23ec6bab946011b8db5850ed5f5fed6b4cf033e31db"}) as unknown as TypedDocumentString<DropCollectionMutation, DropCollectionMutationVariables>;
export const AddImagesDocument = new TypedDocumentString(`
    mutation AddImages($collection: String!, $images: [ImageInput!]!, $ids: [ID!]!, $metadata: [JSON], $model: String) {
  addImages(
    collection: $collection
    images: $images
    ids: $ids
    metadata: $metadata
    model: $model
  ) {
    collection
    ids
  }
}
    `, {"hash":"sha256:847d3ee8a5bf4c21f387fd2f040e27c4d1f745932e268a46c0f4ea75097ad137"}) as unknown as TypedDocumentString<AddImagesMutation, AddImagesMutationVariables>;
export const DeleteItemsDocument = new TypedDocumentString(`
    mutation DeleteItems($collection: String!, $ids: [ID!]!) {
  deleteItems(collection: $collection, ids: $ids) {
    collection
    deleted
  }
}
    `, {"hash":"sha256:0dee9999d6701cca97c3bec8479733d1c280947d244d6a6b46dd420fedf55013"}) as unknown as TypedDocumentString<DeleteItemsMutation, DeleteItemsMutationVariables>;
export const ItemDigestsDocument = new TypedDocumentString(`
    query ItemDigests($collection: String!, $after: ID, $first: Int) {
  itemDigests(collection: $collection, after: $after, first: $first) {
    items {
      id
      sha256
    }
    hasNextPage
    endCursor
  }
}
    `, {"hash":"sha256:684fabdb92f5b67ce31511444f86eeada4598387634c03fe04c5fb66961639c4"}) as unknown as TypedDocumentString<ItemDigestsQuery, ItemDigestsQueryVariables>;
export const SearchDocument = new TypedDocumentString(`
    query Search($collection: String!, $text: String, $image: ImageInput, $k: Int, $filter: JSON, $after: String, $model: String) {
  search(
    collection: $collection
    text: $text
    image: $image
    k: $k
    filter: $filter
    after: $after
    model: $model
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
    `, {"hash":"sha256:5dceb073ca2e22fbea4dc33034aa5a359509e9c085cb9e79f15fe9c7dc828ec2"}) as unknown as TypedDocumentString<SearchQuery, SearchQueryVariables>;
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
    isDefault
    embedDim
    imageSize
    randomWeights
    warning
  }
}
    `, {"hash":"sha256:f588f5bc879b2a10abde62007117fac115bc08c2c0af3ffe084ab563bf8a7d2e"}) as unknown as TypedDocumentString<WebServiceInfoQuery, WebServiceInfoQueryVariables>;
export const WebSimilarityDocument = new TypedDocumentString(`
    query WebSimilarity($images: [ImageInput!]!, $captions: [String!]!, $backend: String, $model: String) {
  similarity(
    images: $images
    captions: $captions
    backend: $backend
    model: $model
  ) {
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
    `, {"hash":"sha256:e8ecb1f9ddaf976cff756b37883d79939888651c8086de29257b5e8e88a92925"}) as unknown as TypedDocumentString<WebSimilarityQuery, WebSimilarityQueryVariables>;
export const WebClassifyDocument = new TypedDocumentString(`
    query WebClassify($image: ImageInput!, $labels: [String!]!, $template: String, $backend: String, $model: String) {
  classify(
    image: $image
    labels: $labels
    template: $template
    backend: $backend
    model: $model
  ) {
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
    `, {"hash":"sha256:9451d4494f705a13f7c9a088aa9c11f5d61273a07d27923427cbc84898a7f03d"}) as unknown as TypedDocumentString<WebClassifyQuery, WebClassifyQueryVariables>;
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
    `, {"hash":"sha256:0f0387bece9ceefaa25d601e127316ee070cfef5b1bd73f0dd107c2ab7479cc5"}) as unknown as TypedDocumentString<WebCollectionsQuery, WebCollectionsQueryVariables>;
export const WebCreateCollectionDocument = new TypedDocumentString(`
    mutation WebCreateCollection($name: String!, $model: String) {
  createCollection(name: $name, model: $model) {
    name
    model
    dimension
    engine
  }
}
    `, {"hash":"sha256:57b01f25d8cb529ae3fcf58b40e58c4edd19af6b39992a721df8606434144d08"}) as unknown as TypedDocumentString<WebCreateCollectionMutation, WebCreateCollectionMutationVariables>;
export const WebAddImagesDocument = new TypedDocumentString(`
    mutation WebAddImages($collection: String!, $images: [ImageInput!]!, $ids: [ID!]!, $metadata: [JSON], $model: String) {
  addImages(
    collection: $collection
    images: $images
    ids: $ids
    metadata: $metadata
    model: $model
  ) {
    ids
    count
  }
}
    `, {"hash":"sha256:73687bad625b6241e0f4eb3912d282e36e15cfee1988cffcf565522b83c22a5e"}) as unknown as TypedDocumentString<WebAddImagesMutation, WebAddImagesMutationVariables>;
export const WebSearchDocument = new TypedDocumentString(`
    query WebSearch($collection: String!, $text: String, $image: ImageInput, $k: Int, $model: String) {
  search(
    collection: $collection
    text: $text
    image: $image
    k: $k
    model: $model
  ) {
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
    `, {"hash":"sha256:212601d611b19eb033b5ac6f9d0c024ffd1573eb5f92027fec3a9d5350d8b8d7"}) as unknown as TypedDocumentString<WebSearchQuery, WebSearchQueryVariables>;