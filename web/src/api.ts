/**
 * The page's GraphQL operations, typed by graphql-codegen's client preset (client/gql, generated
 * from schema.graphql and the documents here by `npx graphql-codegen`).
 */
import { graphql } from '../../client/gql';
import { GraphQLRequestError, request, type Endpoint, type GraphQLErrorEntry } from '../../client/request';

const meta = (name: string) => document.querySelector<HTMLMetaElement>(`meta[name="${name}"]`)?.content;
const KEY = meta('clipql-key');

/**
 * Where the page sends its operations, and how: by hash (`documentId`) when the server that
 * served the page runs trusted documents, which it says in `<meta name="clipql-documents"
 * content="id">` (src/server/static.ts); otherwise as text. With the page's API key, when the
 * server gives it one (`<meta name="clipql-key">`, CLIP_PAGE_KEY_FILE).
 */
export const ENDPOINT: Endpoint = {
  url: '/graphql',
  documents: meta('clipql-documents') === 'id' ? 'id' : 'query',
  ...(KEY ? { headers: { authorization: `Bearer ${KEY}` } } : {}),
};

/** Whether the page's key may take `action` (read, write...); true without a key (no API keys). */
export function mayDo(action: string): boolean {
  const actions = meta('clipql-actions');
  return actions === undefined || actions.split('+').includes(action);
}

export const WebServiceInfoDocument = graphql(`
  query WebServiceInfo {
    backends { name device healthy isDefault error }
    models { name isDefault embedDim imageSize randomWeights warning }
  }
`);

export const WebSimilarityDocument = graphql(`
  query WebSimilarity($images: [ImageInput!]!, $captions: [String!]!, $backend: String, $model: String) {
    similarity(images: $images, captions: $captions, backend: $backend, model: $model) {
      images { id width height format }
      captions { id text truncated }
      scores
      bestCaptionPerImage { image caption score }
      model { name randomWeights warning }
      backend { name device }
      timings { totalMs }
      heatmap(format: SVG) { dataUrl width height }
    }
  }
`);

export const WebClassifyDocument = graphql(`
  query WebClassify($image: ImageInput!, $labels: [String!]!, $template: String, $backend: String, $model: String) {
    classify(image: $image, labels: $labels, template: $template, backend: $backend, model: $model) {
      image { id width height format }
      labels { label prompt score probability rank }
      model { name randomWeights warning }
      backend { name device }
    }
  }
`);

export const WebCollectionsDocument = graphql(`
  query WebCollections {
    collections { name model dimension count engine }
  }
`);

export const WebCreateCollectionDocument = graphql(`
  mutation WebCreateCollection($name: String!, $model: String) {
    createCollection(name: $name, model: $model) { name model dimension engine }
  }
`);

export const WebAddImagesDocument = graphql(`
  mutation WebAddImages($collection: String!, $images: [ImageInput!]!, $ids: [ID!]!, $metadata: [JSON], $model: String) {
    addImages(collection: $collection, images: $images, ids: $ids, metadata: $metadata, model: $model) { ids count }
  }
`);

export const WebSearchDocument = graphql(`
  query WebSearch($collection: String!, $text: String, $image: ImageInput, $k: Int, $model: String) {
    search(collection: $collection, text: $text, image: $image, k: $k, model: $model) {
      model
      hits { id rank score thumbnail width height }
    }
  }
`);

export { GraphQLRequestError, request };

/** One error to show: where it belongs (an argument such as "images[2]", if known), code, text. */
export interface ShownError {
  readonly argument?: string;
  readonly code?: string;
  readonly message: string;
}

const ARGUMENT_PREFIX = /^([A-Za-z_]\w*(?:\[\d+\])?): /;

/** The errors of a failed request, with the argument prefix moved out of the message. */
export function errorsOf(e: unknown): ShownError[] {
  if (e instanceof GraphQLRequestError) return e.errors.map(shown);
  if (e instanceof TypeError) return [{ message: 'The service could not be reached. Is it running?' }];
  return [{ message: e instanceof Error ? e.message : String(e) }];
}

function shown(e: GraphQLErrorEntry): ShownError {
  const prefix = ARGUMENT_PREFIX.exec(e.message);
  const argument = typeof e.extensions?.argument === 'string' ? e.extensions.argument : prefix?.[1];
  const message = prefix && prefix[1] === argument ? e.message.slice(prefix[0].length) : e.message;
  return { argument, code: e.extensions?.code, message: message.charAt(0).toUpperCase() + message.slice(1) };
}

/** "images[2]" → { name: "images", index: 2 }. */
export function parseArgument(argument: string | undefined): { name: string; index?: number } | undefined {
  const m = argument === undefined ? null : /^([A-Za-z_]\w*)(?:\[(\d+)\])?/.exec(argument);
  return m ? { name: m[1], index: m[2] === undefined ? undefined : Number(m[2]) } : undefined;
}

export function describeError(e: ShownError): string {
  return e.code && e.code !== 'INTERNAL_SERVER_ERROR' ? `${e.message} (${e.code})` : e.message;
}
