/**
 * Which mode PIL.Image.open (Pillow 9.4) gives a file, and how to get exactly those pixels out of
 * libvips: the colour space and depth to ask for, which channels to keep, and the corrections
 * for the one format where libvips composes differently (GIF). Every rule here was checked
 * against PIL on generated files (test/preprocess).
 */
import { ClipqlError, ErrorCode } from '../../errors';
import { FORMAT_NAMES, readPngHeader, readTiffHeader, type AcceptedFormat, type GifHeader } from './headers';
import type { RawPixels, RawRequest, readMetadata } from './sharp';

/** The channels of decoded pixels, in order. */
export type PixelLayout = 'L' | 'LA' | 'RGB' | 'RGBA' | 'CMYK';

export const CHANNELS: Record<PixelLayout, 1 | 2 | 3 | 4> = { L: 1, LA: 2, RGB: 3, RGBA: 4, CMYK: 4 };

export interface Plan {
  /** PIL's mode. */
  readonly mode: string;
  readonly layout: PixelLayout;
  readonly request: RawRequest;
  /** PIL's zero pixel in `layout` when it is not all zeros (palette entry 0). */
  readonly zero?: Uint8Array;
}

export type Meta = Awaited<ReturnType<typeof readMetadata>>;

/** Decides PIL's mode and how to get those pixels out of libvips. */
export function planDecode(format: AcceptedFormat, bytes: Uint8Array, meta: Meta, gif: GifHeader | undefined): Plan {
  const unsupported = (what: string) =>
    new ClipqlError(ErrorCode.UNSUPPORTED_FORMAT, `${FORMAT_NAMES[format]} images with ${what} are not accepted; send 8- or 16-bit greyscale, RGB, RGBA, palette or CMYK images`, {
      details: { format, space: meta.space, depth: meta.depth, channels: meta.channels },
    });
  const u8: RawRequest = { depth: 'uchar' };
  const alpha = meta.hasAlpha;

  if (gif) {
    // palette expanded by libvips; frame fill and transparent pixels are fixed by fixGifFrame
    return gif.mode === 'P' ? { mode: 'P', layout: 'RGB', request: u8, zero: gifColour(gif, 0) } : { mode: 'L', layout: 'L', request: u8 };
  }
  if (format === 'png') {
    const h = readPngHeader(bytes);
    if (!h) throw new ClipqlError(ErrorCode.BAD_IMAGE, 'the PNG header is damaged');
    const grey16: RawRequest = { colourspace: 'grey16', depth: 'ushort' };
    const rgb16: RawRequest = { colourspace: 'rgb16', depth: 'ushort' };
    // PIL 9.4's PngImagePlugin._MODES; tRNS on grey or RGB adds no band in PIL
    switch (`${h.colourType}/${h.bitDepth}`) {
      case '0/1': return { mode: '1', layout: 'L', request: { colourspace: 'b-w', depth: 'uchar' } };
      case '0/2': case '0/4': case '0/8': return { mode: 'L', layout: 'L', request: { colourspace: 'b-w', depth: 'uchar' } };
      case '0/16': return { mode: 'I', layout: 'L', request: grey16 }; // high byte: the deviation in transform.ts
      case '2/8': return { mode: 'RGB', layout: 'RGB', request: u8 };
      case '2/16': return { mode: 'RGB', layout: 'RGB', request: rgb16 };
      case '3/1': case '3/2': case '3/4': case '3/8': {
        const z = h.palette0 ?? [0, 0, 0];
        return { mode: 'P', layout: 'RGB', request: u8, zero: Uint8Array.from(z) };
      }
      case '4/8': return { mode: 'LA', layout: 'LA', request: u8 };
      case '4/16': return { mode: 'RGBA', layout: 'LA', request: grey16 }; // PIL: "LA;16B" unpacked to RGBA
      case '6/8': return { mode: 'RGBA', layout: 'RGBA', request: u8 };
      case '6/16': return { mode: 'RGBA', layout: 'RGBA', request: rgb16 };
      default: throw new ClipqlError(ErrorCode.BAD_IMAGE, `the PNG header declares colour type ${h.colourType} with bit depth ${h.bitDepth}, which PNG does not allow`);
    }
  }
  // JPEG, WebP, TIFF, AVIF: from libvips' description of the image. CMYK JPEGs come out of libjpeg
  // inverted (Adobe convention) in both PIL ("CMYK;I") and libvips, with or without the marker.
  if (format === 'tiff') {
    const h = readTiffHeader(bytes);
    if (h?.photometric === 3 && meta.depth === 'uchar') return { mode: 'P', layout: 'RGB', request: u8, zero: Uint8Array.from(h.palette0 ?? [0, 0, 0]) };
  }
  if (meta.isPalette && meta.depth === 'uchar') return { mode: 'P', layout: 'RGB', request: u8 };
  switch (meta.space) {
    case 'b-w':
      if (meta.depth !== 'uchar') throw unsupported(`${meta.depth} samples`);
      if (alpha) return { mode: 'LA', layout: 'LA', request: u8 };
      return { mode: meta.bitsPerSample === 1 ? '1' : 'L', layout: 'L', request: { colourspace: 'b-w', depth: 'uchar' } };
    case 'grey16':
      return alpha ? { mode: 'LA', layout: 'LA', request: { colourspace: 'grey16', depth: 'ushort' } } : { mode: 'I;16', layout: 'L', request: { colourspace: 'grey16', depth: 'ushort' } };
    case 'srgb':
      if (meta.depth !== 'uchar') throw unsupported(`${meta.depth} samples`);
      return alpha ? { mode: 'RGBA', layout: 'RGBA', request: u8 } : { mode: 'RGB', layout: 'RGB', request: u8 };
    case 'rgb16':
      return alpha ? { mode: 'RGBA', layout: 'RGBA', request: { colourspace: 'rgb16', depth: 'ushort' } } : { mode: 'RGB', layout: 'RGB', request: { colourspace: 'rgb16', depth: 'ushort' } };
    case 'cmyk':
      if (meta.depth !== 'uchar' || alpha) throw unsupported(alpha ? 'CMYK plus alpha' : `${meta.depth} CMYK samples`);
      return { mode: 'CMYK', layout: 'CMYK', request: { colourspace: 'cmyk', depth: 'uchar' }, zero: new Uint8Array(4) };
    default:
      throw unsupported(`the ${meta.space} colour space`);
  }
}

