/**
 * Bytes → pixels, as PIL.Image.open would see them, with every check a public service needs.
 *
 * Order of checks (each cheap one before any expensive one):
 *   1. size in bytes (IMAGE_TOO_LARGE), empty input (BAD_IMAGE);
 *   2. magic bytes: unknown → BAD_IMAGE; SVG, PDF & co. → UNSUPPORTED_FORMAT, never parsed
 *      (an SVG can reference external files and URLs);
 *   3. the header's declared size against maxPixels (IMAGE_TOO_LARGE), before decoding;
 *   4. decoding by sharp with failOn 'error': truncated or corrupt data → BAD_IMAGE.
 * `inspectImage` stops after 3; `decodeImage` does all four.
 *
 * The pixels are what PIL holds after opening the file: no colour management, no EXIF rotation,
 * the first frame of animations, CMYK kept as CMYK. They come in the image's own layout (L, LA,
 * RGB, RGBA, CMYK) because PIL resizes in the image's own mode; `mode` says which PIL mode the
 * reference would have, which decides how transform.ts resamples (see modes.ts).
 */
import { ClipqlError, ErrorCode } from '../../errors';
import { FORMAT_NAMES, readGifHeader, sniffFormat, type AcceptedFormat, type GifHeader } from './headers';
import { CHANNELS, fixGifFrame, planDecode, toLayout, type Plan, type PixelLayout } from './modes';
import { openHeic } from './heic';
import { decodeRaw, readMetadata } from './sharp';
import { SETTINGS } from '../../config/settings';

export type { PixelLayout } from './modes';

export interface DecodeLimits {
  /** Encoded size in bytes. */
  readonly maxBytes: number;
  /** Width × height as declared by the header (checked before decoding). */
  readonly maxPixels: number;
}

/** The settings table's defaults (CLIP_MAX_IMAGE_BYTES, CLIP_MAX_PIXELS): the one copy of them. */
export const DEFAULT_DECODE_LIMITS: DecodeLimits = { maxBytes: SETTINGS.CLIP_MAX_IMAGE_BYTES.default, maxPixels: SETTINGS.CLIP_MAX_PIXELS.default };

/** What the header says, before decoding. */
export interface ImageInfo {
  readonly format: AcceptedFormat;
  /** The size PIL reports (for GIF: the logical screen, grown to hold the first frame). */
  readonly width: number;
  readonly height: number;
  /**
   * The mode PIL.Image.open gives this file: 'L', 'LA', 'RGB', 'RGBA', 'P', '1', 'CMYK', 'I'
   * (16-bit grey PNG), 'I;16' (16-bit grey TIFF)...
   */
  readonly mode: string;
  /** Bits per sample in the file. 16-bit samples are reduced to their high byte (see transform.ts). */
  readonly bitDepth: number;
  /** EXIF orientation when present: reported; applied only when asked (DecodeOptions.orient), as PIL never does. */
  readonly orientation?: number;
  /** Frames or pages in the file; only the first is decoded. */
  readonly pages: number;
}

export interface DecodedImage extends ImageInfo {
  readonly channels: 1 | 2 | 3 | 4;
  /** HWC, 8 bits per sample, `channels` samples per pixel in `layout` order. */
  readonly data: Uint8Array;
  /**
   * Palette images ('P') arrive expanded to RGB through their palette: PIL resizes them with
   * NEAREST, which is the same as resizing the indices and looking them up afterwards.
   */
  readonly layout: PixelLayout;
  /**
   * The pixel (in `layout`) that PIL's zero value stands for in this mode: what torchvision's
   * padding and Pillow's out-of-range NEAREST samples become. Palette entry 0 for 'P' images,
   * CMYK (0,0,0,0) (white once converted) for CMYK, black otherwise.
   */
  readonly zero: Uint8Array;
}

const ACCEPTED = 'JPEG, PNG, GIF, WebP, TIFF, AVIF or HEIC';
const NAMES: Record<string, string> = {
  svg: 'SVG', xml: 'XML', html: 'HTML', pdf: 'PDF', postscript: 'PostScript/EPS', bmp: 'BMP', ico: 'ICO/CUR', psd: 'Photoshop PSD',
  jxl: 'JPEG XL', jp2: 'JPEG 2000', pnm: 'PNM/PPM/PGM', exr: 'OpenEXR', hdr: 'Radiance HDR', qoi: 'QOI',
};
// sharp's names for the accepted formats
const SHARP_FORMAT: Record<Exclude<AcceptedFormat, 'heic'>, string> = { jpeg: 'jpeg', png: 'png', gif: 'gif', webp: 'webp', tiff: 'tiff', avif: 'heif' };
/** HEIC's facts: libheif's, not libvips' (heic.ts); PIL does not open HEIC, so there is no PIL mode to match. */
const HEIC_PLAN: Plan = { mode: 'RGB', layout: 'RGB', request: { depth: 'uchar' } };

