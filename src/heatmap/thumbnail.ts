/**
 * Thumbnails for the heatmap's column headers, made with sharp. The caller passes images it has
 * already validated (decodable, within the pixel limit); the limit is enforced here again anyway.
 * EXIF orientation is not applied: the thumbnail shows the pixels the model saw.
 */
import sharp from 'sharp';
import { DEFAULT_LIMITS } from '../input/limits';

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
  const img = sharp(bytes, { limitInputPixels: options.maxPixels ?? DEFAULT_LIMITS.maxPixels, failOn: 'error' }).resize(size, size, {
    fit: 'inside',
    withoutEnlargement: true,
  });
  const { hasAlpha } = await img.metadata();
  if (hasAlpha) return { data: await img.png({ compressionLevel: 9 }).toBuffer(), mime: 'image/png' };
  return { data: await img.jpeg({ quality: 82 }).toBuffer(), mime: 'image/jpeg' };
}
