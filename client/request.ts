/**
 * A minimal typed GraphQL client over fetch for the documents in client/operations.ts (and the
 * web page's), typed by graphql-codegen's client preset (client/gql/, generated: `npx
 * graphql-codegen`). Works in Node 20 and in browsers; no GraphQL runtime needed. Images given as
 * Blob/File (ImageInput.file) are sent as a multipart upload, everything else as JSON.
 *
 * The endpoint is a URL, or an `Endpoint` with:
 * - `documents: 'id'`: send each operation's hash as `documentId` (GraphQL over HTTP's persisted
 *   documents) instead of its text: what a server with trusted documents (CLIP_TRUSTED_DOCUMENTS)
 *   runs. The hash is the one codegen wrote into the document and into
 *   client/gql/persisted-documents.json, the manifest such a server loads.
 * - `headers`: sent with every request, e.g. `{ authorization: 'Bearer <key>' }` (CLIP_API_KEYS_FILE).
 */
import type { TypedDocumentString } from './gql/graphql';

export interface GraphQLErrorEntry {
  readonly message: string;
  readonly path?: ReadonlyArray<string | number>;
  readonly extensions?: { readonly code?: string; readonly argument?: string; readonly [k: string]: unknown };
}

/** Thrown when the answer carries errors; `errors` keeps every entry for display. */
export class GraphQLRequestError extends Error {
  constructor(readonly errors: readonly GraphQLErrorEntry[], readonly status: number) {
    super(errors.map((e) => `${e.extensions?.code ?? 'ERROR'}: ${e.message}`).join('; '));
    this.name = 'GraphQLRequestError';
  }
}

export interface Endpoint {
  readonly url: string;
  /** 'query' (default): send the document's text; 'id': send its hash as `documentId`. */
  readonly documents?: 'query' | 'id';
  readonly headers?: Readonly<Record<string, string>>;
}

export async function request<TResult, TVariables>(
  endpoint: string | Endpoint,
  document: TypedDocumentString<TResult, TVariables>,
  ...[variables]: TVariables extends Record<string, never> ? [] : [TVariables]
): Promise<TResult> {
  const { url, documents = 'query', headers = {} } = typeof endpoint === 'string' ? { url: endpoint } : endpoint;
  const accept = 'application/graphql-response+json, application/json';
  const files: Array<{ path: string; blob: Blob }> = [];
  const vars = withoutFiles(variables, 'variables', files);
  const operations = documents === 'id' ? { documentId: documentIdOf(document), variables: vars } : { query: document.toString(), variables: vars };
  const res = await fetch(
    url,
    files.length === 0
      ? { method: 'POST', headers: { ...headers, 'content-type': 'application/json', accept }, body: JSON.stringify(operations) }
      : // fetch sets the multipart content-type with its boundary; the preflight header is what
        // Apollo's CSRF prevention asks of multipart requests.
        { method: 'POST', headers: { ...headers, accept, 'apollo-require-preflight': 'true' }, body: multipartBody(operations, files) },
  );
  const body = (await res.json().catch(() => ({ errors: [{ message: `HTTP ${res.status}: the answer is not JSON` }] }))) as { data?: TResult; errors?: GraphQLErrorEntry[] };
  if (body.errors?.length) throw new GraphQLRequestError(body.errors, res.status);
  if (!body.data) throw new GraphQLRequestError([{ message: `HTTP ${res.status}: no data` }], res.status);
  return body.data;
}

/** The "sha256:<hex>" id codegen embedded in the document (codegen.yml: persistedDocuments). */
function documentIdOf(document: { readonly __meta__?: Record<string, unknown> }): string {
  const hash = document.__meta__?.hash;
  if (typeof hash !== 'string') throw new TypeError('this document carries no hash: generate client/gql with persistedDocuments on (codegen.yml)');
  return hash;
}

/**
 * Upload variables (Blob or File values, the schema's Upload scalar) leave the JSON as null and
 * travel as file parts: the GraphQL multipart request spec, as clipql's server reads it. The
 * caller's variables are copied, never changed.
 */
function withoutFiles(value: unknown, path: string, files: Array<{ path: string; blob: Blob }>): unknown {
  if (value instanceof Blob) {
    files.push({ path, blob: value });
    return null;
  }
  if (Array.isArray(value)) return value.map((v, i) => withoutFiles(v, `${path}.${i}`, files));
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withoutFiles(v, `${path}.${k}`, files)]));
}

function multipartBody(operations: unknown, files: Array<{ path: string; blob: Blob }>): FormData {
  const form = new FormData();
  form.append('operations', JSON.stringify(operations));
  form.append('map', JSON.stringify(Object.fromEntries(files.map((f, i) => [String(i), [f.path]]))));
  files.forEach((f, i) => form.append(String(i), f.blob, f.blob instanceof File ? f.blob.name : `image-${i}`));
  return form;
}
