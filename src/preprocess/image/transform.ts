/**
 * OpenAI CLIP's image transform, `_transform(n_px)` in clip/clip.py:
 *
 *   Resize(n_px, BICUBIC) → CenterCrop(n_px) → convert("RGB") → ToTensor() → Normalize(mean, std)
 *
 * run by torchvision 0.14 on a PIL 9.4 image straight from Image.open. 'exact' mode reproduces the
 * uint8 pixels of that pipeline bit for bit, and the float tensor with the same float32 operations:
 *
 * - Resize runs in the image's own mode: L and CMYK resample their own channels; RGBA and LA are
 *   premultiplied, resampled and unpremultiplied (Pillow's RGBa/La round trip); P and 1 are
 *   always resampled with NEAREST, whatever filter is asked for. An image already at the target
 *   size is not resampled at all (not even premultiplied).
 * - CenterCrop offsets use Python's round (half to even); a crop larger than the image pads with
 *   PIL's zero, which is palette entry 0 for P and white for CMYK once converted.
 * - convert("RGB"): L and LA replicate L, RGBA drops alpha (no compositing), CMYK uses Pillow's
 *   cmyk2rgb.
 *
 * Deliberate deviation, 16-bit greyscale: Pillow 9.4 opens a 16-bit grey PNG as mode "I" (values
 * 0..65535), resizes those, and convert("RGB") clips them to 0..255: nearly every pixel becomes
 * white, and the reference embeds a blank image (16-bit grey TIFFs, mode "I;16", make its bicubic
 * resize fail). clipql instead keeps the high byte of each sample, as PIL itself does for 16-bit
 * RGB(A) and LA PNGs, and treats the image as mode L: the result equals the reference applied to
 * the image reduced to 8 bits that way. test/preprocess shows both sides.
 *
 * 'fast' mode is NOT PIL-identical. preprocessImage then lets libvips decode (with JPEG
 * shrink-on-load), resize with its cubic kernel and drop alpha in one pipeline (see sharp.ts);
 * resizeAndCrop, which starts from decoded pixels, box-averages before filtering.
 */
import { ClipqlError, ErrorCode } from '../../errors';
import type { ImageTransformConfig } from './config';
import { decodeError, decodeImage, DEFAULT_DECODE_LIMITS, inspectImage, type DecodedImage, type DecodeLimits, type Inspection, type PixelLayout } from './decode';
import { nearestWindow, reduceBox, resampleWindow, Resampling, type RasterU8, type Window } from './resample';
import { fastResize } from './sharp';
import { toTensor } from './tensor';

export { toTensor };

export type PreprocessMode = 'exact' | 'fast';

/** torchvision 0.14's Resize(int) size: shorter side → n, longer side → int(n * long / short). */
export function resizedSize(width: number, height: number, shortestEdge: number): { width: number; height: number } {
  if (width <= height) return { width: shortestEdge, height: Math.trunc((shortestEdge * height) / width) };
  return { width: Math.trunc((shortestEdge * width) / height), height: shortestEdge };
}

/**
 * torchvision's center_crop offset along one axis, in the resized image's coordinates: Python's
 * int(round((size - crop) / 2.0)) (half to even), or minus the left/top padding when the crop is
 * larger than the image.
 */
export function cropOffset(size: number, crop: number): number {
  if (crop > size) return -((crop - size) >> 1);
  const d = size - crop;
  if ((d & 1) === 0) return d / 2;
  const q = (d - 1) / 2;
  return q % 2 === 0 ? q : q + 1;
}

/**
 * The most pixels a resized image may have. Only the crop is computed, but PIL would hold the
 * whole resized image (1 GB in RGBA at this size), and a thin strip (say 40000 × 1) would make it
 * astronomically long.
 */
export const MAX_RESIZED_PIXELS = 2 ** 28;