/** Picks (and for 16-bit, reduces) libvips' samples into `layout`. */
export function toLayout(raw: RawPixels, depth: RawRequest['depth'], layout: PixelLayout): Uint8Array {
  const n = raw.width * raw.height;
  const inC = raw.channels;
  const outC = CHANNELS[layout];
  // which input sample feeds each output channel: grey + alpha arrives as (g, a) or (g, g, g, a)
  const pick: number[] = layout === 'LA' ? [0, inC - 1] : Array.from({ length: outC }, (_, c) => c);
  if (inC < outC || (layout === 'LA' && inC !== 2 && inC !== 4)) {
    throw new ClipqlError(ErrorCode.BAD_IMAGE, `the decoder returned ${inC} channels where ${layout} needs ${outC}`);
  }
  if (depth === 'uchar' && inC === outC) return new Uint8Array(raw.data.buffer, raw.data.byteOffset, n * outC); // no copy: big images
  const out = new Uint8Array(n * outC);
  if (depth === 'ushort') {
    // PIL keeps the high byte of 16-bit samples ("RGB;16B" and friends)
    const s = new Uint16Array(raw.data.buffer, raw.data.byteOffset, raw.data.length >> 1);
    for (let i = 0, o = 0; i < n; i++) for (let c = 0; c < outC; c++) out[o++] = s[i * inC + pick[c]] >> 8;
  } else {
    const s = raw.data;
    for (let i = 0, o = 0; i < n; i++) for (let c = 0; c < outC; c++) out[o++] = s[i * inC + pick[c]];
  }
  return out;
}

/** The colour PIL shows for a GIF index: its palette entry, or the index itself in mode L. */
function gifColour(gif: GifHeader, index: number): Uint8Array {
  if (gif.mode === 'L') return Uint8Array.of(index);
  const p = gif.palette;
  return 3 * index + 2 < p.length ? p.slice(3 * index, 3 * index + 3) : new Uint8Array(3);
}

/**
 * libvips composes the first GIF frame on a transparent black canvas; PIL fills the canvas with
 * the transparent index (or index 0) and keeps transparent pixels' palette colours, because it
 * holds indices. This puts PIL's colours where the two differ.
 */
export function fixGifFrame(data: Uint8Array, raw: RawPixels, gif: GifHeader, layout: PixelLayout): Uint8Array {
  const C = CHANNELS[layout];
  const fill = gifColour(gif, gif.transparency ?? 0);
  const clear = gif.transparency !== undefined ? gifColour(gif, gif.transparency) : undefined;
  const { x0, y0, x1, y1 } = gif.frame;
  const hasAlpha = raw.channels === 4 || raw.channels === 2;
  for (let y = 0; y < raw.height; y++) {
    for (let x = 0; x < raw.width; x++) {
      const i = y * raw.width + x;
      const inside = x >= x0 && x < x1 && y >= y0 && y < y1;
      let colour: Uint8Array | undefined;
      if (!inside) colour = fill;
      else if (clear && hasAlpha && raw.data[i * raw.channels + raw.channels - 1] === 0) colour = clear;
      if (colour) for (let c = 0; c < C; c++) data[i * C + c] = colour[c];
    }
  }
  return data;
}

