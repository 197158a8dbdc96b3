/**
 * Trusted documents (CLIP_TRUSTED_DOCUMENTS=path/to/persisted-documents.json): the server runs
 * only the operations the frontends were built with. The manifest is graphql-codegen's client
 * preset output (codegen.yml `persistedDocuments`): `{ "sha256:<hex>": "<document>" }`, the hex
 * being the sha256 of the document text, which the preset normalises (printExecutableGraphQLDocument:
 * sorted selections, single spaces) before hashing.
 *
 * A request names its document in one of three ways; `resolve` turns each into `{ query }` for
 * Apollo, or refuses it:
 *   documentId: "sha256:<hex>"                 the GraphQL-over-HTTP persisted-documents form
 *   extensions.persistedQuery.sha256Hash: hex  Apollo's form (Apollo Client's persisted-query link)
 *   query: "<document>"                        a full document: run only when its normalised form
 *                                              is in the manifest
 * An id or hash not in the manifest is PERSISTED_QUERY_NOT_FOUND (HTTP 400); a full document not
 * in it, FORBIDDEN_DOCUMENT (HTTP 403). Nothing is ever added to the set at run time: Apollo's own
 * automatic persisted queries (which register any document sent with its hash) are off in this
 * mode (server/apollo.ts).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { printExecutableGraphQLDocument } from '@graphql-tools/documents';
import { parse } from 'graphql';
import { ClipqlError, ErrorCode } from '../errors';

/** The parts of a GraphQL-over-HTTP request that name its document (JSON body, multipart operations, or GET parameters). */
export interface DocumentRequest {
  query?: unknown;
  documentId?: unknown;
  extensions?: unknown;
  [other: string]: unknown;
}

const ID = /^sha256:([0-9a-f]{64})$/;

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

export class TrustedDocuments {
  /** hex → document */
  private constructor(private readonly byHash: ReadonlyMap<string, string>) {}

  static fromFile(file: string): TrustedDocuments {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new ClipqlError(ErrorCode.BAD_USER_INPUT, `CLIP_TRUSTED_DOCUMENTS: cannot read ${file}: ${(e as Error).message}`);
    }
    return TrustedDocuments.parse(text, file);
  }

  /**
   * Reads a manifest. Each entry's id must be the sha256 of its text, as the preset writes it: a
   * hand-edited or truncated manifest fails here, at start-up, not on the request that needs it.
   */
  static parse(text: string, source = 'CLIP_TRUSTED_DOCUMENTS'): TrustedDocuments {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new ClipqlError(ErrorCode.BAD_USER_INPUT, `${source}: not JSON (${(e as Error).message})`);
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new ClipqlError(ErrorCode.BAD_USER_INPUT, `${source}: expected an object of "sha256:<hex>": "<document>"`);
    const byHash = new Map<string, string>();
    for (const [id, doc] of Object.entries(json)) {
      const hex = ID.exec(id)?.[1];
      if (!hex || typeof doc !== 'string') throw new ClipqlError(ErrorCode.BAD_USER_INPUT, `${source}: entry ${JSON.stringify(id.slice(0, 80))} is not "sha256:<64 hex>": "<document>"`);
      if (sha256(doc) !== hex) throw new ClipqlError(ErrorCode.BAD_USER_INPUT, `${source}: the document of ${id} does not hash to its id (edited by hand? regenerate it with \`npx graphql-codegen\`)`);
      byHash.set(hex, doc);
    }
    if (byHash.size === 0) throw new ClipqlError(ErrorCode.BAD_USER_INPUT, `${source}: no documents (every request would be refused)`);
    return new TrustedDocuments(byHash);
  }

  get size(): number {
    return this.byHash.size;
  }

  /**
   * The request with `query` set to its trusted document and `documentId` and
   * `extensions.persistedQuery` removed (other extensions stay); throws the refusal otherwise. A
   * request that names no document at all passes unchanged, for Apollo to refuse as it always does.
   */
  resolve<T extends DocumentRequest>(request: T): T {
    const { documentId, extensions, query, ...rest } = request;
    const { persistedQuery, ...otherExtensions } = isObject(extensions) ? extensions : ({} as Record<string, unknown>);
    const out = { ...rest, ...(extensions === undefined ? {} : { extensions: isObject(extensions) ? otherExtensions : extensions }) } as T;
    const hasQuery = query !== undefined && query !== null && query !== '';
    if (documentId !== undefined) {
      if (hasQuery || persistedQuery !== undefined) throw new ClipqlError(ErrorCode.BAD_USER_INPUT, 'a request with a documentId sends no query and no persistedQuery extension');
      const hex = typeof documentId === 'string' ? ID.exec(documentId)?.[1] : undefined;
      if (!hex) throw new ClipqlError(ErrorCode.PERSISTED_QUERY_NOT_FOUND, `documentId must be "sha256:" and 64 hex digits, got ${JSON.stringify(String(documentId).slice(0, 80))}`);
      return { ...out, query: this.byId(hex, documentId as string) };
    }
    if (persistedQuery !== undefined) {
      const hash = isObject(persistedQuery) ? persistedQuery.sha256Hash : undefined;
      if (typeof hash !== 'string' || !/^[0-9a-f]{64}$/.test(hash)) throw new ClipqlError(ErrorCode.PERSISTED_QUERY_NOT_FOUND, 'extensions.persistedQuery.sha256Hash must be 64 hex digits');
      if (!hasQuery) return { ...out, query: this.byId(hash, hash) };
      // Apollo's second try after PERSISTED_QUERY_NOT_FOUND: the hash and its document. As in
      // Apollo, the hash must be the document's; the document is then judged as a full one.
      if (typeof query !== 'string' || sha256(query) !== hash) throw new ClipqlError(ErrorCode.BAD_USER_INPUT, 'extensions.persistedQuery.sha256Hash is not the sha256 of the query sent with it');
    }
    if (typeof query === 'string' && query !== '') return { ...out, query: this.byText(query) };
    return request;
  }

  private byId(hex: string, shown: string): string {
    const doc = this.byHash.get(hex);
    if (doc === undefined) throw new ClipqlError(ErrorCode.PERSISTED_QUERY_NOT_FOUND, `no trusted document has the id ${shown}: this server runs only the operations its frontends were built with`);
    return doc;
  }

  /** A full document: trusted when it is a manifest entry as sent, or once normalised as the preset does. */
  private byText(query: string): string {
    const exact = this.byHash.get(sha256(query));
    if (exact !== undefined) return exact;
    let normal: string | undefined;
    try {
      normal = printExecutableGraphQLDocument(parse(query, { noLocation: true }));
    } catch {
      normal = undefined; // not GraphQL, hence not trusted either
    }
    const doc = normal === undefined ? undefined : this.byHash.get(sha256(normal));
    if (doc === undefined) throw new ClipqlError(ErrorCode.FORBIDDEN_DOCUMENT, 'this document is not one of the trusted documents: this server runs only the operations its frontends were built with (send their documentId)');
    return doc;
  }
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}
