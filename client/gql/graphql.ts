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
    mutation CreateCollection($name: String!, $model: String) {
  createCollection(name: $name, model: $model) {
    name
    model
    dimension
    engine
  }
}
    `, {"hash":"sha256:371a30dee56a9451031a3c9e4851fd9e9a200e9acd8dd9467dd7465cf4ff2df8"}) as unknown as TypedDocumentString<CreateCollectionMutation, CreateCollectionMutationVariables>;
export const DropCollectionDocument = new TypedDocumentString(`
    mutation DropCollection($name: String!) {
  dropCollection(name: $name)
}
    `, {"hash":"sha256:30346a5645fa08a0bdaef23ec6bab946011b8db5850ed5f5fed6b4cf033e31db"}) as unknown as TypedDocumentString<DropCollectionMutation, DropCollectionMutationVariables>;
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
    `, {"hash":"sha256:a8b30115a8552562ef86c305f8c2dd08c9f113430a4d82d6d3dd88c1091a61f4"}) as unknown as TypedDocumentString<AddImagesMutation, AddImagesMutationVariables>;
export const DeleteItemsDocument = new TypedDocumentString(`
    mutation DeleteItems($collection: String!, $ids: [ID!]!) {
  deleteItems(collection: $collection, ids: $ids) {
    collection
    deleted
    count
  }
}
    `, {"hash":"sha256:06a8f2cac3c8972a1720e461a86aa93c4da46cce16d655df189d4eee90a5feb4"}) as unknown as TypedDocumentString<DeleteItemsMutation, DeleteItemsMutationVariables>;
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
    `, {"hash":"sha256:fc5461342cc63d059ffaf8ef62b803d7bad8945e632a6713a77f193a98c58bde"}) as unknown as TypedDocumentString<SearchQuery, SearchQueryVariables>;
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
    mutation WebCreateCollection($name: String!) {
  createCollection(name: $name) {
    name
    model
    dimension
    engine
  }
}
    `, {"hash":"sha256:c58cb24f574908223204c70b31add46659c2c7ed1829a7c6113f3229135cc15e"}) as unknown as TypedDocumentString<WebCreateCollectionMutation, WebCreateCollectionMutationVariables>;
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
    `, {"hash":"sha256:85fa8f1f50c6da2fe47657aca020896d5de50c240a0c256a0ac65d2274b54314"}) as unknown as TypedDocumentString<WebAddImagesMutation, WebAddImagesMutationVariables>;
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
    `, {"hash":"sha256:5a6b1f2e8f268b1111ff02ff3d68731102844eceffae9dc61de059328ddc6fb4"}) as unknown as TypedDocumentString<WebSearchQuery, WebSearchQueryVariables>;