/** Checks 1 to 3 done, and how to decode (inspectForDecode): handed to decodeImage, it is not done again. */
export interface Inspection {
  readonly info: ImageInfo;
  readonly plan: Plan;
  readonly gif?: GifHeader;
  readonly maxPixels: number;
}

/** Checks 1 to 3: format, byte and pixel limits, PIL's mode. Decodes no pixel. */
export async function inspectImage(bytes: Uint8Array, limits: Partial<DecodeLimits> = {}): Promise<ImageInfo> {
  return (await inspect(bytes, limits)).info;
}

/** inspectImage's checks, kept for decodeImage (`options.inspection`) of the same bytes under the same limits. */
export function inspectForDecode(bytes: Uint8Array, limits: Partial<DecodeLimits> = {}): Promise<Inspection> {
  return inspect(bytes, limits);
}

async function inspect(bytes: Uint8Array, limits: Partial<DecodeLimits>): Promise<Inspection> {
  // `?? default` rather than a spread: an explicit `undefined` must not remove a limit
  const maxBytes = limits.maxBytes ?? DEFAULT_DECODE_LIMITS.maxBytes;
  const maxPixels = limits.maxPixels ?? DEFAULT_DECODE_LIMITS.maxPixels;
  if (!(maxBytes > 0 && maxPixels > 0)) throw new RangeError(`decode limits must be positive, got maxBytes ${maxBytes}, maxPixels ${maxPixels}`);
  if (bytes.length === 0) throw new ClipqlError(ErrorCode.BAD_IMAGE, `the image is empty (0 bytes); send ${ACCEPTED} bytes`);
  if (bytes.length > maxBytes) {
    throw new ClipqlError(ErrorCode.IMAGE_TOO_LARGE, `the image is ${bytes.length} bytes; at most ${maxBytes} bytes are allowed`, { details: { bytes: bytes.length, maxBytes } });
  }
  const sniffed = sniffFormat(bytes);
  if (!sniffed) throw new ClipqlError(ErrorCode.BAD_IMAGE, `the bytes are not an image: their start matches none of ${ACCEPTED}`);
  if (!sniffed.accepted) {
    throw new ClipqlError(ErrorCode.UNSUPPORTED_FORMAT, `${NAMES[sniffed.format]} images are not accepted; send ${ACCEPTED}`, { details: { format: sniffed.format } });
  }
  const format = sniffed.format;
  if (format === 'heic') {
    const heic = await openHeic(bytes, maxPixels);
    heic.dispose();
    return { info: { format, width: heic.width, height: heic.height, mode: 'RGB', bitDepth: 8, pages: heic.pages }, plan: HEIC_PLAN, maxPixels };
  }

  const meta = await readMetadata(bytes).catch((e: unknown) => {
    throw decodeError(format, e, maxPixels);
  });
  if (meta.format !== SHARP_FORMAT[format]) {
    throw new ClipqlError(ErrorCode.BAD_IMAGE, `the bytes start like ${FORMAT_NAMES[format]} but do not decode as ${FORMAT_NAMES[format]} (found ${meta.format})`);
  }
  const gif = format === 'gif' ? readGifHeader(bytes) : undefined;
  if (format === 'gif' && !gif) throw new ClipqlError(ErrorCode.BAD_IMAGE, 'the GIF header is damaged: no image descriptor before the end of the data');
  const width = gif?.width ?? meta.width;
  const height = gif?.height ?? meta.height;
  if (!(width > 0 && height > 0)) throw new ClipqlError(ErrorCode.BAD_IMAGE, `the ${FORMAT_NAMES[format]} header declares a ${width}x${height} image`);
  if (width * height > maxPixels) {
    throw new ClipqlError(ErrorCode.IMAGE_TOO_LARGE, `the image declares ${width}x${height} = ${width * height} pixels; at most ${maxPixels} are allowed`, {
      details: { width, height, maxPixels },
    });
  }
  const plan = planDecode(format, bytes, meta, gif);
  const info: ImageInfo = {
    format,
    width,
    height,
    mode: plan.mode,
    bitDepth: plan.request.depth === 'ushort' ? 16 : (meta.bitsPerSample ?? 8),
    orientation: meta.orientation,
    pages: meta.pages ?? 1,
  };
  return { info, plan, gif, maxPixels };
}