/** The resized image's size and where the crop lies in it (`win` is the part that is not padding). */
export function cropGeometry(width: number, height: number, cfg: ImageTransformConfig) {
  const size = !cfg.doResize ? { width, height } : cfg.resizeTo ?? resizedSize(width, height, cfg.shortestEdge);
  if (size.width * size.height > MAX_RESIZED_PIXELS) {
    throw new ClipqlError(
      ErrorCode.IMAGE_TOO_LARGE,
      `the ${width}x${height} image is too elongated: resizing it gives ${size.width}x${size.height} = ${size.width * size.height} pixels; at most ${MAX_RESIZED_PIXELS} are allowed`,
      { details: { width, height, resizedWidth: size.width, resizedHeight: size.height, maxResizedPixels: MAX_RESIZED_PIXELS } },
    );
  }
  if (!cfg.doCenterCrop && (size.width !== cfg.cropWidth || size.height !== cfg.cropHeight)) {
    throw new ClipqlError(
      ErrorCode.BAD_IMAGE,
      `the model's preprocessor does not crop (do_center_crop is false), so images must come out of the resize at exactly ${cfg.cropWidth}x${cfg.cropHeight}; this ${width}x${height} image gives ${size.width}x${size.height}`,
    );
  }
  const left = cropOffset(size.width, cfg.cropWidth);
  const top = cropOffset(size.height, cfg.cropHeight);
  const x0 = Math.max(left, 0);
  const y0 = Math.max(top, 0);
  const win: Window = { x0, y0, width: Math.min(left + cfg.cropWidth, size.width) - x0, height: Math.min(top + cfg.cropHeight, size.height) - y0 };
  return { size, left, top, win };
}

/**
 * Resize + CenterCrop + convert("RGB"): RGB HWC uint8, cropHeight × cropWidth × 3. 'exact' is
 * PIL-identical (see the file comment). 'fast' box-averages large images down to twice the target
 * size before the same filter: not identical, a few levels off at most on photos.
 */
export function resizeAndCrop(decoded: DecodedImage, cfg: ImageTransformConfig, mode: PreprocessMode = 'exact'): Uint8Array {
  const img = cfg.convertRgbFirst ? toRgbImage(decoded) : decoded;
  const { size, left, top, win } = cropGeometry(img.width, img.height, cfg);
  const C = img.channels;
  let px: Uint8Array; // the window, in the image's layout
  if (size.width === img.width && size.height === img.height) {
    px = copyWindow(img, win);
  } else if (img.mode === 'P' || img.mode === '1' || cfg.resample === Resampling.NEAREST) {
    px = nearestWindow(img, size.width, size.height, win, img.zero);
  } else {
    const premultiplied = (img.layout === 'RGBA' || img.layout === 'LA') && (img.mode === 'RGBA' || img.mode === 'LA');
    let src: RasterU8 = premultiplied ? { ...img, data: premultiply(img.data, C) } : img;
    let span: { width: number; height: number } | undefined;
    // 'fast': first average blocks down to within twice the target size (Pillow's
    // reducing_gap=2 idea), which makes large downscales several times cheaper
    const kx = mode === 'fast' ? Math.floor(img.width / size.width / 2) : 1;
    const ky = mode === 'fast' ? Math.floor(img.height / size.height / 2) : 1;
    if (kx > 1 || ky > 1) {
      src = reduceBox(src, Math.max(kx, 1), Math.max(ky, 1));
      span = { width: img.width / Math.max(kx, 1), height: img.height / Math.max(ky, 1) };
    }
    px = resampleWindow(src, size.width, size.height, cfg.resample, win, span);
    if (premultiplied) unpremultiply(px, C);
  }
  return placeRgb(px, win, img.layout, img.zero, win.x0 - left, win.y0 - top, cfg.cropWidth, cfg.cropHeight);
}

/** PIL's convert("RGB") of the whole image (transformers converts before it resizes). */
function toRgbImage(img: DecodedImage): DecodedImage {
  if (img.layout === 'RGB' && img.mode === 'RGB') return img;
  const n = img.width * img.height;
  const data = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) rgbOf(img.data, i * img.channels, img.layout, data, i * 3);
  const zero = new Uint8Array(3);
  rgbOf(img.zero, 0, img.layout, zero, 0);
  return { ...img, channels: 3, data, layout: 'RGB', mode: 'RGB', zero };
}

