/**
 * `clipql index --server URL`: the indexer's target on a running clipql server, through the same
 * GraphQL API and typed client (client/request.ts) every frontend uses: itemDigests to learn
 * what is stored, addImages (multipart, `chunk` files a request, `writers` requests in flight)
 * to add, deleteItems to prune. The server encodes, stores and keeps the collection's index.
 *
 * A refused request is sorted by what its first error says:
 *   - about one file (BAD_IMAGE, UNSUPPORTED_FORMAT, IMAGE_TOO_LARGE... at `images[k]`): that file
 *     is rejected (reported and counted by the indexer) and the rest are sent again;
 *   - too big (TOO_MANY_INPUTS, HTTP 413): the files are sent in smaller requests, the server's
 *     `limit` when it gives one, else halves; a single file still too big is rejected;
 *   - for now (OVERLOADED, RATE_LIMITED, BACKEND_UNAVAILABLE, TIMEOUT, STORE_UNAVAILABLE, a 503
 *     while the server starts, a connection refused): sent again after `retry-after` or a
 *     backoff (1, 2, 4, 8, 8... s), at most `retries` times;
 *   - anything else (UNAUTHENTICATED, COLLECTION_NOT_FOUND, MODEL_MISMATCH...): the run fails
 *     with the server's code and message; what was stored before stays stored.
 */
import path from 'node:path';
import type { ItemDigestsQuery, TypedDocumentString } from '../../client/gql/graphql';
import { AddImagesDocument, CollectionsDocument, CreateCollectionDocument, DeleteItemsDocument, ItemDigestsDocument } from '../../client/operations';
import { GraphQLRequestError, request, type Endpoint } from '../../client/request';
import { ClipqlError, ErrorCode } from '../errors';
import type { IndexTarget, Rejected, SourceFile } from './target';
import { STORE_LIMITS } from '../store/limits';

export interface ServerTargetOptions {
  /** The server's address: its root (…:4000) or its GraphQL endpoint (…/graphql). */
  readonly url: string;
  readonly collection: string;
  /** A served model's name (Query.models); the server's default when omitted. */
  readonly model?: string;
  /** Sent as `authorization: Bearer <key>` (a server with CLIP_API_KEYS_FILE). */
  readonly apiKey?: string;
  /** Send documents by their hash (a server with CLIP_TRUSTED_DOCUMENTS). */
  readonly documentIds?: boolean;
  /** Images per addImages request (default 32; lowered to the server's limit when it says so). */
  readonly chunk?: number;
  /** Requests in flight (default 2). */
  readonly writers?: number;
  /** Files read at once (default 4). */
  readonly concurrency?: number;
  /** HNSW parameters of a collection this run creates. */
  readonly hnsw?: { readonly m?: number; readonly efConstruction?: number };
  /** Sends again after a transient refusal at most this often (default 6). */
  readonly retries?: number;
  readonly log?: (line: string) => void;
}

interface Upload {
  readonly id: string;
  readonly name: string;
  readonly bytes: Buffer;
  readonly metadata: { path: string; bytes: number };
}

const TRANSIENT = new Set<string>([ErrorCode.OVERLOADED, ErrorCode.RATE_LIMITED, ErrorCode.BACKEND_UNAVAILABLE, ErrorCode.TIMEOUT, ErrorCode.STORE_UNAVAILABLE]);
const PER_FILE = new Set<string>([ErrorCode.BAD_IMAGE, ErrorCode.UNSUPPORTED_FORMAT, ErrorCode.IMAGE_TOO_LARGE, ErrorCode.METADATA_TOO_LARGE, ErrorCode.BAD_USER_INPUT]);

type Verdict =
  | { kind: 'file'; at: number; code: string; message: string }
  | { kind: 'split'; limit?: number; code: string; message: string }
  | { kind: 'retry'; afterSeconds?: number; code: string; message: string }
  | { kind: 'fatal'; code: string; message: string };