/** Departures from PIL's Image.open that collections ask for (image-item.ts); none by default. */
export interface DecodeOptions {
  /** Apply EXIF orientation (JPEG, TIFF, WebP, AVIF; HEIC is always upright, heic.ts). */
  readonly orient?: boolean;
  /**
   * Called with the image's size (after orientation) once the header is checked; a size returned
   * is decoded to instead (shrink-on-load, sharp.ts RawOptions.reduceTo). Not for GIF.
   */
  readonly reduceTo?: (width: number, height: number, info: ImageInfo) => { width: number; height: number } | undefined;
  /** inspectForDecode's result for these bytes and limits: the header is not read again. */
  readonly inspection?: Inspection;
}

/**
 * All four checks, then the pixels in PIL's mode (see the file comment). With `options`, the
 * image's width and height are those of the pixels returned (turned, reduced); `orientation` is
 * then dropped when it was applied.
 */
export async function decodeImage(bytes: Uint8Array, limits: Partial<DecodeLimits> = {}, options: DecodeOptions = {}): Promise<DecodedImage> {
  const { info, plan, gif, maxPixels } = options.inspection ?? (await inspect(bytes, limits));
  const zero = plan.zero ?? new Uint8Array(CHANNELS[plan.layout]);
  if (info.format === 'heic') {
    const heic = await openHeic(bytes, maxPixels);
    try {
      return { ...info, channels: 3, data: await heic.decode(), layout: 'RGB', zero };
    } finally {
      heic.dispose();
    }
  }
  const orient = options.orient === true && (info.orientation ?? 1) > 1;
  const turned = orient && info.orientation! >= 5;
  const upright = { width: turned ? info.height : info.width, height: turned ? info.width : info.height };
  const reduceTo = gif ? undefined : options.reduceTo?.(upright.width, upright.height, info);
  const raw = await decodeRaw(bytes, plan.request, maxPixels, { orient, reduceTo }).catch((e: unknown) => {
    throw decodeError(info.format, e, maxPixels);
  });
  const want = reduceTo ?? upright;
  if (raw.width !== want.width || raw.height !== want.height) {
    throw new ClipqlError(ErrorCode.BAD_IMAGE, `the ${FORMAT_NAMES[info.format]} decoded to ${raw.width}x${raw.height} pixels, not the ${want.width}x${want.height} expected from its header`);
  }
  let data = toLayout(raw, plan.request.depth, plan.layout);
  if (gif) data = fixGifFrame(data, raw, gif, plan.layout);
  return { ...info, ...want, ...(orient && { orientation: undefined }), channels: CHANNELS[plan.layout], data, layout: plan.layout, zero };
}

/** Maps a sharp failure to the public error codes (exported for the fast path). */
export function decodeError(format: AcceptedFormat, e: unknown, maxPixels: number): ClipqlError {
  const message = (e instanceof Error ? e.message : String(e)).replace(/^Input buffer has corrupt header:\s*/, '');
  if (/exceeds pixel limit/i.test(message)) {
    return new ClipqlError(ErrorCode.IMAGE_TOO_LARGE, `the image has more than the ${maxPixels} pixels allowed`, { cause: e, details: { maxPixels } });
  }
  // a codec this build of libvips lacks (HEIF variants other than AVIF)
  if (/no decoding plugin|not supported by this build/i.test(message)) {
    return new ClipqlError(ErrorCode.UNSUPPORTED_FORMAT, `this ${FORMAT_NAMES[format]} variant cannot be decoded (${firstLine(message)}); send ${ACCEPTED}`, { cause: e });
  }
  return new ClipqlError(ErrorCode.BAD_IMAGE, `the ${FORMAT_NAMES[format]} data is corrupt or truncated (${firstLine(message)})`, { cause: e });
}

function firstLine(s: string): string {
  const l = s.split('\n')[0].trim();
  return l.length > 160 ? `${l.slice(0, 157)}...` : l;
}
