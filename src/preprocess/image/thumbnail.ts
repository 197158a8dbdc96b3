/**
 * Thumbnails, made where images are decoded:
 * - `makeThumbnail(bytes)`: from the file (a decode of its own), for the heatmap's column
 *   headers. The caller passes images it has already validated (decodable, within the pixel
 *   limit); the limit is enforced here again anyway. EXIF orientation is not applied: the
 *   thumbnail shows the pixels the model saw.
 * - `thumbnailOfDecoded(img)`: from pixels already decoded for the model's crop (image-item.ts:
 *   collections and the indexer), so a stored item costs one decode. Upright when the decode was.
 */
import sharp from 'sharp';
import { DEFAULT_LIMITS } from '../../input/limits';
import type { DecodedImage } from './decode';
import { encodePreview } from './sharp';
import { countWork } from './work-counts';

/** The longest side of thumbnails stored with collection items (their byte limit: store/limits.ts). */
export const STORED_THUMBNAIL_SIDE = 96;

export interface Thumbnail {
  readonly data: Uint8Array;
  /** image/jpeg, or image/png when the image has an alpha channel. */
  readonly mime: 'image/jpeg' | 'image/png';
}

export interface ThumbnailOptions {
  /** Longest side in pixels (default 96: sharp at 1.5× the figure's 64-unit thumbnail). */
  readonly size?: number;
  /** Decoded pixels allowed (default the service's CLIP_MAX_PIXELS default). */
  readonly maxPixels?: number;
}

export async function makeThumbnail(bytes: Uint8Array, options: ThumbnailOptions = {}): Promise<Thumbnail> {
  const size = options.size ?? 96;
  countWork('decodes');
  const img = sharp(bytes, { limitInputPixels: options.maxPixels ?? DEFAULT_LIMITS.maxPixels, failOn: 'error' }).resize(size, size, {
    fit: 'inside',
    withoutEnlargement: true,
  });
  const { hasAlpha } = await img.metadata();
  if (hasAlpha) return { data: await img.png({ compressionLevel: 9 }).toBuffer(), mime: 'image/png' };
  return { data: await img.jpeg({ quality: 82 }).toBuffer(), mime: 'image/jpeg' };
}

/**
 * The thumbnail of decoded pixels (no second decode). CMYK has no direct preview in libvips' raw
 * input: undefined, and the caller makes none (collections then store the item without one).
 */
export async function thumbnailOfDecoded(img: DecodedImage, size = 96): Promise<Thumbnail | undefined> {
  if (img.layout === 'CMYK') return undefined;
  return encodePreview(img.data, img.width, img.height, img.channels, size);
}
