/**
 * A minimal typed GraphQL client over fetch for the documents in client/operations.ts (and the
 * web page's), typed by graphql-codegen's client preset (client/gql/, generated: `npx
 * graphql-codegen`). Works in Node 20 and in browsers; no GraphQL runtime needed.
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

export async function request<TResult, TVariables>(
  endpoint: string,
  document: TypedDocumentString<TResult, TVariables>,
  ...[variables]: TVariables extends Record<string, never> ? [] : [TVariables]
): Promise<TResult> {
  const res = await fetch(endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' },
    body: JSON.stringify({ query: document.toString(), variables }),
  });
  const body = (await res.json().catch(() => ({ errors: [{ message: `HTTP ${res.status}: the answer is not JSON` }] }))) as { data?: TResult; errors?: GraphQLErrorEntry[] };
  if (body.errors?.length) throw new GraphQLRequestError(body.errors, res.status);
  if (!body.data) throw new GraphQLRequestError([{ message: `HTTP ${res.status}: no data` }], res.status);
  return body.data;
}
