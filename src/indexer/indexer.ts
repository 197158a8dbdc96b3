/**
 * Indexing a folder into a collection (`clipql index`): the files walk.ts lists are compared with
 * what the collection holds (id -> sha256), and only new or changed files are encoded:
 *
 *   - a file whose id is stored with the same sha256 is skipped (its bytes are read and hashed,
 *     nothing else); a changed file is encoded again and replaces its item; with `prune`, ids the
 *     collection holds and the folder no longer has are deleted;
 *   - encoding goes through the pipeline (the batcher merges the `concurrency` images in flight
 *     into full batches), each file with its probe (size, format) and thumbnail;
 *   - items are written in chunks, one transaction each (store.upsert): an interruption loses at
 *     most the chunk being encoded, never half of one. A large first load into an empty
 *     collection builds the HNSW index once after the rows (store.deferIndex / ensureIndex); the
 *     collection is searchable (exactly) meanwhile;
 *   - a file that cannot be read or decoded is reported by name with its error code and
 *     counted; it never stops the run.
 *
 * `signal` stops the run cleanly: no new file is started, the images already being encoded are
 * finished and written, the index is left to the next run (which builds it), and the result says
 * `interrupted`.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { ClipqlError, ErrorCode, isClipqlError } from '../errors';
import { makeThumbnail } from '../heatmap/thumbnail';
import type { ClipPipeline } from '../pipeline';
import { STORE_LIMITS } from '../store/limits';
import type { CollectionStore, ModelRef, NewItem } from '../store/store';
import { listImages, type FileEntry } from './walk';

export interface IndexOptions {
  readonly roots: readonly string[];
  readonly collection: string;
  readonly pipeline: ClipPipeline;
  readonly store: CollectionStore;
  /** The collection's model (its name and D): the pipeline's bundle. */
  readonly model: ModelRef;
  /** Images being encoded at once (default 16). */
  readonly concurrency?: number;
  /** Items per transaction (default 64). */
  readonly chunk?: number;
  readonly prune?: boolean;
  /** Largest file read, bytes (CLIP_MAX_IMAGE_BYTES). */
  readonly maxBytes: number;
  readonly maxPixels: number;
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
}

export async function indexFolder(o: IndexOptions): Promise<IndexResult> {
  const started = performance.now();
  const files = await listImages(o.roots);
  const known = await o.store.digests(o.collection);
  const counts = { stored: 0, skipped: 0, bad: 0, replaced: 0 };
  const seconds = () => (performance.now() - started) / 1000;
  const progress = () => o.onProgress?.({ total: files.length, ...counts, seconds: seconds() });
  await o.store.deferIndex(o.collection, o.model, files.length - known.size);

  let pending: Array<{ item: NewItem; replaces: boolean }> = [];
  let writing = Promise.resolve();
  const flush = () => {
    const batch = pending;
    pending = [];
    if (batch.length === 0) return writing;
    writing = writing.then(async () => {
      await o.store.upsert(o.collection, o.model, batch.map((b) => b.item));
      counts.stored += batch.length;
      counts.replaced += batch.filter((b) => b.replaces).length;
      progress();
    });
    return writing;
  };

  let next = 0;
  const worker = async () => {
    while (next < files.length && !o.signal?.aborted) {
      const f = files[next++];
      try {
        const item = await encodeFile(f, o, known);
        if (item === undefined) {
          counts.skipped++;
          if (counts.skipped % 256 === 0) progress();
          continue;
        }
        pending.push({ item, replaces: known.has(f.id) });
        if (pending.length >= (o.chunk ?? 64)) await flush();
      } catch (e) {
        if (!isClipqlError(e) && !(e as NodeJS.ErrnoException).code) throw e; // a bug, not a bad file
        counts.bad++;
        o.onBad?.(f, isClipqlError(e) ? e.code : String((e as NodeJS.ErrnoException).code), (e as Error).message);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, o.concurrency ?? 16) }, worker));
  await flush();
  const interrupted = o.signal?.aborted === true;
  let pruned = 0;
  if (o.prune && !interrupted) {
    const present = new Set(files.map((f) => f.id));
    const gone = [...known.keys()].filter((id) => !present.has(id));
    for (let i = 0; i < gone.length; i += STORE_LIMITS.maxDeleteIds) pruned += (await o.store.delete(o.collection, gone.slice(i, i + STORE_LIMITS.maxDeleteIds))).length;
  }
  const indexSeconds = interrupted ? 0 : await o.store.ensureIndex(o.collection);
  progress();
  return { total: files.length, ...counts, pruned, interrupted, indexSeconds, seconds: seconds() };
}

/** The item for a file, or undefined when the collection already holds these bytes under its id. */
async function encodeFile(f: FileEntry, o: IndexOptions, known: ReadonlyMap<string, string>): Promise<NewItem | undefined> {
  const stat = await fs.stat(f.path);
  if (stat.size > o.maxBytes) throw new ClipqlError(ErrorCode.IMAGE_TOO_LARGE, `${stat.size} bytes (limit ${o.maxBytes}, CLIP_MAX_IMAGE_BYTES)`);
  const bytes = await fs.readFile(f.path);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (known.get(f.id) === sha256) return undefined;
  const probe = await o.pipeline.probeImage(bytes); // BAD_IMAGE, IMAGE_TOO_LARGE... before any encoding
  // A thumbnail is a convenience: one sharp cannot make does not cost the item.
  const [embedding, thumb] = await Promise.all([o.pipeline.embedImage(bytes), makeThumbnail(bytes, { size: 96, maxPixels: o.maxPixels }).catch(() => undefined)]);
  return {
    id: f.id,
    embedding,
    metadata: JSON.stringify({ path: f.id, bytes: stat.size }),
    sha256,
    width: probe.width,
    height: probe.height,
    format: probe.format,
    thumbnail: thumb && thumb.data.length <= STORE_LIMITS.maxThumbnailBytes ? { data: thumb.data, mime: thumb.mime } : null,
  };
}
