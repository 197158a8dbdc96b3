/* eslint-disable */
import * as types from './graphql';



/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "\n  query Similarity($images: [ImageInput!]!, $captions: [String!]!, $backend: String, $model: String) {\n    similarity(images: $images, captions: $captions, backend: $backend, model: $model) {\n      images { id width height format mode sha256 }\n      captions { id text tokens tokenCount truncated }\n      scores\n      probabilitiesOverCaptions\n      probabilitiesOverImages\n      bestCaptionPerImage { image caption score probability }\n      bestImagePerCaption { image caption score probability }\n      model { name imageSize embedDim randomWeights warning }\n      backend { name device dtype }\n      timings { inputMs embedMs totalMs }\n    }\n  }\n": typeof types.SimilarityDocument,
    "\n  query Classify($image: ImageInput!, $labels: [String!]!, $template: String, $backend: String, $model: String) {\n    classify(image: $image, labels: $labels, template: $template, backend: $backend, model: $model) {\n      image { id width height }\n      labels { label prompt score probability rank }\n      model { name randomWeights warning }\n      backend { name }\n    }\n  }\n": typeof types.ClassifyDocument,
    "\n  query EmbedImages($images: [ImageInput!]!, $normalize: Boolean = true, $model: String) {\n    embedImages(images: $images, model: $model) { id sha256 width height embedding(normalize: $normalize) }\n  }\n": typeof types.EmbedImagesDocument,
    "\n  query EmbedCaptions($captions: [String!]!, $normalize: Boolean = true, $model: String) {\n    embedCaptions(captions: $captions, model: $model) { id text tokens embedding(normalize: $normalize) }\n  }\n": typeof types.EmbedCaptionsDocument,
    "\n  query ServiceInfo {\n    backends { name device model dtype maxImageBatch maxTextBatch healthy error isDefault }\n    models { name bundle isDefault imageSize embedDim contextLength backends startupMs memoryBytes fileBytes randomWeights warning }\n  }\n": typeof types.ServiceInfoDocument,
    "\n  query Collections {\n    collections { name model dimension count createdAt engine }\n  }\n": typeof types.CollectionsDocument,
    "\n  mutation CreateCollection($name: String!, $model: String, $m: Int, $efConstruction: Int) {\n    createCollection(name: $name, model: $model, m: $m, efConstruction: $efConstruction) { name model dimension engine m efConstruction }\n  }\n": typeof types.CreateCollectionDocument,
    "\n  mutation DropCollection($name: String!) {\n    dropCollection(name: $name)\n  }\n": typeof types.DropCollectionDocument,
    "\n  mutation AddImages($collection: String!, $images: [ImageInput!]!, $ids: [ID!]!, $metadata: [JSON], $model: String) {\n    addImages(collection: $collection, images: $images, ids: $ids, metadata: $metadata, model: $model) { collection ids }\n  }\n": typeof types.AddImagesDocument,
    "\n  mutation DeleteItems($collection: String!, $ids: [ID!]!) {\n    deleteItems(collection: $collection, ids: $ids) { collection deleted }\n  }\n": typeof types.DeleteItemsDocument,
    "\n  query ItemDigests($collection: String!, $after: ID, $first: Int) {\n    itemDigests(collection: $collection, after: $after, first: $first) { items { id sha256 } hasNextPage endCursor }\n  }\n": typeof types.ItemDigestsDocument,
    "\n  query Search($collection: String!, $text: String, $image: ImageInput, $k: Int, $filter: JSON, $after: String, $model: String) {\n    search(collection: $collection, text: $text, image: $image, k: $k, filter: $filter, after: $after, model: $model) {\n      collection model hasNextPage endCursor\n      hits { id rank score metadata sha256 width height format thumbnail }\n    }\n  }\n": typeof types.SearchDocument,
    "\n  query WebServiceInfo {\n    backends { name device healthy isDefault error }\n    models { name isDefault embedDim imageSize randomWeights warning }\n  }\n": typeof types.WebServiceInfoDocument,
    "\n  query WebSimilarity($images: [ImageInput!]!, $captions: [String!]!, $backend: String, $model: String) {\n    similarity(images: $images, captions: $captions, backend: $backend, model: $model) {\n      images { id width height format }\n      captions { id text truncated }\n      scores\n      bestCaptionPerImage { image caption score }\n      model { name randomWeights warning }\n      backend { name device }\n      timings { totalMs }\n      heatmap(format: SVG) { dataUrl width height }\n    }\n  }\n": typeof types.WebSimilarityDocument,
    "\n  query WebClassify($image: ImageInput!, $labels: [String!]!, $template: String, $backend: String, $model: String) {\n    classify(image: $image, labels: $labels, template: $template, backend: $backend, model: $model) {\n      image { id width height format }\n      labels { label prompt score probability rank }\n      model { name randomWeights warning }\n      backend { name device }\n    }\n  }\n": typeof types.WebClassifyDocument,
    "\n  query WebCollections {\n    collections { name model dimension count engine }\n  }\n": typeof types.WebCollectionsDocument,
    "\n  mutation WebCreateCollection($name: String!, $model: String) {\n    createCollection(name: $name, model: $model) { name model dimension engine }\n  }\n": typeof types.WebCreateCollectionDocument,
    "\n  mutation WebAddImages($collection: String!, $images: [ImageInput!]!, $ids: [ID!]!, $metadata: [JSON], $model: String) {\n    addImages(collection: $collection, images: $images, ids: $ids, metadata: $metadata, model: $model) { ids count }\n  }\n": typeof types.WebAddImagesDocument,
    "\n  query WebSearch($collection: String!, $text: String, $image: ImageInput, $k: Int, $model: String) {\n    search(collection: $collection, text: $text, image: $image, k: $k, model: $model) {\n      model\n      hits { id rank score thumbnail width height }\n    }\n  }\n": typeof types.WebSearchDocument,
};
const documents: Documents = {
    "\n  query Similarity($images: [ImageInput!]!, $captions: [String!]!, $backend: String, $model: String) {\n    similarity(images: $images, captions: $captions, backend: $backend, model: $model) {\n      images { id width height format mode sha256 }\n      captions { id text tokens tokenCount truncated }\n      scores\n      probabilitiesOverCaptions\n      probabilitiesOverImages\n      bestCaptionPerImage { image caption score probability }\n      bestImagePerCaption { image caption score probability }\n      model { name imageSize embedDim randomWeights warning }\n      backend { name device dtype }\n      timings { inputMs embedMs totalMs }\n    }\n  }\n": types.SimilarityDocument,
    "\n  query Classify($image: ImageInput!, $labels: [String!]!, $template: String, $backend: String, $model: String) {\n    classify(image: $image, labels: $labels, template: $template, backend: $backend, model: $model) {\n      image { id width height }\n      labels { label prompt score probability rank }\n      model { name randomWeights warning }\n      backend { name }\n    }\n  }\n": types.ClassifyDocument,
    "\n  query EmbedImages($images: [ImageInput!]!, $normalize: Boolean = true, $model: String) {\n    embedImages(images: $images, model: $model) { id sha256 width height embedding(normalize: $normalize) }\n  }\n": types.EmbedImagesDocument,
    "\n  query EmbedCaptions($captions: [String!]!, $normalize: Boolean = true, $model: String) {\n    embedCaptions(captions: $captions, model: $model) { id text tokens embedding(normalize: $normalize) }\n  }\n": types.EmbedCaptionsDocument,
    "\n  query ServiceInfo {\n    backends { name device model dtype maxImageBatch maxTextBatch healthy error isDefault }\n    models { name bundle isDefault imageSize embedDim contextLength backends startupMs memoryBytes fileBytes randomWeights warning }\n  }\n": types.ServiceInfoDocument,
    "\n  query Collections {\n    collections { name model dimension count createdAt engine }\n  }\n": types.CollectionsDocument,
    "\n  mutation CreateCollection($name: String!, $model: String, $m: Int, $efConstruction: Int) {\n    createCollection(name: $name, model: $model, m: $m, efConstruction: $efConstruction) { name model dimension engine m efConstruction }\n  }\n": types.CreateCollectionDocument,
    "\n  mutation DropCollection($name: String!) {\n    dropCollection(name: $name)\n  }\n": types.DropCollectionDocument,
    "\n  mutation AddImages($collection: String!, $images: [ImageInput!]!, $ids: [ID!]!, $metadata: [JSON], $model: String) {\n    addImages(collection: $collection, images: $images, ids: $ids, metadata: $metadata, model: $model) { collection ids }\n  }\n": types.AddImagesDocument,
    "\n  mutation DeleteItems($collection: String!, $ids: [ID!]!) {\n    deleteItems(collection: $collection, ids: $ids) { collection deleted }\n  }\n": types.DeleteItemsDocument,
    "\n  query ItemDigests($collection: String!, $after: ID, $first: Int) {\n    itemDigests(collection: $collection, after: $after, first: $first) { items { id sha256 } hasNextPage endCursor }\n  }\n": types.ItemDigestsDocument,
    "\n  query Search($collection: String!, $text: String, $image: ImageInput, $k: Int, $filter: JSON, $after: String, $model: String) {\n    search(collection: $collection, text: $text, image: $image, k: $k, filter: $filter, after: $after, model: $model) {\n      collection model hasNextPage endCursor\n      hits { id rank score metadata sha256 width height format thumbnail }\n    }\n  }\n": types.SearchDocument,
    "\n  query WebServiceInfo {\n    backends { name device healthy isDefault error }\n    models { name isDefault embedDim imageSize randomWeights warning }\n  }\n": types.WebServiceInfoDocument,
    "\n  query WebSimilarity($images: [ImageInput!]!, $captions: [String!]!, $backend: String, $model: String) {\n    similarity(images: $images, captions: $captions, backend: $backend, model: $model) {\n      images { id width height format }\n      captions { id text truncated }\n      scores\n      bestCaptionPerImage { image caption score }\n      model { name randomWeights warning }\n      backend { name device }\n      timings { totalMs }\n      heatmap(format: SVG) { dataUrl width height }\n    }\n  }\n": types.WebSimilarityDocument,
    "\n  query WebClassify($image: ImageInput!, $labels: [String!]!, $template: String, $backend: String, $model: String) {\n    classify(image: $image, labels: $labels, template: $template, backend: $backend, model: $model) {\n      image { id width height format }\n      labels { label prompt score probability rank }\n      model { name randomWeights warning }\n      backend { name device }\n    }\n  }\n": types.WebClassifyDocument,
    "\n  query WebCollections {\n    collections { name model dimension count engine }\n  }\n": types.WebCollectionsDocument,
    "\n  mutation WebCreateCollection($name: String!, $model: String) {\n    createCollection(name: $name, model: $model) { name model dimension engine }\n  }\n": types.WebCreateCollectionDocument,
    "\n  mutation WebAddImages($collection: String!, $images: [ImageInput!]!, $ids: [ID!]!, $metadata: [JSON], $model: String) {\n    addImages(collection: $collection, images: $images, ids: $ids, metadata: $metadata, model: $model) { ids count }\n  }\n": types.WebAddImagesDocument,
    "\n  query WebSearch($collection: String!, $text: String, $image: ImageInput, $k: Int, $model: String) {\n    search(collection: $collection, text: $text, image: $image, k: $k, model: $model) {\n      model\n      hits { id rank score thumbnail width height }\n    }\n  }\n": types.WebSearchDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Similarity($images: [ImageInput!]!, $captions: [String!]!, $backend: String, $model: String) {\n    similarity(images: $images, captions: $captions, backend: $backend, model: $model) {\n      images { id width height format mode sha256 }\n      captions { id text tokens tokenCount truncated }\n      scores\n      probabilitiesOverCaptions\n      probabilitiesOverImages\n      bestCaptionPerImage { image caption score probability }\n      bestImagePerCaption { image caption score probability }\n      model { name imageSize embedDim randomWeights warning }\n      backend { name device dtype }\n      timings { inputMs embedMs totalMs }\n    }\n  }\n"): typeof import('./graphql').SimilarityDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Classify($image: ImageInput!, $labels: [String!]!, $template: String, $backend: String, $model: String) {\n    classify(image: $image, labels: $labels, template: $template, backend: $backend, model: $model) {\n      image { id width height }\n      labels { label prompt score probability rank }\n      model { name randomWeights warning }\n      backend { name }\n    }\n  }\n"): typeof import('./graphql').ClassifyDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query EmbedImages($images: [ImageInput!]!, $normalize: Boolean = true, $model: String) {\n    embedImages(images: $images, model: $model) { id sha256 width height embedding(normalize: $normalize) }\n  }\n"): typeof import('./graphql').EmbedImagesDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query EmbedCaptions($captions: [String!]!, $normalize: Boolean = true, $model: String) {\n    embedCaptions(captions: $captions, model: $model) { id text tokens embedding(normalize: $normalize) }\n  }\n"): typeof import('./graphql').EmbedCaptionsDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query ServiceInfo {\n    backends { name device model dtype maxImageBatch maxTextBatch healthy error isDefault }\n    models { name bundle isDefault imageSize embedDim contextLength backends startupMs memoryBytes fileBytes randomWeights warning }\n  }\n"): typeof import('./graphql').ServiceInfoDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Collections {\n    collections { name model dimension count createdAt engine }\n  }\n"): typeof import('./graphql').CollectionsDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CreateCollection($name: String!, $model: String, $m: Int, $efConstruction: Int) {\n    createCollection(name: $name, model: $model, m: $m, efConstruction: $efConstruction) { name model dimension engine m efConstruction }\n  }\n"): typeof import('./graphql').CreateCollectionDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation DropCollection($name: String!) {\n    dropCollection(name: $name)\n  }\n"): typeof import('./graphql').DropCollectionDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation AddImages($collection: String!, $images: [ImageInput!]!, $ids: [ID!]!, $metadata: [JSON], $model: String) {\n    addImages(collection: $collection, images: $images, ids: $ids, metadata: $metadata, model: $model) { collection ids }\n  }\n"): typeof import('./graphql').AddImagesDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation DeleteItems($collection: String!, $ids: [ID!]!) {\n    deleteItems(collection: $collection, ids: $ids) { collection deleted }\n  }\n"): typeof import('./graphql').DeleteItemsDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query ItemDigests($collection: String!, $after: ID, $first: Int) {\n    itemDigests(collection: $collection, after: $after, first: $first) { items { id sha256 } hasNextPage endCursor }\n  }\n"): typeof import('./graphql').ItemDigestsDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Search($collection: String!, $text: String, $image: ImageInput, $k: Int, $filter: JSON, $after: String, $model: String) {\n    search(collection: $collection, text: $text, image: $image, k: $k, filter: $filter, after: $after, model: $model) {\n      collection model hasNextPage endCursor\n      hits { id rank score metadata sha256 width height format thumbnail }\n    }\n  }\n"): typeof import('./graphql').SearchDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query WebServiceInfo {\n    backends { name device healthy isDefault error }\n    models { name isDefault embedDim imageSize randomWeights warning }\n  }\n"): typeof import('./graphql').WebServiceInfoDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query WebSimilarity($images: [ImageInput!]!, $captions: [String!]!, $backend: String, $model: String) {\n    similarity(images: $images, captions: $captions, backend: $backend, model: $model) {\n      images { id width height format }\n      captions { id text truncated }\n      scores\n      bestCaptionPerImage { image caption score }\n      model { name randomWeights warning }\n      backend { name device }\n      timings { totalMs }\n      heatmap(format: SVG) { dataUrl width height }\n    }\n  }\n"): typeof import('./graphql').WebSimilarityDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query WebClassify($image: ImageInput!, $labels: [String!]!, $template: String, $backend: String, $model: String) {\n    classify(image: $image, labels: $labels, template: $template, backend: $backend, model: $model) {\n      image { id width height format }\n      labels { label prompt score probability rank }\n      model { name randomWeights warning }\n      backend { name device }\n    }\n  }\n"): typeof import('./graphql').WebClassifyDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query WebCollections {\n    collections { name model dimension count engine }\n  }\n"): typeof import('./graphql').WebCollectionsDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation WebCreateCollection($name: String!, $model: String) {\n    createCollection(name: $name, model: $model) { name model dimension engine }\n  }\n"): typeof import('./graphql').WebCreateCollectionDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation WebAddImages($collection: String!, $images: [ImageInput!]!, $ids: [ID!]!, $metadata: [JSON], $model: String) {\n    addImages(collection: $collection, images: $images, ids: $ids, metadata: $metadata, model: $model) { ids count }\n  }\n"): typeof import('./graphql').WebAddImagesDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query WebSearch($collection: String!, $text: String, $image: ImageInput, $k: Int, $model: String) {\n    search(collection: $collection, text: $text, image: $image, k: $k, model: $model) {\n      model\n      hits { id rank score thumbnail width height }\n    }\n  }\n"): typeof import('./graphql').WebSearchDocument;


export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}
