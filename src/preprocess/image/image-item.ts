/**
 * One image item, one pass (collections and the indexer): the bytes are hashed once, their header
 * checked once and their pixels decoded once, on a preprocessing thread, and everything a stored
 * item needs comes out of that one decode: the content hash, the header facts, the model's crop
 * and the thumbnail.
 *
 * Two departures from the API's PIL-identical path, both chosen by the caller:
 * - `orient`: EXIF orientation applied before the crop (a portrait photo is embedded and shown
 *   upright), as every photo library does; PIL's Image.open does not.
 * - mode 'shrink': an image at least twice the resized size on both sides is decoded straight to
 *   twice that size (JPEG's DCT scaling and WebP's scaled decode, then libvips' lanczos3), and
 *   the exact PIL bicubic resize and centre crop run from there: Pillow's `reducing_gap = 2`
 *   idea. Only for 8-bit L, LA, RGB and RGBA images that are not GIFs (palette, CMYK and 16-bit
 *   images keep the exact path: libvips' rules for them are not PIL's). The embedding's cosine to
 *   the exact path is measured in BENCHMARKS.md ("Phone photos") and checked by the tests.
 *   The reduced size is exactly 2 × the resized one, so the crop's geometry is unchanged.
 */
import type { ImageTransformConfig } from './config';
import { decodeImage, type DecodeLimits, type ImageInfo } from './decode';
import { reduceRaster } from './sharp';
import { makeThumbnail, thumbnailOfDecoded, type Thumbnail } from './thumbnail';
import { cropGeometry, resizeAndCrop } from './transform';
import { hashImage } from './work-counts';

/** 'exact': PIL-identical decode and resize; 'shrink': shrink-on-load for large images (above). */
export type ItemMode = 'exact' | 'shrink';

export interface ImageItemOptions {
  readonly mode: ItemMode;
  /** Apply EXIF orientation. */
  readonly orient: boolean;
  /** Make a thumbnail of at most this side (pixels); none when absent. */
  readonly thumbnail?: number;
  /** Thumbnails larger than this many bytes are dropped (the item is kept without one). */
  readonly thumbnailMaxBytes?: number;
  /** The bytes' sha256 when the caller has it already (the indexer hashes to skip unchanged files). */
  readonly sha256?: string;
  readonly limits?: Partial<DecodeLimits>;
}

export interface ImageItem {
  readonly sha256: string;
  /** The image as shown: after orientation when it was applied, before any reduction. */
  readonly width: number;
  readonly height: number;
  readonly format: string;
  /** PIL's mode of the file. */
  readonly mode: string;
  /** How it was decoded (ImageItemOptions.mode): part of its embedding's cache key. */
  readonly decodedAs: ItemMode;
  /** RGB HWC uint8, cropHeight × cropWidth × 3 (ImageBatch's layout). */
  readonly pixels: Uint8Array;
  /** null: none asked, or it could not be made within its limit (never fails the item). */
  readonly thumbnail: Thumbnail | null;
  /** Time spent on this item on its thread, wall (ms): hashing, decoding, resizing, the thumbnail. */
  readonly ms: number;
}

/** Pillow's reducing_gap: images are reduced on load to no less than this times the resized size. */
const REDUCING_GAP = 2;
const SHRINK_MODES = new Set(['L', 'LA', 'RGB', 'RGBA']);

export async function prepareImageItem(bytes: Uint8Array, cfg: ImageTransformConfig, o: ImageItemOptions): Promise<ImageItem> {
  const t0 = performance.now();
  const sha256 = o.sha256 ?? hashImage(bytes);
  let shown = { width: 0, height: 0 };
  const reduceTo = (width: number, height: number, info: ImageInfo) => {
    shown = { width, height };
    return o.mode === 'shrink' ? reducedSize(width, height, info, cfg) : undefined;
  };
  let img = await decodeImage(bytes, o.limits, { orient: o.orient, reduceTo });
  if (img.format === 'heic') {
    // libheif has no scaled decode: the full pixels are reduced by libvips instead of in JS
    shown = { width: img.width, height: img.height };
    const to = o.mode === 'shrink' ? reducedSize(img.width, img.height, img, cfg) : undefined;
    if (to) img = { ...img, ...to, data: (await reduceRaster(img.data, img.width, img.height, img.channels, to)).data };
  }
  const pixels = resizeAndCrop(img, cfg, 'exact');
  let thumbnail: Thumbnail | null = null;
  if (o.thumbnail !== undefined) {
    // One policy for every caller: a thumbnail is a convenience, and one that cannot be made (or
    // is too large) leaves the item without it. CMYK is the one layout that needs the file again.
    const made = await (img.layout === 'CMYK' ? makeThumbnail(bytes, { size: o.thumbnail, maxPixels: o.limits?.maxPixels }) : thumbnailOfDecoded(img, o.thumbnail)).catch(() => undefined);
    if (made && made.data.length <= (o.thumbnailMaxBytes ?? Infinity)) thumbnail = made;
  }
  return { sha256, width: shown.width, height: shown.height, format: img.format, mode: img.mode, decodedAs: o.mode, pixels, thumbnail, ms: performance.now() - t0 };
}

/** The size to decode to in 'shrink' mode, or undefined for a full decode (see the file comment). */
function reducedSize(width: number, height: number, info: ImageInfo, cfg: ImageTransformConfig): { width: number; height: number } | undefined {
  if (!cfg.doResize || info.format === 'gif' || info.bitDepth !== 8 || !SHRINK_MODES.has(info.mode)) return undefined;
  const { size } = cropGeometry(width, height, cfg);
  const target = { width: REDUCING_GAP * size.width, height: REDUCING_GAP * size.height };
  return width > target.width && height > target.height ? target : undefined;
}
