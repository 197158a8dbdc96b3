/**
 * The one module that configures and calls sharp (libvips) for preprocessing. Every setting that
 * matters for safety or for matching PIL is here:
 *
 * - concurrency: libvips threads per image. sharp's default is one per core, which competes with
 *   inference; clipql uses 1 (images are still decoded in parallel on libuv's thread pool).
 * - cache: off. Requests rarely repeat an operation, and the cache holds decoded pixels.
 * - failOn 'error': truncated or corrupt pixel data is an error ('truncated' would let truncated
 *   TIFFs through; 'warning' also rejects valid files with harmless warnings).
 * - limitInputPixels: the decompression-bomb guard, from the caller's limits (the header is also
 *   checked against it before any decoding, in decode.ts).
 * - ignoreIcc: PIL does not colour-manage, so neither do we (sharp otherwise converts to sRGB).
 * - no autoOrient by default: PIL.Image.open ignores EXIF orientation. Collections and the indexer
 *   ask for it (DecodeOptions.orient in decode.ts): libvips then turns the image upright first.
 * - pages 1, page 0: the first frame of animated or multi-page files, as PIL opens them.
 *
 * sharp's settings are process-wide (libvips has one thread pool and one cache), so they are set
 * when this module loads and changed only through `configureSharp`.
 */
import sharp from 'sharp';
import { countWork } from './work-counts';

export interface SharpSettings {
  /** libvips worker threads per image (sharp.concurrency); 0 means one per core. Default 1. */
  readonly concurrency?: number;
  /** Operation cache size in MB (sharp.cache); 0 turns it off. Default 0. */
  readonly cacheMemoryMB?: number;
}

export const DEFAULT_SHARP_SETTINGS: Required<SharpSettings> = { concurrency: 1, cacheMemoryMB: 0 };

/** Applies process-wide sharp settings (absent keys keep their current value). */
export function configureSharp(settings: SharpSettings): void {
  if (settings.concurrency !== undefined) {
    if (!Number.isInteger(settings.concurrency) || settings.concurrency < 0) throw new RangeError(`sharp concurrency must be an integer >= 0, got ${settings.concurrency}`);
    sharp.concurrency(settings.concurrency);
  }
  if (settings.cacheMemoryMB !== undefined) {
    if (!Number.isInteger(settings.cacheMemoryMB) || settings.cacheMemoryMB < 0) throw new RangeError(`sharp cache size must be an integer >= 0, got ${settings.cacheMemoryMB}`);
    sharp.cache(settings.cacheMemoryMB === 0 ? false : { memory: settings.cacheMemoryMB, files: 0, items: 100 });
  }
}

configureSharp(DEFAULT_SHARP_SETTINGS);

/** libvips' current thread count per image (for tests and diagnostics). */
export function sharpConcurrency(): number {
  return sharp.concurrency();
}

function open(bytes: Uint8Array, maxPixels: number | false, orient = false): sharp.Sharp {
  countWork('decodes');
  return sharp(bytes, {
    failOn: 'error',
    limitInputPixels: maxPixels,
    ignoreIcc: true,
    autoOrient: orient,
    pages: 1,
    page: 0,
    sequentialRead: true,
  });
}

/**
 * Header facts (format, declared size, colour space, depth...): no pixel is decoded, so no pixel
 * limit here; the caller compares the declared size with its limit and says so.
 */
export function readMetadata(bytes: Uint8Array): Promise<sharp.Metadata> {
  return sharp(bytes, { failOn: 'error', limitInputPixels: false, ignoreIcc: true, autoOrient: false, pages: 1, page: 0, sequentialRead: true }).metadata();
}

/**
 * How to ask libvips for the pixels as stored. `colourspace` keeps libvips from converting:
 * without it sharp turns grey into three equal channels (harmless) and CMYK into sRGB through an
 * ICC transform (not what PIL does); 16-bit images are read at 16 bits and reduced by the caller.
 */
