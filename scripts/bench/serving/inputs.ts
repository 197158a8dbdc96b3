/**
 * Distinct request images: each notebook image with a few pixels changed, re-encoded in its own
 * format (PNG stays PNG in its own channel count, JPEG stays JPEG), so that no request is answered
 * by the embedding cache or merged with another in flight. Made once into a folder and reused.
 */
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { notebookImages } from '../common';

export async function makeVariants(dir: string, perImage: number): Promise<string> {
  const done = path.join(dir, '.complete');
  if (fs.existsSync(done) && fs.readFileSync(done, 'utf8') === String(perImage)) return dir;
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  for (const im of notebookImages()) {
    const { data, info } = await sharp(im.bytes, { ignoreIcc: true }).raw().toBuffer({ resolveWithObject: true });
    const [stem, ext] = [path.parse(im.name).name, path.parse(im.name).ext.toLowerCase()];
    const pixels = info.width * info.height;
    for (let k = 0; k < perImage; k++) {
      const px = Buffer.from(data);
      for (let j = 0; j < 4; j++) {
        const p = (k * 7919 + j * 104729 + 1) % pixels;
        px[p * info.channels] = (px[p * info.channels] + 1 + k + j) & 255;
      }
      const img = sharp(px, { raw: { width: info.width, height: info.height, channels: info.channels } });
      const out = ext === '.jpg' || ext === '.jpeg' ? await img.jpeg({ quality: 95 }).toBuffer() : await img.png().toBuffer();
      fs.writeFileSync(path.join(dir, `${stem}-${String(k).padStart(3, '0')}${ext}`), out);
    }
  }
  fs.writeFileSync(done, String(perImage));
  return dir;
}