function copyWindow(src: RasterU8, win: Window): Uint8Array {
  const C = src.channels;
  const out = new Uint8Array(win.width * win.height * C);
  for (let y = 0; y < win.height; y++) {
    const from = ((win.y0 + y) * src.width + win.x0) * C;
    out.set(src.data.subarray(from, from + win.width * C), y * win.width * C);
  }
  return out;
}

/** Pillow's MULDIV255: round(a * b / 255) with integers. */
function muldiv255(a: number, b: number): number {
  const t = a * b + 128;
  return ((t >> 8) + t) >> 8;
}

/** RGBA → RGBa (rgbA2rgba in Convert.c) and LA → La: colour × alpha / 255. Alpha is the last channel. */
function premultiply(src: Uint8Array, C: number): Uint8Array {
  const out = new Uint8Array(src.length);
  for (let i = 0; i < src.length; i += C) {
    const a = src[i + C - 1];
    for (let c = 0; c < C - 1; c++) out[i + c] = muldiv255(src[i + c], a);
    out[i + C - 1] = a;
  }
  return out;
}

/** RGBa → RGBA (rgba2rgbA) and La → LA: colour × 255 / alpha truncated, clipped; alpha 0 and 255 untouched. */
function unpremultiply(px: Uint8Array, C: number): void {
  for (let i = 0; i < px.length; i += C) {
    const a = px[i + C - 1];
    if (a === 0 || a === 255) continue;
    for (let c = 0; c < C - 1; c++) {
      const v = Math.trunc((255 * px[i + c]) / a);
      px[i + c] = v > 255 ? 255 : v;
    }
  }
}

/** convert("RGB") of one pixel of `layout` at px[i..]. */
function rgbOf(px: Uint8Array, i: number, layout: PixelLayout, out: Uint8Array, o: number): void {
  switch (layout) {
    case 'L':
    case 'LA':
      out[o] = out[o + 1] = out[o + 2] = px[i];
      return;
    case 'RGB':
    case 'RGBA':
      out[o] = px[i];
      out[o + 1] = px[i + 1];
      out[o + 2] = px[i + 2];
      return;
    case 'CMYK': {
      // Convert.c cmyk2rgb
      const nk = 255 - px[i + 3];
      out[o] = nk - muldiv255(px[i], nk);
      out[o + 1] = nk - muldiv255(px[i + 1], nk);
      out[o + 2] = nk - muldiv255(px[i + 2], nk);
      return;
    }
  }
}

/** The crop as RGB: the zero pixel everywhere, the window's pixels at (dx, dy). */
function placeRgb(px: Uint8Array, win: Window, layout: PixelLayout, zero: Uint8Array, dx: number, dy: number, cw: number, ch: number): Uint8Array {
  const out = new Uint8Array(cw * ch * 3);
  const C = zero.length;
  if (win.width < cw || win.height < ch) {
    const z = new Uint8Array(3);
    rgbOf(zero, 0, layout, z, 0);
    for (let o = 0; o < out.length; o += 3) out.set(z, o);
  }
  if (layout === 'RGB' && win.width === cw) {
    out.set(px, dy * cw * 3);
    return out;
  }
  for (let y = 0; y < win.height; y++) {
    let o = ((y + dy) * cw + dx) * 3;
    let i = y * win.width * C;
    for (let x = 0; x < win.width; x++, i += C, o += 3) rgbOf(px, i, layout, out, o);
  }
  return out;
}

/** An image after resize, centre crop and convert("RGB"): what the backends receive (ImageBatch). */
export interface PreprocessedPixels {
  /** RGB HWC uint8, cropHeight × cropWidth × 3. */
  readonly pixels: Uint8Array;
  /** The decoded image's size and format, and PIL's mode for it. */
  readonly width: number;
  readonly height: number;
  readonly format: string;
  readonly mode: string;
}

