/**
 * The operations frontends use, typed by graphql-codegen (client/gql/). Import these with
 * `request()` from ./request. Every operation that encodes takes an optional `$model` (one of
 * ServiceInfo's models; the server's default when omitted).
 */
import { graphql } from './gql';

export const SimilarityDocument = graphql(`
  query Similarity($images: [ImageInput!]!, $captions: [String!]!, $backend: String, $model: String) {
    similarity(images: $images, captions: $captions, backend: $backend, model: $model) {
      images { id width height format mode sha256 }
      captions { id text tokens tokenCount truncated }
      scores
      probabilitiesOverCaptions
      probabilitiesOverImages
      bestCaptionPerImage { image caption score probability }
      bestImagePerCaption { image caption score probability }
      model { name imageSize embedDim randomWeights warning }
      backend { name device dtype }
      timings { inputMs embedMs totalMs }
    }
  }
`);

export const ClassifyDocument = graphql(`
  query Classify($image: ImageInput!, $labels: [String!]!, $template: String, $backend: String, $model: String) {
    classify(image: $image, labels: $labels, template: $template, backend: $backend, model: $model) {
      image { id width height }
      labels { label prompt score probability rank }
      model { name randomWeights warning }
      backend { name }
    }
  }
`);

export const EmbedImagesDocument = graphql(`
  query EmbedImages($images: [ImageInput!]!, $normalize: Boolean = true, $model: String) {
    embedImages(images: $images, model: $model) { id sha256 width height embedding(normalize: $normalize) }
  }
`);

export const EmbedCaptionsDocument = graphql(`
  query EmbedCaptions($captions: [String!]!, $normalize: Boolean = true, $model: String) {
    embedCaptions(captions: $captions, model: $model) { id text tokens embedding(normalize: $normalize) }
  }
`);

export const ServiceInfoDocument = graphql(`
  query ServiceInfo {
    backends { name device model dtype maxImageBatch maxTextBatch healthy error isDefault }
    models { name bundle isDefault imageSize embedDim contextLength backends startupMs memoryBytes fileBytes randomWeights warning }
  }
`);

export const CollectionsDocument = graphql(`
  query Collections {
    collections { name model dimension count createdAt engine }
  }
`);

export const CreateCollectionDocument = graphql(`
  mutation CreateCollection($name: String!, $model: String, $m: Int, $efConstruction: Int) {
    createCollection(name: $name, model: $model, m: $m, efConstruction: $efConstruction) { name model dimension engine m efConstruction }
  }
`);

export const DropCollectionDocument = graphql(`
  mutation DropCollection($name: String!) {
    dropCollection(name: $name)
  }
`);

export const AddImagesDocument = graphql(`
  mutation AddImages($collection: String!, $images: [ImageInput!]!, $ids: [ID!]!, $metadata: [JSON], $model: String) {
    addImages(collection: $collection, images: $images, ids: $ids, metadata: $metadata, model: $model) { collection ids }
  }
`);

export const DeleteItemsDocument = graphql(`
  mutation DeleteItems($collection: String!, $ids: [ID!]!) {
    deleteItems(collection: $collection, ids: $ids) { collection deleted }
  }
`);

export const ItemDigestsDocument = graphql(`
  query ItemDigests($collection: String!, $after: ID, $first: Int) {
    itemDigests(collection: $collection, after: $after, first: $first) { items { id sha256 } hasNextPage endCursor }
  }
`);

export const SearchDocument = graphql(`
  query Search($collection: String!, $text: String, $image: ImageInput, $k: Int, $filter: JSON, $after: String, $model: String) {
    search(collection: $collection, text: $text, image: $image, k: $k, filter: $filter, after: $after, model: $model) {
      collection model hasNextPage endCursor
      hits { id rank score metadata sha256 width height format thumbnail }
    }
  }
`);
