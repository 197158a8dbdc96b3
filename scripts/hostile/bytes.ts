/**
 * Byte-level tools for crafting hostile images: a seeded PRNG, CRC-32, PNG chunks, a GIF LZW
 * encoder and the EXIF (TIFF) block builder. No dependencies.
 */
/** mulberry32: the corpus and the fuzz inputs depend only on the seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(buf: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** One PNG chunk with a correct CRC. */
export function pngChunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  Buffer.from(data).copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** The chunks of a PNG file: [type, data] in order (the signature is checked, CRCs are not). */
export function pngChunks(png: Uint8Array): Array<[string, Buffer]> {
  const b = Buffer.from(png);
  if (!b.subarray(0, 8).equals(PNG_SIGNATURE)) throw new Error('not a PNG');
  const out: Array<[string, Buffer]> = [];
  for (let at = 8; at + 12 <= b.length; ) {
    const len = b.readUInt32BE(at);
    out.push([b.toString('latin1', at + 4, at + 8), b.subarray(at + 8, at + 8 + len)]);
    at += 12 + len;
  }
  return out;
}

export function pngFromChunks(chunks: Array<[string, Uint8Array]>): Buffer {
  return Buffer.concat([PNG_SIGNATURE, ...chunks.map(([t, d]) => pngChunk(t, d))]);
}

export function ihdr(width: number, height: number, bitDepth = 8, colourType = 2): Buffer {
  const d = Buffer.alloc(13);
  d.writeUInt32BE(width, 0);
  d.writeUInt32BE(height, 4);
  d[8] = bitDepth;
  d[9] = colourType;
  return d; // compression 0, filter 0, interlace 0
}

/**
 * GIF LZW encoding (the variable-length codes GIF uses, with a clear code when the table is
 * full) of colour indices below 2^minCodeSize, split into GIF data sub-blocks.
 */
export function gifLzw(indices: ArrayLike<number> | { readonly length: number; readonly fill: number }, minCodeSize: number): Buffer {
  // { length, fill }: that many copies of one index, without an array of them (bombs).
  const fill = (indices as { fill?: unknown }).fill;
  const at = typeof fill === 'number' ? () => fill : (i: number) => (indices as ArrayLike<number>)[i];
  const clear = 1 << minCodeSize;
  const end = clear + 1;
  const out: number[] = [];
  let bits = 0;
  let nbits = 0;
  let codeSize = minCodeSize + 1;
  const emit = (code: number) => {
    bits |= code << nbits;
    nbits += codeSize;
    while (nbits >= 8) {
      out.push(bits & 0xff);
      bits >>>= 8;
      nbits -= 8;
    }
  };
  let table = new Map<number, number>();
  let next = end + 1;
  emit(clear);
  let prefix = -1;
  for (let i = 0; i < indices.length; i++) {
    const k = at(i);
    if (prefix < 0) {
      prefix = k;
      continue;
    }
    const key = (prefix << 8) | k;
    const found = table.get(key);
    if (found !== undefined) {
      prefix = found;
      continue;
    }
    emit(prefix);
    if (next < 4096) {
      table.set(key, next++);
      if (next > 1 << codeSize && codeSize < 12) codeSize++;
    } else {
      emit(clear);
      table = new Map();
      next = end + 1;
      codeSize = minCodeSize + 1;
    }
    prefix = k;
  }
  if (prefix >= 0) emit(prefix);
  emit(end);
  if (nbits > 0) out.push(bits & 0xff);
  const data = Buffer.from(out);
  const blocks: Buffer[] = [Buffer.from([minCodeSize])];
  for (let at = 0; at < data.length; at += 255) {
    const part = data.subarray(at, at + 255);
    blocks.push(Buffer.from([part.length]), part);
  }
  blocks.push(Buffer.from([0]));
  return Buffer.concat(blocks);
}

