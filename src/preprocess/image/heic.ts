/**
 * HEIC/HEIF with HEVC (iPhones' default format), which sharp's prebuilt libvips cannot decode
 * (it reads AVIF only). libheif does, built to WebAssembly (npm `heic-decode` over `libheif-js`,
 * libheif 1.23 with libde265): the same library as Debian's `heif-convert`, whose output the
 * tests compare with (within 1 level: the two builds round YUV → RGB differently).
 *
 * - The photo is the file's first top-level image (libheif's list: the primary item in the files
 *   phones write); thumbnails, depth and gain maps are auxiliary items, never top-level.
 * - libheif applies the file's own transformations (irot, imir, clap), as heif-convert does, so
 *   the pixels are upright whatever `orient` asks; EXIF orientation inside a HEIF is not applied
 *   on top (the HEIF spec makes irot authoritative; applying both would turn twice).
 * - Bounds: the byte limit (checked before), the declared size against maxPixels before any pixel
 *   is decoded (the container is parsed first, pixels only by `decode()`), and time: about 0.5 s
 *   per 12 MP on one core (BENCHMARKS.md), on a preprocessing thread like every decode.
 *   WebAssembly memory grows to the largest image decoded and is kept by that thread.
 * - Alpha is not kept (libheif composes RGBA; photos have none): mode RGB.
 * - libheif is loaded on the first HEIC file, not with this module: its 2 MB WebAssembly bundle
 *   costs about 0.1 s of CPU to load, in the main thread and in every preprocessing thread, and
 *   most processes (a CLI search, a server whose clients send JPEGs) never see a HEIC file.
 */
import type decodeHeifType from 'heic-decode';
import { ClipqlError, ErrorCode } from '../../errors';
import { countWork } from './work-counts';

export interface HeicImage {
  readonly width: number;
  readonly height: number;
  readonly pages: number;
  /** Decodes the pixels: RGB HWC. Call at most once; `dispose` after. */
  decode(): Promise<Uint8Array>;
  dispose(): void;
}

let loaded: typeof decodeHeifType | undefined;
function libheif(): typeof decodeHeifType {
  return (loaded ??= require('heic-decode') as typeof decodeHeifType);
}

/** Parses the container (no pixel decoded) and checks the declared size against maxPixels. */
export async function openHeic(bytes: Uint8Array, maxPixels: number): Promise<HeicImage> {
  let images: Awaited<ReturnType<typeof decodeHeifType.all>>;
  try {
    images = await libheif().all({ buffer: bytes });
  } catch (e) {
    throw new ClipqlError(ErrorCode.BAD_IMAGE, `the HEIC data is corrupt or truncated (${(e as Error).message})`, { cause: e });
  }
  const dispose = () => images.dispose();
  const first = images[0];
  if (!first) {
    dispose();
    throw new ClipqlError(ErrorCode.BAD_IMAGE, 'the HEIC file holds no image');
  }
  const { width, height } = first;
  if (!(width > 0 && height > 0)) {
    dispose();
    throw new ClipqlError(ErrorCode.BAD_IMAGE, `the HEIC header declares a ${width}x${height} image`);
  }
  if (width * height > maxPixels) {
    dispose();
    throw new ClipqlError(ErrorCode.IMAGE_TOO_LARGE, `the image declares ${width}x${height} = ${width * height} pixels; at most ${maxPixels} are allowed`, { details: { width, height, maxPixels } });
  }
  return {
    width,
    height,
    pages: images.length,
    dispose,
    async decode() {
      countWork('decodes');
      let rgba: { data: Uint8ClampedArray | Uint8Array };
      try {
        rgba = await first.decode();
      } catch (e) {
        throw new ClipqlError(ErrorCode.BAD_IMAGE, `the HEIC data is corrupt or truncated (${(e as Error).message})`, { cause: e });
      }
      const n = width * height;
      if (rgba.data.length !== n * 4) throw new ClipqlError(ErrorCode.BAD_IMAGE, `the HEIC decoded to ${rgba.data.length} bytes, not the ${n * 4} of ${width}x${height} RGBA`);
      const rgb = new Uint8Array(n * 3);
      for (let i = 0, o = 0; i < n * 4; i += 4, o += 3) {
        rgb[o] = rgba.data[i];
        rgb[o + 1] = rgba.data[i + 1];
        rgb[o + 2] = rgba.data[i + 2];
      }
      return rgb;
    },
  };
}
