/**
 * The in-process target: files encoded by this process's pipeline (the batcher merges the
 * `concurrency` images being prepared into full batches), each decoded once on a preprocessing
 * thread for its facts, crop and thumbnail (pipeline.prepareItem: upright, the collections'
 * mode), and written in chunks, one transaction each (store.upsert). A large first load
 * into an empty collection builds the HNSW index once after the rows (store.deferIndex /
 * ensureIndex); the collection is searchable (exactly) meanwhile.
 */
import type { ClipPipeline } from '../pipeline';
import { STORE_LIMITS } from '../store/limits';
import { storedItem } from '../store/new-item';
import type { CollectionStore, ModelRef, NewItem } from '../store/store';
import type { IndexTarget, Rejected, SourceFile } from './target';

export interface LocalTargetOptions {
  readonly collection: string;
  readonly pipeline: ClipPipeline;
  readonly store: CollectionStore;
  /** The collection's model (its name and D): the pipeline's bundle. */
  readonly model: ModelRef;
  /** Images being encoded at once (default 16). */
  readonly concurrency?: number;
  /** Items per transaction (default 64). */
  readonly chunk?: number;
}

export function localTarget(o: LocalTargetOptions): IndexTarget<NewItem> {
  // stage times (ms): preprocessing threads' time per item, and the model's per image batch
  const spent = { decode: 0, encode: 0 };
  o.pipeline.onBatch((b) => {
    if (b.tower === 'image') spent.encode += b.durationMs;
  });
  return {
    chunk: o.chunk ?? 64,
    writers: 1,
    concurrency: Math.max(1, o.concurrency ?? 16),
    digests: () => o.store.digests(o.collection),
    async begin(adding) {
      await o.store.deferIndex(o.collection, o.model, adding);
    },
    async prepare(f: SourceFile): Promise<NewItem> {
      const item = await o.pipeline.prepareItem(f.bytes, f.sha256); // BAD_IMAGE, IMAGE_TOO_LARGE... before any encoding
      spent.decode += item.ms;
      const embedding = await o.pipeline.embedItem(item);
      return storedItem(f.entry.id, item, embedding, JSON.stringify({ path: f.entry.id, bytes: f.bytes.length }));
    },
    stages: () => ({ decode: spent.decode / 1000, encode: spent.encode / 1000 }),
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
