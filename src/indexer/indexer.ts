/**
 * Indexing a folder into a collection (`clipql index`): the files walk.ts lists are compared with
 * what the collection holds (id -> sha256), and only new or changed files go to the target
 * (target.ts: this process's store, or a clipql server):
 *
 *   - a file whose id is stored with the same sha256 is skipped (its bytes are read and hashed,
 *     nothing else); a changed file is sent again and replaces its item; with `prune`, ids the
 *     collection holds and the folder no longer has are deleted;
 *   - `target.concurrency` files are read and prepared at once; prepared files are written in
 *     chunks of `target.chunk`, `target.writers` chunks in flight: an interruption loses at most
 *     the files being prepared, never half of a chunk;
 *   - a file that cannot be read, decoded or stored is reported by name with its error code and
 *     counted; it never stops the run.
 *
 * `signal` stops the run cleanly: no new file is started, the files already being prepared are
 * finished and written, target.finish() is left to the next run, and the result says
 * `interrupted`.
 */
import { promises as fs } from 'node:fs';
import { ClipqlError, ErrorCode, isClipqlError } from '../errors';
import { hashImage } from '../preprocess/image/work-counts';
import type { IndexStages, IndexTarget } from './target';
import { listImages, type FileEntry } from './walk';

export interface IndexOptions<P = unknown> {
  readonly roots: readonly string[];
  readonly target: IndexTarget<P>;
  readonly prune?: boolean;
  /** Largest file read, bytes (CLIP_MAX_IMAGE_BYTES). */
  readonly maxBytes: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: IndexProgress) => void;
  /** A file that could not be indexed (it is counted in `bad`). */
  readonly onBad?: (file: FileEntry, code: string, message: string) => void;
}

export interface IndexProgress {
  /** Files the run covers. */
  readonly total: number;
  /** Encoded and stored this run. */
  readonly stored: number;
  /** Already stored with the same bytes. */
  readonly skipped: number;
  readonly bad: number;
  readonly seconds: number;
}

export interface IndexResult extends IndexProgress {
  /** Of `stored`: ids that were there with other bytes. */
  readonly replaced: number;
  /** Ids deleted by `prune`. */
  readonly pruned: number;
  readonly interrupted: boolean;
  /** Seconds spent building the HNSW index after the rows (0 when it was there). */
  readonly indexSeconds: number;
  /** Where the time went (target.ts IndexStages). */
  readonly stages: IndexStages;
}

/** A file's error code, or undefined when the error is a bug rather than a bad file. */
const badFileCode = (e: unknown): string | undefined => (isClipqlError(e) ? e.code : (e as NodeJS.ErrnoException).code ? String((e as NodeJS.ErrnoException).code) : undefined);

export async function indexFolder<P>(o: IndexOptions<P>): Promise<IndexResult> {
  const started = performance.now();
  const t = o.target;
  const files = await listImages(o.roots);
  const known = await t.digests();
  const counts = { stored: 0, skipped: 0, bad: 0, replaced: 0 };
  const spent = { read: 0, store: 0 }; // ms
  const seconds = () => (performance.now() - started) / 1000;
  const progress = () => o.onProgress?.({ total: files.length, ...counts, seconds: seconds() });
  const bad = (f: FileEntry, code: string, message: string) => {
    counts.bad++;
    o.onBad?.(f, code, message);
  };
  await t.begin(files.length - known.size);

  // Chunks being written; the first failure of one fails the run (after the others settle).
  let pending: Array<{ file: FileEntry; prepared: P }> = [];
  const writing = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  const write = async (batch: typeof pending) => {
    const w0 = performance.now();
    const rejected = await t.write(batch.map((b) => b.prepared));
    spent.store += performance.now() - w0;
    const out = new Set(rejected.map((r) => r.index));
    for (const r of rejected) bad(batch[r.index].file, r.code, r.message);
    const ok = batch.filter((_, i) => !out.has(i));
    counts.stored += ok.length;
    counts.replaced += ok.filter((b) => known.has(b.file.id)).length;
    progress();
  };
  const flush = async () => {
    while (writing.size >= t.writers) await Promise.race(writing);
    if (failure) return; // the run has failed: nothing more is written
    const batch = pending;
    pending = [];
    if (batch.length === 0) return;
    const w: Promise<void> = write(batch)
      .catch((error: unknown) => void (failure ??= { error }))
      .finally(() => writing.delete(w));
    writing.add(w);
  };

  let next = 0;
  const reader = async () => {
    while (next < files.length && !o.signal?.aborted && !failure) {
      const f = files[next++];
      try {
        const r0 = performance.now();
        const stat = await fs.stat(f.path);
        if (stat.size > o.maxBytes) throw new ClipqlError(ErrorCode.IMAGE_TOO_LARGE, `${stat.size} bytes (limit ${o.maxBytes}, CLIP_MAX_IMAGE_BYTES)`);
        const bytes = await fs.readFile(f.path);
        // the file's one hash: it decides the skip, and the target is given it (never hashes again)
        const sha256 = hashImage(bytes);
        spent.read += performance.now() - r0;
        if (known.get(f.id) === sha256) {
          counts.skipped++;
          if (counts.skipped % 256 === 0) progress();
          continue;
        }
        // Prepared first, then pushed: `pending` is read after the await (flush swaps the array).
        const prepared = await t.prepare({ entry: f, bytes, sha256 });
        pending.push({ file: f, prepared });
      } catch (e) {
        const code = badFileCode(e);
        if (code === undefined) throw e; // a bug, not a bad file
        bad(f, code, (e as Error).message);
        continue;
      }
      if (pending.length >= t.chunk) await flush();
    }
  };
  await Promise.all(Array.from({ length: t.concurrency }, reader));
  await flush();
  await Promise.all(writing);
  if (failure) throw failure.error;
  const interrupted = o.signal?.aborted === true;
  let pruned = 0;
  if (o.prune && !interrupted) {
    const present = new Set(files.map((f) => f.id));
    pruned = await t.delete([...known.keys()].filter((id) => !present.has(id)));
  }
  const indexSeconds = interrupted ? 0 : await t.finish();
  progress();
  const stages: IndexStages = { read: spent.read / 1000, ...t.stages?.(), store: spent.store / 1000 };
  return { total: files.length, ...counts, pruned, interrupted, indexSeconds, seconds: seconds(), stages };
}