export interface RawRequest {
  readonly colourspace?: 'b-w' | 'cmyk' | 'grey16' | 'rgb16';
  readonly depth: 'uchar' | 'ushort';
}

export interface RawPixels {
  readonly width: number;
  readonly height: number;
  readonly channels: number;
  /** uchar: one byte per sample; ushort: native-endian 16-bit samples. */
  readonly data: Buffer;
}

/** How decodeRaw may depart from the stored pixels (both off: PIL's Image.open). */
export interface RawOptions {
  /** Apply EXIF orientation first (libvips autorotate): the pixels come out upright. */
  readonly orient?: boolean;
  /**
   * Decode at a reduced size (shrink-on-load): JPEG's DCT scaling and WebP's scaled decode to at
   * least this size, then libvips' lanczos3 reduction to exactly it (the whole image, stretched
   * to it). Sizes are after orientation.
   */
  readonly reduceTo?: { readonly width: number; readonly height: number };
}

export async function decodeRaw(bytes: Uint8Array, request: RawRequest, maxPixels: number, options: RawOptions = {}): Promise<RawPixels> {
  let s = open(bytes, maxPixels, options.orient === true);
  if (request.colourspace) s = s.pipelineColourspace(request.colourspace).toColourspace(request.colourspace);
  if (options.reduceTo) s = s.resize(options.reduceTo.width, options.reduceTo.height, { fit: 'fill', kernel: 'lanczos3', fastShrinkOnLoad: true });
  const { data, info } = await s.raw({ depth: request.depth }).toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, channels: info.channels, data };
}

/**
 * The 'fast' preprocessing path: libvips decodes (with JPEG/WebP shrink-on-load), resizes with its
 * cubic kernel and drops alpha in one pipeline; the caller crops. NOT PIL-identical: sharp reduces
 * by a box filter first, and palette, CMYK and 16-bit images follow libvips' rules, not PIL's.
 * Returns 3-channel RGB.
 */
export async function fastResize(bytes: Uint8Array, size: { readonly width: number; readonly height: number } | undefined, maxPixels: number): Promise<RawPixels> {
  let s = open(bytes, maxPixels);
  // fastShrinkOnLoad false: libjpeg's DCT scaling only down to twice the target (measured
  // here: 2-3x closer to PIL on large JPEGs, still 5-10x faster than the exact path)
  if (size) s = s.resize(size.width, size.height, { fit: 'fill', kernel: 'cubic', fastShrinkOnLoad: false });
  s = s.removeAlpha().toColourspace('srgb');
  const { data, info } = await s.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, channels: info.channels, data };
}

/** Pixels already decoded (HWC, 8 bits) reduced by libvips' lanczos3 to exactly `size` (HEIC's shrink). */
export async function reduceRaster(data: Uint8Array, width: number, height: number, channels: 1 | 2 | 3 | 4, size: { readonly width: number; readonly height: number }): Promise<RawPixels> {
  const s = sharp(data, { raw: { width, height, channels } }).resize(size.width, size.height, { fit: 'fill', kernel: 'lanczos3' });
  const out = await s.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  return { width: out.info.width, height: out.info.height, channels: out.info.channels, data: out.data };
}

/**
 * A small preview of decoded pixels (HWC, 8 bits, 1-4 channels; 2 and 4 have alpha): its longest
 * side at most `size`, JPEG (quality 82), or PNG when there is alpha. No second decode of the file.
 */
export async function encodePreview(data: Uint8Array, width: number, height: number, channels: 1 | 2 | 3 | 4, size: number): Promise<{ data: Uint8Array; mime: 'image/jpeg' | 'image/png' }> {
  const s = sharp(data, { raw: { width, height, channels } }).resize(size, size, { fit: 'inside', withoutEnlargement: true });
  if (channels === 2 || channels === 4) return { data: await s.png({ compressionLevel: 9 }).toBuffer(), mime: 'image/png' };
  return { data: await s.jpeg({ quality: 82 }).toBuffer(), mime: 'image/jpeg' };
}
