/**
 * ImageInput.upright over a real server: a lossless WebP stored sideways (EXIF orientation 6, its
 * pixels turned here by an index loop, not by the code under test) is embedded as its upright
 * twin when `upright: true`, and as stored (PIL's Image.open) by default.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import type { Service } from '../../src/server/service';
import { gql, startTestService } from '../helpers/server';

let service: Service;
before(async () => {
  service = await startTestService({});
});
after(async () => {
  await service?.stop();
});

const W = 120;
const H = 80;
const upright = Buffer.alloc(W * H * 3);
for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) upright.set([(x * 2) & 255, (y * 3) & 255, x < 30 && y < 20 ? 255 : 40], (y * W + x) * 3);
// Orientation 6 shows the stored pixels turned 90° clockwise: stored (H wide, W high) holds
// upright(x = W - 1 - y', y = x') at (x', y').
const stored = Buffer.alloc(W * H * 3);
for (let yp = 0; yp < W; yp++) for (let xp = 0; xp < H; xp++) stored.set(upright.subarray(((xp * W) + (W - 1 - yp)) * 3, ((xp * W) + (W - 1 - yp)) * 3 + 3), (yp * H + xp) * 3);

const cos = (a: number[], b: number[]) => a.reduce((t, x, i) => t + x * b[i], 0) / (Math.hypot(...a) * Math.hypot(...b));

describe('ImageInput.upright', () => {
  test('true: the EXIF orientation is applied; default: the pixels as stored', async () => {
    const twin = (await sharp(upright, { raw: { width: W, height: H, channels: 3 } }).webp({ lossless: true }).toBuffer()).toString('base64');
    const sideways = (await sharp(stored, { raw: { width: H, height: W, channels: 3 } }).webp({ lossless: true }).withMetadata({ orientation: 6 }).toBuffer()).toString('base64');
    const { body: r } = await gql(service.url, 'query($i:[ImageInput!]!){embedImages(images:$i){embedding}}', {
      i: [{ base64: twin }, { base64: sideways, upright: true }, { base64: sideways }],
    });
    assert.equal(r.errors, undefined, JSON.stringify(r.errors));
    const [t, turned, asStored] = (r.data.embedImages as Array<{ embedding: number[] }>).map((e) => e.embedding);
    assert.ok(cos(t, turned) > 0.999999, `upright: cosine ${cos(t, turned)}`);
    assert.ok(cos(t, asStored) < 0.999, `as stored: cosine ${cos(t, asStored)}`);
  });
});
