/**
 * The in-process target: files encoded by this process's pipeline (the batcher merges the
 * `concurrency` images being prepared into full batches), each with its probe (size, format)
 * and thumbnail, and written in chunks, one transaction each (store.upsert). A large first load
 * into an empty collection builds the HNSW index once after the rows (store.deferIndex /
 * ensureIndex); the collection is searchable (exactly) meanwhile.
 */
import { makeThumbnail } from '../heatmap/thumbnail';
import type { ClipPipeline } from '../pipeline';
import { STORE_LIMITS } from '../store/limits';
import type { CollectionStore, ModelRef, NewItem } from '../store/store';
import type { IndexTarget, Rejected, SourceFile } from './target';

export interface LocalTargetOptions {
  readonly collection: string;
  readonly pipeline: ClipPipeline;
  readonly store: CollectionStore;
  /** The collection's model (its name and D): the pipeline's bundle. */
  readonly model: ModelRef;
  readonly maxPixels: number;
  /** Images being encoded at once (default 16). */
  readonly concurrency?: number;
  /** Items per transaction (default 64). */
  readonly chunk?: number;
}

export function localTarget(o: LocalTargetOptions): IndexTarget<NewItem> {
  return {
    chunk: o.chunk ?? 64,
    writers: 1,
    concurrency: Math.max(1, o.concurrency ?? 16),
    digests: () => o.store.digests(o.collection),
    async begin(adding) {
      await o.store.deferIndex(o.collection, o.model, adding);
    },
    async prepare(f: SourceFile): Promise<NewItem> {
      const probe = await o.pipeline.probeImage(f.bytes); // BAD_IMAGE, IMAGE_TOO_LARGE... before any encoding
      // A thumbnail is a convenience: one sharp cannot make does not cost the item.
      const [embedding, thumb] = await Promise.all([o.pipeline.embedImage(f.bytes), makeThumbnail(f.bytes, { size: 96, maxPixels: o.maxPixels }).catch(() => undefined)]);
      return {
        id: f.entry.id,
        embedding,
        metadata: JSON.stringify({ path: f.entry.id, bytes: f.bytes.length }),
        sha256: f.sha256,
        width: probe.width,
        height: probe.height,
        format: probe.format,
        thumbnail: thumb && thumb.data.length <= STORE_LIMITS.maxThumbnailBytes ? { data: thumb.data, mime: thumb.mime } : null,
      };
    },
    async write(chunk): Promise<readonly Rejected[]> {
      await o.store.upsert(o.collection, o.model, chunk);
      return [];
    },
    async delete(ids) {
      let n = 0;
      for (let i = 0; i < ids.length; i += STORE_LIMITS.maxDeleteIds) n += (await o.store.delete(o.collection, ids.slice(i, i + STORE_LIMITS.maxDeleteIds))).length;
      return n;
    },
    finish: () => o.store.ensureIndex(o.collection),
  };
}