export interface PreprocessedImage extends Omit<PreprocessedPixels, 'pixels'> {
  /** CHW float32, 3 × cropHeight × cropWidth: toTensor of the pixels. */
  readonly tensor: Float32Array;
}

export interface PreprocessOptions {
  readonly mode?: PreprocessMode;
  readonly limits?: Partial<DecodeLimits>;
  /** Apply EXIF orientation first (a request's ImageInput.upright); PIL's Image.open does not. */
  readonly orient?: boolean;
  /** The header already read for these bytes and limits (decode.ts inspectForDecode). */
  readonly inspection?: Inspection;
}

/** Bytes → the model's RGB crop. Throws ClipqlError (BAD_IMAGE, UNSUPPORTED_FORMAT, IMAGE_TOO_LARGE). */
export async function preprocessPixels(bytes: Uint8Array, cfg: ImageTransformConfig, opts: PreprocessOptions = {}): Promise<PreprocessedPixels> {
  if (opts.mode === 'fast') {
    const info = opts.inspection?.info ?? (await inspectImage(bytes, opts.limits));
    const { size } = cropGeometry(info.width, info.height, cfg);
    // libvips only where it pays (a large downscale: JPEG shrink-on-load, no full-size decode)
    // and where its colour handling is PIL's (8-bit L, LA, RGB, RGBA); its upscaling is far from
    // PIL's, and the exact path is cheap on small images anyway.
    const turned = opts.orient === true && (info.orientation ?? 1) > 1;
    if (!turned && info.format !== 'heic' && SHARP_FAST_MODES.has(info.mode) && info.bitDepth === 8 && info.width >= 2 * size.width && info.height >= 2 * size.height) {
      const rgb = await fastResizeAndCrop(bytes, info.width, info.height, cfg, opts.limits).catch((e: unknown) => {
        throw e instanceof ClipqlError ? e : decodeError(info.format, e, opts.limits?.maxPixels ?? DEFAULT_DECODE_LIMITS.maxPixels);
      });
      return { pixels: rgb, width: info.width, height: info.height, format: info.format, mode: info.mode };
    }
  }
  const img = await decodeImage(bytes, opts.limits, { orient: opts.orient, inspection: opts.inspection });
  return { pixels: resizeAndCrop(img, cfg, opts.mode), width: img.width, height: img.height, format: img.format, mode: img.mode };
}

/** Bytes → model input tensor (preprocessPixels, then ToTensor + Normalize). */
export async function preprocessImage(bytes: Uint8Array, cfg: ImageTransformConfig, opts: PreprocessOptions = {}): Promise<PreprocessedImage> {
  const { pixels, ...facts } = await preprocessPixels(bytes, cfg, opts);
  return { ...facts, tensor: toTensor(pixels, cfg) };
}

const SHARP_FAST_MODES = new Set(['L', 'LA', 'RGB', 'RGBA']);

/** sharp decodes and resizes; the crop and padding are torchvision's. */
async function fastResizeAndCrop(bytes: Uint8Array, width: number, height: number, cfg: ImageTransformConfig, limits: Partial<DecodeLimits> | undefined): Promise<Uint8Array> {
  const { size, left, top, win } = cropGeometry(width, height, cfg);
  const resize = size.width === width && size.height === height ? undefined : size;
  const raw = await fastResize(bytes, resize, limits?.maxPixels ?? DEFAULT_DECODE_LIMITS.maxPixels);
  if (raw.width !== size.width || raw.height !== size.height || raw.channels !== 3) {
    throw new ClipqlError(ErrorCode.BAD_IMAGE, `the image decoded to ${raw.width}x${raw.height}x${raw.channels}, not the ${size.width}x${size.height}x3 expected`);
  }
  const px = copyWindow({ width: raw.width, height: raw.height, channels: 3, data: raw.data }, win);
  return placeRgb(px, win, 'RGB', new Uint8Array(3), win.x0 - left, win.y0 - top, cfg.cropWidth, cfg.cropHeight);
}