function verdict(e: unknown, files: number): Verdict {
  if (!(e instanceof GraphQLRequestError)) {
    // fetch's "fetch failed" (refused, reset, DNS): the server is not there, perhaps restarting.
    if (e instanceof TypeError) return { kind: 'retry', code: ErrorCode.BACKEND_UNAVAILABLE, message: `cannot reach the server: ${(e.cause as Error | undefined)?.message ?? e.message}` };
    throw e;
  }
  const first = e.errors[0];
  const code = first.extensions?.code ?? (e.status === 503 ? ErrorCode.BACKEND_UNAVAILABLE : ErrorCode.INTERNAL_SERVER_ERROR);
  const message = first.message;
  if (TRANSIENT.has(code) || (e.status === 503 && !first.extensions?.code)) {
    const after = Number(first.extensions?.retryAfter);
    return { kind: 'retry', afterSeconds: Number.isFinite(after) && after > 0 ? after : undefined, code, message };
  }
  if (code === ErrorCode.TOO_MANY_INPUTS || e.status === 413) {
    const limit = Number(first.extensions?.limit);
    return { kind: 'split', limit: code === ErrorCode.TOO_MANY_INPUTS && Number.isInteger(limit) && limit > 0 && limit < files ? limit : undefined, code, message };
  }
  const at = /^(?:images|ids|metadata)\[(\d+)\]/.exec(String(first.extensions?.argument ?? ''));
  if (at && PER_FILE.has(code) && Number(at[1]) < files) return { kind: 'file', at: Number(at[1]), code, message };
  return { kind: 'fatal', code, message };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class ServerTarget implements IndexTarget<Upload> {
  chunk: number;
  readonly writers: number;
  readonly concurrency: number;
  private readonly endpoint: Endpoint;

  private constructor(private readonly o: ServerTargetOptions) {
    const url = /\/graphql\/?$/.test(o.url) ? o.url : `${o.url.replace(/\/+$/, '')}/graphql`;
    this.endpoint = { url, documents: o.documentIds ? 'id' : 'query', headers: o.apiKey ? { authorization: `Bearer ${o.apiKey}` } : {} };
    this.chunk = Math.max(1, o.chunk ?? 32);
    this.writers = Math.max(1, o.writers ?? 2);
    this.concurrency = Math.max(1, o.concurrency ?? 4);
  }

  /** The target, with its collection created (bound to `model`) when the server has none of that name. */
  static async open(o: ServerTargetOptions): Promise<ServerTarget> {
    const t = new ServerTarget(o);
    const { collections } = await t.ask(CollectionsDocument, {});
    if (!collections.some((c) => c.name === o.collection)) {
      const { createCollection: c } = await t.ask(CreateCollectionDocument, { name: o.collection, model: o.model, m: o.hnsw?.m, efConstruction: o.hnsw?.efConstruction });
      o.log?.(`created collection ${c.name} on ${t.endpoint.url} (model ${c.model}, D = ${c.dimension}, m ${c.m}, ef_construction ${c.efConstruction})`);
    }
    return t;
  }

  async digests(): Promise<ReadonlyMap<string, string>> {
    const out = new Map<string, string>();
    let after: string | null | undefined = null;
    for (;;) {
      const { itemDigests: page }: ItemDigestsQuery = await this.ask(ItemDigestsDocument, { collection: this.o.collection, after, first: STORE_LIMITS.maxDigestPage });
      for (const d of page.items) out.set(d.id, d.sha256);
      if (!page.hasNextPage) return out;
      after = page.endCursor;
    }
  }

  /** The server keeps its collection's index as rows arrive: nothing to defer. */
  async begin(): Promise<void> {}

  async prepare(f: SourceFile): Promise<Upload> {
    return { id: f.entry.id, name: path.basename(f.entry.path), bytes: f.bytes, metadata: { path: f.entry.id, bytes: f.bytes.length } };
  }

  async write(chunk: readonly Upload[]): Promise<readonly Rejected[]> {
    const rejected: Rejected[] = [];
    await this.send(chunk.map((u, index) => ({ u, index })), rejected);
    return rejected;
  }

  async delete(ids: readonly string[]): Promise<number> {
    let n = 0;
    for (let i = 0; i < ids.length; i += STORE_LIMITS.maxDeleteIds) {
      n += (await this.ask(DeleteItemsDocument, { collection: this.o.collection, ids: ids.slice(i, i + STORE_LIMITS.maxDeleteIds) })).deleteItems.deleted.length;
    }
    return n;
  }

  async finish(): Promise<number> {
    return 0;
  }

  private async send(items: Array<{ u: Upload; index: number }>, rejected: Rejected[]): Promise<void> {
    while (items.length > 0) {
      try {
        await this.call(AddImagesDocument, {
          collection: this.o.collection,
          images: items.map(({ u }) => ({ file: new File([new Uint8Array(u.bytes)], u.name) })),
          ids: items.map(({ u }) => u.id),
          metadata: items.map(({ u }) => u.metadata),
          model: this.o.model,
        });
        return;
      } catch (e) {
        const v = verdict(e, items.length);
        if (v.kind === 'file') {
          rejected.push({ index: items[v.at].index, code: v.code, message: v.message });
          items = items.filter((_, i) => i !== v.at);
        } else if (v.kind === 'split' && items.length === 1) {
          rejected.push({ index: items[0].index, code: v.code, message: v.message });
          return;
        } else if (v.kind === 'split') {
          const size = v.limit ?? Math.ceil(items.length / 2);
          if (v.limit) this.chunk = Math.min(this.chunk, v.limit);
          for (let i = 0; i < items.length; i += size) await this.send(items.slice(i, i + size), rejected);
          return;
        } else throw this.failed(v);
      }
    }
  }

  /**
   * One request; a transient refusal is sent again (after retry-after or the backoff) at most
   * `retries` times. Any other refusal is thrown as it came, for send() to sort; the other calls
   * go through ask().
   */
  private async call<R, V>(doc: TypedDocumentString<R, V>, variables: V): Promise<R> {
    const send = request as (e: Endpoint, d: TypedDocumentString<R, V>, v: V) => Promise<R>;
    for (let attempt = 0; ; attempt++) {
      try {
        return await send(this.endpoint, doc, variables);
      } catch (e) {
        const v = verdict(e, 0);
        if (v.kind !== 'retry' || attempt >= (this.o.retries ?? 6)) throw e;
        await sleep(1000 * (v.afterSeconds ?? Math.min(8, 2 ** attempt)));
      }
    }
  }

  private async ask<R, V>(doc: TypedDocumentString<R, V>, variables: V): Promise<R> {
    try {
      return await this.call(doc, variables);
    } catch (e) {
      throw this.failed(verdict(e, 0));
    }
  }

  /** The run's failure, with the server's code (which may be one of Apollo's, e.g. GRAPHQL_VALIDATION_FAILED from an older server). */
  private failed(v: Verdict): ClipqlError {
    return new ClipqlError(v.code as ErrorCode, `the server at ${this.endpoint.url}: ${v.message}`);
  }
}