/** A GIF89a with a 2-colour palette and one frame of `frame` (w, h, LZW data); `screen` may differ from the frame. */
export function gif(screen: { width: number; height: number }, frames: Array<{ left?: number; top?: number; width: number; height: number; lzw: Buffer }>, loop = false): Buffer {
  const head = Buffer.alloc(13);
  head.write('GIF89a', 0, 'latin1');
  head.writeUInt16LE(screen.width, 6);
  head.writeUInt16LE(screen.height, 8);
  head[10] = 0x80; // global colour table, 2 entries
  const palette = Buffer.from([0, 0, 0, 255, 255, 255]);
  const loopExt = loop ? Buffer.from([0x21, 0xff, 0x0b, ...Buffer.from('NETSCAPE2.0', 'latin1'), 0x03, 0x01, 0x00, 0x00, 0x00]) : Buffer.alloc(0);
  const parts = frames.map((f) => {
    const gce = Buffer.from([0x21, 0xf9, 0x04, 0x00, 10, 0, 0, 0]);
    const desc = Buffer.alloc(10);
    desc[0] = 0x2c;
    desc.writeUInt16LE(f.left ?? 0, 1);
    desc.writeUInt16LE(f.top ?? 0, 3);
    desc.writeUInt16LE(f.width, 5);
    desc.writeUInt16LE(f.height, 7);
    return Buffer.concat([gce, desc, f.lzw]);
  });
  return Buffer.concat([head, palette, loopExt, ...parts, Buffer.from([0x3b])]);
}

/** `count` copies of `value`, for the LZW encoder. */
export const repeat = (value: number, count: number) => ({ length: count, fill: value });

/** An EXIF IFD entry: tag, TIFF type (3 SHORT, 4 LONG, 2 ASCII...), count, and a 4-byte value or offset. */
export interface IfdEntry {
  readonly tag: number;
  readonly type: number;
  readonly count: number;
  readonly value: number;
}

/**
 * A big-endian TIFF block ("MM\0*", IFD0 at offset 8) as EXIF carries it. `declaredCount`
 * overrides the IFD's entry count (to claim more entries than are there); `nextIfd` is the
 * offset of the next IFD (8 makes IFD0 point at itself).
 */
export function tiffBlock(entries: IfdEntry[], o: { declaredCount?: number; nextIfd?: number } = {}): Buffer {
  const b = Buffer.alloc(8 + 2 + entries.length * 12 + 4);
  b.write('MM', 0, 'latin1');
  b.writeUInt16BE(42, 2);
  b.writeUInt32BE(8, 4);
  b.writeUInt16BE(o.declaredCount ?? entries.length, 8);
  entries.forEach((e, i) => {
    const at = 10 + i * 12;
    b.writeUInt16BE(e.tag, at);
    b.writeUInt16BE(e.type, at + 2);
    b.writeUInt32BE(e.count >>> 0, at + 4);
    if (e.type === 3 && e.count === 1) b.writeUInt16BE(e.value, at + 8);
    else b.writeUInt32BE(e.value >>> 0, at + 8);
  });
  b.writeUInt32BE(o.nextIfd ?? 0, 10 + entries.length * 12);
  return b;
}

/** A JPEG with an APP1 Exif segment inserted after SOI. */
export function jpegWithExif(jpeg: Uint8Array, tiff: Buffer): Buffer {
  const payload = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff]);
  const seg = Buffer.alloc(4);
  seg[0] = 0xff;
  seg[1] = 0xe1;
  seg.writeUInt16BE(payload.length + 2, 2);
  return Buffer.concat([Buffer.from(jpeg).subarray(0, 2), seg, payload, Buffer.from(jpeg).subarray(2)]);
}

/** Offset of the first JPEG SOFn marker's frame header (after FFCn and the length), or -1. */
export function jpegSofOffset(jpeg: Uint8Array): number {
  for (let at = 2; at + 4 < jpeg.length; ) {
    if (jpeg[at] !== 0xff) return -1;
    const marker = jpeg[at + 1];
    const len = (jpeg[at + 2] << 8) | jpeg[at + 3];
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) return at + 4;
    at += 2 + len;
  }
  return -1;
}
