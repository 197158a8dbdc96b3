/**
 * The hostile image corpus: crafted inputs, generated from a seed (nothing downloaded), each with
 * the answers a correct server may give and why. Groups:
 *   bomb-*       decompression bombs: small files declaring huge dimensions, and real, highly
 *                compressible images beyond CLIP_MAX_PIXELS (PNG, JPEG, WebP, GIF)
 *   large-*      real images just under the pixel limit: decoded, in bounded time and memory
 *   trunc-*      truncated files of every accepted format (JPEG, PNG, GIF, WebP, TIFF, AVIF)
 *   flip-*       bit-flipped files of every accepted format
 *   anim-*       animated GIF and WebP (the first frame is used, as PIL does)
 *   mode-*       CMYK JPEG, 16-bit PNG (RGB and grey), palette and grey+alpha
 *   svg-*        SVG with external references, <use> chains and cycles, entity expansion, XXE,
 *                and SVG in disguise (BOM, UTF-16, long prologue, gzip, HTML)
 *   exif-*       EXIF with absurd values: orientation 99, huge IFD counts, an IFD that points at
 *                itself, entries claiming 4 G values
 *   chunk-*      ancillary chunks that inflate (zTXt, iCCP bombs), chunks after IEND, bad CRCs
 * The server's defaults are assumed: CLIP_MAX_PIXELS 40,000,000, CLIP_MAX_IMAGE_BYTES 20 MiB.
 */
import { gzipSync, deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { gif, gifLzw, ihdr, jpegSofOffset, jpegWithExif, pngChunks, pngFromChunks, repeat, rng, tiffBlock } from './bytes';

/** "ok" (an embedding) or an error code. */
export type Outcome = 'ok' | 'BAD_IMAGE' | 'UNSUPPORTED_FORMAT' | 'IMAGE_TOO_LARGE';

export interface CorpusEntry {
  /** File name in the generated folder, e.g. "bomb-png-declares-65535x65535.png". */
  readonly name: string;
  readonly bytes: Buffer;
  /** Every answer a correct server may give; the first is the one this build gives (for bit flips, any of them). */
  readonly expect: readonly Outcome[];
  /** Why: what the file is, and what the server does with it. */
  readonly note: string;
}

/** The defaults the expectations are written against. */
export const CORPUS_LIMITS = { maxPixels: 40_000_000, maxBytes: 20 * 1024 * 1024 };

type Format = 'jpeg' | 'png' | 'gif' | 'webp' | 'tiff' | 'avif';
const FORMATS: readonly Format[] = ['jpeg', 'png', 'gif', 'webp', 'tiff', 'avif'];
const EXT: Record<Format, string> = { jpeg: 'jpg', png: 'png', gif: 'gif', webp: 'webp', tiff: 'tif', avif: 'avif' };

/** A w×h RGB test pattern that depends on `seed`, encoded as `format`. */
export async function pattern(seed: number, format: Format, w = 96, h = 80): Promise<Buffer> {
  const raw = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      raw[i] = (x * (seed + 3) + y * 7) & 255;
      raw[i + 1] = (y * (seed + 5) + x * seed) & 255;
      raw[i + 2] = ((x ^ y) * (seed + 1)) & 255;
    }
  }
  const img = sharp(raw, { raw: { width: w, height: h, channels: 3 } });
  return (format === 'avif' ? img.avif() : img.toFormat(format)).toBuffer();
}

const svg = (body: string, head = '') => Buffer.from(`${head}<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="64" height="64">${body}</svg>`);

