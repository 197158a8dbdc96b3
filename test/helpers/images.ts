/** Small synthetic images made with sharp at test time (no binary fixtures committed). */
import sharp from 'sharp';

/** A w×h RGB image with a deterministic pattern that depends on `seed` (distinct embeddings). */
export async function patternImage(seed: number, format: 'png' | 'jpeg' | 'webp' | 'gif' | 'tiff' = 'png', w = 64, h = 48): Promise<Buffer> {
  const raw = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      raw[i] = (x * (seed + 3) + y * 7) & 255;
      raw[i + 1] = (y * (seed + 5) + x * seed) & 255;
      raw[i + 2] = ((x ^ y) * (seed + 1)) & 255;
    }
  }
  return sharp(raw, { raw: { width: w, height: h, channels: 3 } })[format]().toBuffer();
}

/** A PNG whose IHDR declares width × height (CRC fixed) but holds almost no data: a bomb header. */
export async function pngDeclaring(width: number, height: number): Promise<Buffer> {
  const png = Buffer.from(await patternImage(1, 'png', 8, 8));
  png.writeUInt32BE(width, 16);
  png.writeUInt32BE(height, 20);
  png.writeUInt32BE(crc32(png.subarray(12, 29)), 29);
  return png;
}

function crc32(buf: Uint8Array): number {
  let c = ~0;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return ~c >>> 0;
}
