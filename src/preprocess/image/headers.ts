/**
 * What the first bytes of a file say, read before any decoder sees it: the format (so that SVG,
 * PDF and friends are refused without being parsed), and the few header facts that decide how
 * PIL would open the image (its mode, palette, transparency) where sharp does not report them.
 * Every reader is bounds-checked and answers `undefined` for a header it cannot follow; the
 * decoder then reports the damage.
 */

/** Formats clipql decodes (with sharp; HEIC with libheif, heic.ts). */
export type AcceptedFormat = 'jpeg' | 'png' | 'gif' | 'webp' | 'tiff' | 'avif' | 'heic';
export const FORMAT_NAMES: Record<AcceptedFormat, string> = { jpeg: 'JPEG', png: 'PNG', gif: 'GIF', webp: 'WebP', tiff: 'TIFF', avif: 'AVIF', heic: 'HEIC' };

/** Recognised formats that are refused (UNSUPPORTED_FORMAT). */
export type RefusedFormat = 'svg' | 'xml' | 'html' | 'pdf' | 'postscript' | 'bmp' | 'ico' | 'psd' | 'jxl' | 'jp2' | 'pnm' | 'exr' | 'hdr' | 'qoi';

export type Sniffed = { readonly accepted: true; readonly format: AcceptedFormat } | { readonly accepted: false; readonly format: RefusedFormat };

const ascii = (b: Uint8Array, at: number, s: string): boolean => {
  if (b.length < at + s.length) return false;
  for (let i = 0; i < s.length; i++) if (b[at + i] !== s.charCodeAt(i)) return false;
  return true;
};
const bytes = (b: Uint8Array, at: number, ...v: number[]): boolean => b.length >= at + v.length && v.every((x, i) => b[at + i] === x);
const u16be = (b: Uint8Array, at: number): number => (b[at] << 8) | b[at + 1];
const u16le = (b: Uint8Array, at: number): number => b[at] | (b[at + 1] << 8);
const u32be = (b: Uint8Array, at: number): number => ((b[at] << 24) >>> 0) + ((b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]);

