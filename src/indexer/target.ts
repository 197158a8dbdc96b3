/**
 * Where `clipql index` puts a folder (the indexer's one extension point): the collection in this
 * process's store (local-target.ts: encoded here by the pipeline) or on a running clipql server
 * (server-target.ts: sent through GraphQL, encoded there). The indexer (indexer.ts) lists and
 * hashes the files, skips what the target already holds, and hands the rest over in chunks.
 *
 * Contract:
 *   - digests() is read once, before anything is written;
 *   - prepare() runs for up to `concurrency` files at once and throws a ClipqlError (or an fs
 *     error with a code) for a bad file, which the indexer reports and counts;
 *   - write() stores a chunk all or nothing per file: every file it does not return as rejected
 *     is stored when it resolves; a rejection is a bad file, not a failure of the run. A throw is
 *     a failure of the run (the store or the server is gone): chunks written before stay written;
 *   - finish() runs once after the last write of a run that was not interrupted.
 */
import type { FileEntry } from './walk';

/** A file read and hashed by the indexer. */
export interface SourceFile {
  readonly entry: FileEntry;
  readonly bytes: Buffer;
  /** SHA-256 of bytes, hex. */
  readonly sha256: string;
}

export interface Rejected {
  /** Index into the chunk given to write(). */
  readonly index: number;
  readonly code: string;
  readonly message: string;
}

export interface IndexTarget<P = unknown> {
  /** Files per write() (the indexer never gives more). */
  readonly chunk: number;
  /** write() calls in flight at once. */
  readonly writers: number;
  /** Files being prepared at once (the indexer's readers). */
  readonly concurrency: number;
  /** id -> sha256 of every item the collection holds now. */
  digests(): Promise<ReadonlyMap<string, string>>;
  /** Before the first write: at most `adding` items will be new (a large first load may defer its index). */
  begin(adding: number): Promise<void>;
  prepare(file: SourceFile): Promise<P>;
  write(chunk: readonly P[]): Promise<readonly Rejected[]>;
  /** Deletes ids (prune); returns how many were there. */
  delete(ids: readonly string[]): Promise<number>;
  /** Seconds spent building what begin() deferred (0 when nothing was). */
  finish(): Promise<number>;
  /**
   * Seconds this target has spent so far on the stages it runs (IndexStages), when it measures
   * them: a target that encodes elsewhere (a server) has none.
   */
  stages?(): Partial<Pick<IndexStages, 'decode' | 'encode'>>;
}

/**
 * Where an index run's time went, in seconds summed over files or batches: stages overlap (files
 * are read while others are decoded and a batch is encoded), so they do not add up to the run.
 * read: reading and hashing files (the indexer); decode: each item's time on its preprocessing
 * thread (decode, resize, crop, thumbnail; wall time, so items sharing a thread overlap);
 * encode: the model's time per image batch; store: writing chunks.
 */
export interface IndexStages {
  readonly read: number;
  readonly decode?: number;
  readonly encode?: number;
  readonly store: number;
}
