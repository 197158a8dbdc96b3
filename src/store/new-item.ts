/**
 * The one builder of a stored image item, for every way images enter a collection (addImages,
 * `clipql index`): the item's facts and thumbnail come from its one decode
 * (preprocess/image/image-item.ts), the embedding from the Embedder.
 */
import type { ImageItem } from '../preprocess/image/image-item';
import type { NewItem } from './store';

export function storedItem(id: string, item: ImageItem, embedding: Float32Array, metadata: string | null): NewItem {
  return {
    id,
    embedding,
    metadata,
    sha256: item.sha256,
    width: item.width,
    height: item.height,
    format: item.format,
    thumbnail: item.thumbnail && { data: item.thumbnail.data, mime: item.thumbnail.mime },
  };
}