/** Identifies the format by its magic bytes; `undefined` when it is no image format we know. */
export function sniffFormat(b: Uint8Array): Sniffed | undefined {
  const ok = (format: AcceptedFormat): Sniffed => ({ accepted: true, format });
  const no = (format: RefusedFormat): Sniffed => ({ accepted: false, format });
  if (bytes(b, 0, 0xff, 0xd8, 0xff)) return ok('jpeg');
  if (bytes(b, 0, 0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return ok('png');
  if (ascii(b, 0, 'GIF87a') || ascii(b, 0, 'GIF89a')) return ok('gif');
  if (ascii(b, 0, 'RIFF') && ascii(b, 8, 'WEBP')) return ok('webp');
  if (bytes(b, 0, 0x49, 0x49, 0x2a, 0x00) || bytes(b, 0, 0x4d, 0x4d, 0x00, 0x2a) || bytes(b, 0, 0x49, 0x49, 0x2b, 0x00) || bytes(b, 0, 0x4d, 0x4d, 0x00, 0x2b)) return ok('tiff');
  if (ascii(b, 4, 'ftyp')) {
    const brands = isoBrands(b);
    if (brands.includes('avif') || brands.includes('avis')) return ok('avif');
    if (brands.some((x) => ['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'hevm', 'hevs', 'mif1', 'msf1'].includes(x))) return ok('heic');
    if (brands.some((x) => x.startsWith('jp2') || x === 'jpx ')) return no('jp2');
    return undefined;
  }
  if (ascii(b, 0, '%PDF')) return no('pdf');
  if (ascii(b, 0, '%!') || bytes(b, 0, 0xc5, 0xd0, 0xd3, 0xc6)) return no('postscript');
  if (ascii(b, 0, 'BM') && b.length >= 26 && u32be(b, 14) !== 0) return no('bmp');
  if ((bytes(b, 0, 0, 0, 1, 0) || bytes(b, 0, 0, 0, 2, 0)) && b.length >= 6 && u16le(b, 4) > 0) return no('ico');
  if (ascii(b, 0, '8BPS')) return no('psd');
  if (bytes(b, 0, 0xff, 0x0a) || bytes(b, 0, 0, 0, 0, 0x0c, 0x4a, 0x58, 0x4c, 0x20)) return no('jxl');
  if (bytes(b, 0, 0, 0, 0, 0x0c, 0x6a, 0x50, 0x20, 0x20) || bytes(b, 0, 0xff, 0x4f, 0xff, 0x51)) return no('jp2');
  if (b.length >= 3 && b[0] === 0x50 && b[1] >= 0x31 && b[1] <= 0x37 && (b[2] === 0x0a || b[2] === 0x20 || b[2] === 0x0d || b[2] === 0x09)) return no('pnm');
  if (bytes(b, 0, 0x76, 0x2f, 0x31, 0x01)) return no('exr');
  if (ascii(b, 0, '#?RADIANCE') || ascii(b, 0, '#?RGBE')) return no('hdr');
  if (ascii(b, 0, 'qoif')) return no('qoi');
  return sniffMarkup(b);
}

/** SVG and other markup: text (after a BOM and white space) that opens with `<`. Never rendered. */
function sniffMarkup(b: Uint8Array): Sniffed | undefined {
  let i = bytes(b, 0, 0xef, 0xbb, 0xbf) ? 3 : 0;
  while (i < b.length && (b[i] === 0x20 || b[i] === 0x09 || b[i] === 0x0a || b[i] === 0x0d)) i++;
  if (b[i] !== 0x3c) {
    // UTF-16 markup: "<" as 3c 00 or 00 3c after a BOM
    if ((bytes(b, 0, 0xff, 0xfe, 0x3c, 0x00) || bytes(b, 0, 0xfe, 0xff, 0x00, 0x3c))) return { accepted: false, format: 'xml' };
    return undefined;
  }
  const head = new TextDecoder('latin1').decode(b.subarray(i, Math.min(b.length, i + 4096))).toLowerCase();
  if (head.includes('<svg')) return { accepted: false, format: 'svg' };
  if (head.startsWith('<!doctype html') || head.startsWith('<html')) return { accepted: false, format: 'html' };
  return { accepted: false, format: 'xml' };
}

function isoBrands(b: Uint8Array): string[] {
  const size = b.length >= 8 ? u32be(b, 0) : 0;
  const end = Math.min(b.length, size >= 16 ? size : 16, 256);
  const out: string[] = [];
  const str = (at: number) => String.fromCharCode(b[at], b[at + 1], b[at + 2], b[at + 3]);
  if (end >= 12) out.push(str(8));
  for (let at = 16; at + 4 <= end; at += 4) out.push(str(at));
  return out;
}

// ------------------------------------------------------------------ PNG

export interface PngHeader {
  readonly bitDepth: number;
  /** 0 grey, 2 RGB, 3 palette, 4 grey + alpha, 6 RGBA. */
  readonly colourType: number;
  readonly hasTrns: boolean;
  /** PLTE entry 0 (what PIL's zero index shows as), for palette images. */
  readonly palette0?: readonly [number, number, number];
}

/** IHDR, PLTE and tRNS (all of which precede the image data). */
export function readPngHeader(b: Uint8Array): PngHeader | undefined {
  if (b.length < 33 || !ascii(b, 12, 'IHDR')) return undefined;
  const bitDepth = b[24];
  const colourType = b[25];
  let hasTrns = false;
  let palette0: [number, number, number] | undefined;
  let at = 8;
  while (at + 8 <= b.length) {
    const len = u32be(b, at);
    const type = String.fromCharCode(b[at + 4], b[at + 5], b[at + 6], b[at + 7]);
    if (type === 'IDAT' || type === 'IEND') break;
    if (type === 'tRNS') hasTrns = true;
    if (type === 'PLTE' && len >= 3 && at + 11 <= b.length) palette0 = [b[at + 8], b[at + 9], b[at + 10]];
    at += 12 + len;
  }
  return { bitDepth, colourType, hasTrns, palette0 };
}

// ------------------------------------------------------------------ GIF

export interface GifHeader {
  /** PIL's mode for the first frame: 'L' when its palette is the identity grey ramp, else 'P'. */
  readonly mode: 'P' | 'L';
  /** The first frame's palette (local, else global), RGB triples. */
  readonly palette: Uint8Array;
  /** Transparent index of the first frame's graphic control extension. */
  readonly transparency?: number;
  /** PIL's canvas: the logical screen, grown to hold the first frame. */
  readonly width: number;
  readonly height: number;
  /** Where the first frame lies on the canvas. */
  readonly frame: { readonly x0: number; readonly y0: number; readonly x1: number; readonly y1: number };
}

/** Follows PIL 9.4's GifImagePlugin up to the first image descriptor. */
export function readGifHeader(b: Uint8Array): GifHeader | undefined {
  if (b.length < 13) return undefined;
  let width = u16le(b, 6);
  let height = u16le(b, 8);
  const flags = b[10];
  let at = 13;
  let globalPalette: Uint8Array | undefined;
  if (flags & 0x80) {
    const n = 3 << ((flags & 7) + 1);
    if (at + n > b.length) return undefined;
    globalPalette = b.subarray(at, at + n);
    at += n;
  }
  let transparency: number | undefined;
  while (at < b.length) {
    const tag = b[at++];
    if (tag === 0x3b) return undefined; // trailer before any frame
    if (tag === 0x21) {
      if (at >= b.length) return undefined;
      const label = b[at++];
      let first = true;
      while (at < b.length && b[at] !== 0) {
        const n = b[at];
        if (first && label === 0xf9 && n >= 4 && at + 4 < b.length && b[at + 1] & 1) transparency = b[at + 4];
        first = false;
        at += n + 1;
      }
      at++;
    } else if (tag === 0x2c) {
      if (at + 9 > b.length) return undefined;
      const x0 = u16le(b, at);
      const y0 = u16le(b, at + 2);
      const x1 = x0 + u16le(b, at + 4);
      const y1 = y0 + u16le(b, at + 6);
      const f = b[at + 8];
      at += 9;
      let palette = globalPalette;
      if (f & 0x80) {
        const n = 3 << ((f & 7) + 1);
        if (at + n > b.length) return undefined;
        palette = b.subarray(at, at + n);
      }
      width = Math.max(width, x1);
      height = Math.max(height, y1);
      const needed = palette !== undefined && paletteNeeded(palette);
      return { mode: needed ? 'P' : 'L', palette: needed ? palette! : new Uint8Array(0), transparency, width, height, frame: { x0, y0, x1, y1 } };
    }
    // PIL skips any other byte between blocks
  }
  return undefined;
}

/** GifImageFile._is_palette_needed: anything but entry i == (i, i, i). */
function paletteNeeded(p: Uint8Array): boolean {
  for (let i = 0; i + 2 < p.length; i += 3) {
    const v = i / 3;
    if (!(p[i] === v && p[i + 1] === v && p[i + 2] === v)) return true;
  }
  return false;
}

// ------------------------------------------------------------------ TIFF

export interface TiffHeader {
  /** PhotometricInterpretation of the first image (3: palette). */
  readonly photometric: number;
  /** ColorMap entry 0 as PIL keeps it (high bytes), for palette images. */
  readonly palette0?: readonly [number, number, number];
}

/** The first IFD of a classic TIFF (BigTIFF: undefined). */
export function readTiffHeader(b: Uint8Array): TiffHeader | undefined {
  if (b.length < 8) return undefined;
  const le = b[0] === 0x49;
  const u16 = (at: number) => (le ? u16le(b, at) : u16be(b, at));
  const u32 = (at: number) => (le ? (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16)) + b[at + 3] * 2 ** 24 : u32be(b, at));
  if (u16(2) !== 42) return undefined;
  const ifd = u32(4);
  if (ifd + 2 > b.length) return undefined;
  const n = u16(ifd);
  let photometric: number | undefined;
  let palette0: [number, number, number] | undefined;
  for (let e = 0; e < n; e++) {
    const at = ifd + 2 + e * 12;
    if (at + 12 > b.length) return undefined;
    const tag = u16(at);
    const type = u16(at + 2);
    const value = type === 3 ? u16(at + 8) : u32(at + 8);
    if (tag === 262) photometric = value;
    if (tag === 320 && type === 3) {
      // ColorMap: all reds, then all greens, then all blues, 16 bits each
      const count = u32(at + 4);
      const off = u32(at + 8);
      const third = Math.floor(count / 3);
      if (third >= 1 && off + count * 2 <= b.length) palette0 = [u16(off) >> 8, u16(off + third * 2) >> 8, u16(off + third * 4) >> 8];
    }
  }
  return photometric === undefined ? undefined : { photometric, palette0 };
}