export async function generateCorpus(seed = 1): Promise<CorpusEntry[]> {
  const random = rng(seed);
  const int = (n: number) => Math.floor(random() * n);
  const out: CorpusEntry[] = [];
  const add = (name: string, bytes: Buffer, expect: readonly Outcome[], note: string) => out.push({ name, bytes, expect, note });
  const base: Record<Format, Buffer> = Object.fromEntries(await Promise.all(FORMATS.map(async (f) => [f, await pattern(seed + 10, f)] as const))) as Record<Format, Buffer>;

  // ---- decompression bombs: small files that declare huge dimensions ----
  {
    const chunks = pngChunks(await pattern(seed, 'png', 8, 8));
    add('bomb-png-declares-65535x65535.png', pngFromChunks(chunks.map(([t, d]) => [t, t === 'IHDR' ? ihdr(65535, 65535) : d])), ['IMAGE_TOO_LARGE'], 'IHDR declares 4.3 G pixels (CRC fixed); refused from the header, nothing decoded');
    add('bomb-png-declares-2147483647x1.png', pngFromChunks(chunks.map(([t, d]) => [t, t === 'IHDR' ? ihdr(0x7fffffff, 1) : d])), ['BAD_IMAGE', 'IMAGE_TOO_LARGE'], 'the largest width PNG allows: the PNG reader refuses the header (or the pixel limit does)');
    add('bomb-png-declares-0x0.png', pngFromChunks(chunks.map(([t, d]) => [t, t === 'IHDR' ? ihdr(0, 0) : d])), ['BAD_IMAGE'], 'zero dimensions are invalid');
    const jpeg = Buffer.from(await pattern(seed, 'jpeg', 16, 16));
    const sof = jpegSofOffset(jpeg);
    jpeg.writeUInt16BE(65500, sof + 1);
    jpeg.writeUInt16BE(65500, sof + 3);
    add('bomb-jpeg-declares-65500x65500.jpg', jpeg, ['IMAGE_TOO_LARGE'], 'SOF declares 4.3 G pixels; refused from the header');
    const webp = Buffer.from(await sharp({ create: { width: 16, height: 16, channels: 3, background: '#336699' } }).webp({ quality: 50 }).toBuffer());
    const vp8 = webp.indexOf('VP8 ', 12, 'latin1');
    webp.writeUInt16LE(16383, vp8 + 8 + 6);
    webp.writeUInt16LE(16383, vp8 + 8 + 8);
    add('bomb-webp-declares-16383x16383.webp', webp, ['IMAGE_TOO_LARGE'], 'VP8 frame header declares 268 M pixels, the most lossy WebP allows');
    add('bomb-webp-vp8x-canvas-16777216.webp', webpVp8x(16_777_216, 16_777_216, webp), ['BAD_IMAGE', 'IMAGE_TOO_LARGE'], 'VP8X canvas of 2^24 x 2^24 (2.8e14 pixels) around a small frame: libwebp refuses the header (or the pixel limit does)');
    add('bomb-gif-declares-65535x65535.gif', gif({ width: 65535, height: 65535 }, [{ width: 65535, height: 65535, lzw: gifLzw(repeat(0, 64), 2) }]), ['IMAGE_TOO_LARGE'], 'logical screen and frame declare 4.3 G pixels, 64 pixels of data');
    add('bomb-gif-frame-outside-screen.gif', gif({ width: 16, height: 16 }, [{ left: 65000, top: 65000, width: 500, height: 500, lzw: gifLzw(repeat(0, 64), 2) }]), ['IMAGE_TOO_LARGE', 'BAD_IMAGE'], 'a 16x16 screen whose frame sits at (65000, 65000): PIL grows the canvas to hold it (4.3 G pixels)');
  }
  // ---- decompression bombs: real, highly compressible images beyond the pixel limit ----
  // 6500 x 6500 = 42.25 M pixels, just beyond the limit (larger ones only take longer to make).
  const S = 6500;
  add(`bomb-png-${S}x${S}-black.png`, await sharp({ create: { width: S, height: S, channels: 3, background: '#000' } }).png({ compressionLevel: 9 }).toBuffer(), ['IMAGE_TOO_LARGE'], '42 M real pixels (127 MB decoded) in about 120 KB');
  add(`bomb-jpeg-${S}x${S}-grey.jpg`, await sharp({ create: { width: S, height: S, channels: 3, background: '#808080' } }).jpeg({ quality: 50 }).toBuffer(), ['IMAGE_TOO_LARGE'], '42 M real pixels in about 250 KB');
  add(`bomb-webp-${S}x${S}-grey.webp`, await sharp({ create: { width: S, height: S, channels: 3, background: '#808080' } }).webp({ lossless: true, effort: 0 }).toBuffer(), ['IMAGE_TOO_LARGE'], '42 M real pixels in a few dozen bytes (lossless)');
  add(`bomb-gif-${S}x${S}-black.gif`, gif({ width: S, height: S }, [{ width: S, height: S, lzw: gifLzw(repeat(0, S * S), 2) }]), ['IMAGE_TOO_LARGE'], '42 M real pixels in about 30 KB of LZW');
  // ---- real images just under the limit: decoded, within bounded time and memory ----
  add('large-png-6000x6000-black.png', await sharp({ create: { width: 6000, height: 6000, channels: 3, background: '#000' } }).png({ compressionLevel: 9 }).toBuffer(), ['ok'], '36 M pixels (108 MB decoded), under the 40 M limit: embedded');
  add('large-jpeg-6000x6600-grey.jpg', await sharp({ create: { width: 6000, height: 6600, channels: 3, background: '#808080' } }).jpeg().toBuffer(), ['ok'], '39.6 M pixels, just under the limit: embedded');

  // ---- truncated, every format ----
  for (const f of FORMATS) {
    const b = base[f];
    for (const [label, at] of [['header', Math.min(24, b.length - 1)], ['quarter', b.length >> 2], ['half', b.length >> 1], ['random', 16 + int(b.length - 32)]] as const) {
      add(`trunc-${f}-${label}-${at}of${b.length}.${EXT[f]}`, b.subarray(0, at), ['BAD_IMAGE'], `the first ${at} of ${b.length} bytes`);
    }
    // Only the last byte missing: PNG (the IEND chunk's CRC) and GIF (the trailer) still have every pixel.
    add(`trunc-${f}-last-byte.${EXT[f]}`, b.subarray(0, b.length - 1), f === 'png' || f === 'gif' ? ['ok', 'BAD_IMAGE'] : ['BAD_IMAGE', 'ok'], 'all but the last byte: refused, or embedded when every pixel is still there');
  }
  // ---- bit flips, every format: in the header, and in the data ----
  for (const f of FORMATS) {
    const b = base[f];
    for (let k = 0; k < 3; k++) {
      const header = Buffer.from(b);
      const at = 4 + int(Math.min(40, b.length - 4));
      header[at] ^= 1 << int(8);
      add(`flip-${f}-header-${k}-byte${at}.${EXT[f]}`, header, ['BAD_IMAGE', 'ok', 'IMAGE_TOO_LARGE', 'UNSUPPORTED_FORMAT'], 'one bit flipped in the first 44 bytes: a refusal, or an image that still decodes');
      const data = Buffer.from(b);
      for (let i = 0; i < 8; i++) data[(b.length >> 1) + int(b.length >> 1)] ^= 1 << int(8);
      add(`flip-${f}-data-${k}.${EXT[f]}`, data, ['BAD_IMAGE', 'ok'], 'eight bits flipped in the second half: corrupt data is refused, or decodes to different pixels');
    }
  }

  // ---- animated ----
  const frames = await Promise.all([1, 2, 3].map((s) => pattern(seed + s, 'png', 64, 48)));
  add('anim-gif-3-frames.gif', await sharp(frames, { join: { animated: true } }).gif({ loop: 0, delay: [100, 100, 100] }).toBuffer(), ['ok'], 'animated GIF: the first frame is embedded, as PIL does');
  add('anim-webp-3-frames.webp', await sharp(frames, { join: { animated: true } }).webp({ loop: 0, delay: [100, 100, 100] }).toBuffer(), ['ok'], 'animated WebP: the first frame is embedded');
  add('anim-gif-1000-frames.gif', gif({ width: 32, height: 32 }, Array.from({ length: 1000 }, () => ({ width: 32, height: 32, lzw: gifLzw(repeat(1, 32 * 32), 2) })), true), ['ok'], '1000 frames: only the first is decoded');

  // ---- colour modes ----
  add('mode-cmyk.jpg', await sharp(await pattern(seed + 4, 'png')).toColourspace('cmyk').jpeg().toBuffer(), ['ok'], 'CMYK JPEG: converted as PIL converts CMYK to RGB');
  add('mode-rgb16.png', await sharp(await pattern(seed + 5, 'png')).toColourspace('rgb16').png().toBuffer(), ['ok'], '16-bit RGB PNG: reduced to 8 bits as PIL does');
  add('mode-grey16.png', await sharp(await pattern(seed + 6, 'png')).toColourspace('grey16').png().toBuffer(), ['ok'], '16-bit grey PNG (PIL mode I)');
  add('mode-palette.png', await sharp(await pattern(seed + 7, 'png')).png({ palette: true, colours: 16 }).toBuffer(), ['ok'], 'palette PNG');
  add('mode-grey-alpha.png', await sharp(await pattern(seed + 8, 'png')).toColourspace('b-w').ensureAlpha(0.5).png().toBuffer(), ['ok'], 'grey + alpha PNG');

  // ---- SVG: refused from the magic bytes, never parsed or rendered ----
  const laughs = `<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY lol "lol">${Array.from({ length: 9 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i || ''};`.repeat(10)}">`).join('')}]>`;
  add('svg-external-http.svg', svg('<image xlink:href="http://169.254.169.254/latest/meta-data/x.png" width="64" height="64"/>'), ['UNSUPPORTED_FORMAT'], 'an <image> on the cloud metadata address (SSRF if rendered)');
  add('svg-external-file.svg', svg('<image href="file:///etc/passwd" width="64" height="64"/><xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="file:///etc/shadow"/>'), ['UNSUPPORTED_FORMAT'], 'local files through <image> and XInclude');
  add('svg-use-chain.svg', svg(`<g id="u0"><rect width="1" height="1"/></g>${Array.from({ length: 20 }, (_, i) => `<g id="u${i + 1}">${Array.from({ length: 10 }, () => `<use href="#u${i}"/>`).join('')}</g>`).join('')}<use href="#u20"/>`), ['UNSUPPORTED_FORMAT'], '<use> chain: 10^20 rectangles if rendered');
  add('svg-use-cycle.svg', svg('<g id="a"><use href="#b"/></g><g id="b"><use href="#a"/></g>'), ['UNSUPPORTED_FORMAT'], '<use> elements that reference each other');
  add('svg-billion-laughs.svg', svg('<text>&lol9;</text>', laughs), ['UNSUPPORTED_FORMAT'], 'entity expansion ("billion laughs"): 10^9 copies if parsed');
  add('svg-xxe.svg', svg('<text>&xxe;</text>', '<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'), ['UNSUPPORTED_FORMAT'], 'external entity (XXE)');
  add('svg-bom-whitespace.svg', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('\n\t  '), svg('<rect width="9" height="9"/>')]), ['UNSUPPORTED_FORMAT'], 'UTF-8 BOM and white space before <svg');
  add('svg-utf16.svg', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(svg('<rect width="9" height="9"/>').toString('latin1'), 'utf16le')]), ['UNSUPPORTED_FORMAT'], 'UTF-16 markup');
  add('svg-long-prologue.svg', svg('<rect width="9" height="9"/>', `<?xml version="1.0"?><!--${'x'.repeat(10_000)}-->`), ['UNSUPPORTED_FORMAT'], '10 KB of comment before <svg (markup all the same)');
  add('svg-gzip.svgz', gzipSync(svg('<text>&lol9;</text>', laughs)), ['BAD_IMAGE'], 'gzip-compressed SVG: not an image format at all');
  add('svg-in-html.html', Buffer.from(`<!DOCTYPE html><html><body>${svg('<rect width="9" height="9"/>').toString()}</body></html>`), ['UNSUPPORTED_FORMAT'], 'HTML page with inline SVG');
  add('svg-after-junk.bin', Buffer.concat([Buffer.from('JUNK'), svg('<rect width="9" height="9"/>')]), ['BAD_IMAGE'], 'bytes before the markup: no known format');

  // ---- EXIF with absurd values ----
  const jpeg = await pattern(seed + 9, 'jpeg');
  add('exif-orientation-99.jpg', jpegWithExif(jpeg, tiffBlock([{ tag: 0x0112, type: 3, count: 1, value: 99 }])), ['ok'], 'orientation 99 (valid: 1..8): reported, never applied (PIL does not apply it)');
  add('exif-orientation-0.jpg', jpegWithExif(jpeg, tiffBlock([{ tag: 0x0112, type: 3, count: 1, value: 0 }])), ['ok'], 'orientation 0');
  add('exif-ifd-count-65535.jpg', jpegWithExif(jpeg, tiffBlock([{ tag: 0x0112, type: 3, count: 1, value: 6 }], { declaredCount: 65535 })), ['ok', 'BAD_IMAGE'], 'an IFD claiming 65535 entries in 18 bytes');
  add('exif-entry-count-4g.jpg', jpegWithExif(jpeg, tiffBlock([{ tag: 0x010e, type: 2, count: 0xffffffff, value: 0xfffffff0 }, { tag: 0x0112, type: 4, count: 0x3fffffff, value: 0x10 }])), ['ok', 'BAD_IMAGE'], 'entries claiming 4 G values at offsets past the end');
  add('exif-ifd-loop.jpg', jpegWithExif(jpeg, tiffBlock([{ tag: 0x8769, type: 4, count: 1, value: 8 }, { tag: 0x0112, type: 3, count: 1, value: 3 }], { nextIfd: 8 })), ['ok', 'BAD_IMAGE'], 'IFD0 whose next-IFD and Exif-IFD pointers point at itself');
  const pngBase = pngChunks(await pattern(seed + 11, 'png', 48, 32));
  const withChunk = (extra: Array<[string, Uint8Array]>) => pngFromChunks([pngBase[0], ...extra, ...pngBase.slice(1)]);
  add('exif-png-exif-chunk-orientation-99.png', withChunk([['eXIf', tiffBlock([{ tag: 0x0112, type: 3, count: 1, value: 99 }], { declaredCount: 1 })]]), ['ok'], 'PNG eXIf chunk with orientation 99');

  // ---- PNG chunks that inflate, and broken structure ----
  const ztxt = Buffer.concat([Buffer.from('Comment\0\0', 'latin1'), deflateSync(Buffer.alloc(100 * 1024 * 1024, 0x41), { level: 9 })]);
  add('chunk-png-ztxt-bomb.png', withChunk([['zTXt', ztxt]]), ['ok', 'BAD_IMAGE'], 'a zTXt comment that inflates to 100 MB (about 100 KB): text is never inflated in full, or refused');
  const iccp = Buffer.concat([Buffer.from('bomb\0\0', 'latin1'), deflateSync(Buffer.alloc(100 * 1024 * 1024, 0), { level: 9 })]);
  add('chunk-png-iccp-bomb.png', withChunk([['iCCP', iccp]]), ['ok', 'BAD_IMAGE'], 'an ICC profile that inflates to 100 MB: ignored (ICC is not applied), or refused');
  const badCrc = pngFromChunks(pngBase);
  badCrc[badCrc.length - 20] ^= 0xff; // inside IDAT, whose CRC now fails
  add('chunk-png-bad-idat-crc.png', badCrc, ['BAD_IMAGE'], 'IDAT damaged, its CRC fails');
  add('chunk-png-after-iend.png', Buffer.concat([pngFromChunks(pngBase), Buffer.alloc(50_000, 0x55)]), ['ok'], '50 KB of trailing garbage after IEND: ignored, as PIL does');
  add('chunk-png-no-idat.png', pngFromChunks(pngBase.filter(([t]) => t !== 'IDAT')), ['BAD_IMAGE'], 'no image data at all');
  add('chunk-png-1000-idat.png', pngFromChunks([pngBase[0], ...splitIdat(pngBase), ['IEND', Buffer.alloc(0)]]), ['ok'], 'the image data split into 1-byte IDAT chunks');
  return out;
}

/** A PNG's IDAT data re-split into one-byte chunks. */
function splitIdat(chunks: Array<[string, Buffer]>): Array<[string, Buffer]> {
  const data = Buffer.concat(chunks.filter(([t]) => t === 'IDAT').map(([, d]) => d));
  return Array.from(data, (b) => ['IDAT', Buffer.from([b])] as [string, Buffer]);
}

/** A VP8X (extended) WebP declaring a canvas of w × h around the 'VP8 ' chunk of `webp`. */
function webpVp8x(w: number, h: number, webp: Buffer): Buffer {
  const vp8 = webp.subarray(12);
  const x = Buffer.alloc(18);
  x.write('VP8X', 0, 'latin1');
  x.writeUInt32LE(10, 4);
  x[8] = 0; // no flags
  x.writeUIntLE(w - 1, 12, 3);
  x.writeUIntLE(h - 1, 15, 3);
  const body = Buffer.concat([Buffer.from('WEBP', 'latin1'), x, vp8]);
  const head = Buffer.alloc(8);
  head.write('RIFF', 0, 'latin1');
  head.writeUInt32LE(body.length, 4);
  return Buffer.concat([head, body]);
}
