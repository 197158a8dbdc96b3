/**
 * (c) Bad input: each case gets its public error code, quickly, from decodeImage, inspectImage
 * and both preprocessImage modes. Bombs and refused formats must fail before any decoding.
 */
import assert from 'node:assert/strict';
import { deflateSync } from 'node:zlib';
import { before, describe, test } from 'node:test';
import sharp from 'sharp';
import { ErrorCode, isClipqlError } from '../../src/errors';
import { clipTransformConfig, decodeImage, inspectImage, preprocessImage, type DecodeLimits } from '../../src/preprocess/image';

const cfg = clipTransformConfig(224);

/** A w×h RGB test card, deterministic. */
function card(w: number, h: number): Buffer {
  const raw = Buffer.alloc(w * h * 3);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * 2654435761) >>> 24;
  return raw;
}

function crc32(buf: Uint8Array): number {
  let c = ~0;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return ~c >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** A valid-looking PNG whose header declares w×h but holds one row of data: a decompression bomb. */
function bombPng(w: number, h: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.alloc(1 + w * 3))), chunk('IEND', new Uint8Array(0))]);
}

/** A GIF whose logical screen declares w×h around a 1×1 frame. */
function bombGif(w: number, h: number): Buffer {
  const b = Buffer.from('GIF89a\0\0\0\0\x80\0\0' + '\0\0\0\xff\xff\xff' + ',\0\0\0\0\x01\0\x01\0\0' + '\x02\x02\x44\x01\0;', 'latin1');
  b.writeUInt16LE(w, 6);
  b.writeUInt16LE(h, 8);
  return b;
}

interface BadCase {
  readonly name: string;
  readonly bytes: Uint8Array;
  readonly code: string;
  readonly limits?: Partial<DecodeLimits>;
  /** Refused from the header alone (inspectImage fails too). */
  readonly byHeader: boolean;
}

describe('bad images', () => {
  const cases: BadCase[] = [];

  before(async () => {
    const raw = card(400, 300);
    const input = { raw: { width: 400, height: 300, channels: 3 as const } };
    const png = await sharp(raw, input).png().toBuffer();
    const jpeg = await sharp(raw, input).jpeg().toBuffer();
    const webp = await sharp(raw, input).webp().toBuffer();
    const gif = await sharp(raw, input).gif().toBuffer();
    let seed = 7;
    const random = Uint8Array.from({ length: 4096 }, () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24);
    const half = (b: Buffer) => b.subarray(0, b.length >> 1);
    cases.push(
      { name: 'zero bytes', bytes: new Uint8Array(0), code: ErrorCode.BAD_IMAGE, byHeader: true },
      { name: 'random bytes', bytes: random, code: ErrorCode.BAD_IMAGE, byHeader: true },
      { name: 'text', bytes: Buffer.from('hello, world'), code: ErrorCode.BAD_IMAGE, byHeader: true },
      { name: 'JPEG magic then garbage', bytes: Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), random]), code: ErrorCode.BAD_IMAGE, byHeader: false },
      { name: 'truncated PNG', bytes: half(png), code: ErrorCode.BAD_IMAGE, byHeader: false },
      { name: 'PNG without its last 20 bytes', bytes: png.subarray(0, png.length - 20), code: ErrorCode.BAD_IMAGE, byHeader: false },
      { name: 'truncated JPEG', bytes: half(jpeg), code: ErrorCode.BAD_IMAGE, byHeader: false },
      { name: 'truncated WebP', bytes: half(webp), code: ErrorCode.BAD_IMAGE, byHeader: true },
      { name: 'truncated GIF', bytes: half(gif), code: ErrorCode.BAD_IMAGE, byHeader: true },
      {
        name: 'SVG with an external href',
        bytes: Buffer.from('<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="64" height="64"><image xlink:href="http://169.254.169.254/latest/meta-data" width="64" height="64"/></svg>'),
        code: ErrorCode.UNSUPPORTED_FORMAT,
        byHeader: true,
      },
      { name: 'bare SVG with a BOM and white space', bytes: Buffer.from('\ufeff\n  <svg width="10" height="10"/>'), code: ErrorCode.UNSUPPORTED_FORMAT, byHeader: true },
      { name: 'PDF', bytes: Buffer.from('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n', 'latin1'), code: ErrorCode.UNSUPPORTED_FORMAT, byHeader: true },
      { name: 'BMP', bytes: Buffer.concat([Buffer.from('BM'), Buffer.alloc(62, 1)]), code: ErrorCode.UNSUPPORTED_FORMAT, byHeader: true },
      { name: 'PNG declaring 30000x30000 (bomb)', bytes: bombPng(30000, 30000), code: ErrorCode.IMAGE_TOO_LARGE, byHeader: true },
      { name: 'GIF screen of 65535x65535 (bomb)', bytes: bombGif(65535, 65535), code: ErrorCode.IMAGE_TOO_LARGE, byHeader: true },
      { name: 'more bytes than allowed', bytes: png, code: ErrorCode.IMAGE_TOO_LARGE, limits: { maxBytes: 1000 }, byHeader: true },
      { name: 'more pixels than allowed', bytes: png, code: ErrorCode.IMAGE_TOO_LARGE, limits: { maxPixels: 400 * 300 - 1 }, byHeader: true },
    );
  });

  test('decodeImage: the right ClipqlError code, quickly, with a message that says why', async () => {
    for (const c of cases) {
      const t0 = performance.now();
      await assert.rejects(decodeImage(c.bytes, c.limits), (e: unknown) => {
        assert.ok(isClipqlError(e), `${c.name}: a ClipqlError, got ${String(e)}`);
        assert.equal(e.code, c.code, `${c.name}: ${e.message}`);
        assert.ok(e.message.length > 20, `${c.name}: a message that states the rule (${e.message})`);
        return true;
      });
      const ms = performance.now() - t0;
      assert.ok(ms < 1000, `${c.name} took ${ms.toFixed(0)} ms`);
    }
  });

  test('inspectImage refuses what the header shows, without decoding', async () => {
    for (const c of cases.filter((x) => x.byHeader)) {
      await assert.rejects(inspectImage(c.bytes, c.limits), (e: unknown) => isClipqlError(e) && e.code === c.code, c.name);
    }
  });

  test('preprocessImage, exact and fast, report the same codes', async () => {
    for (const c of cases) {
      for (const mode of ['exact', 'fast'] as const) {
        await assert.rejects(preprocessImage(c.bytes, cfg, { mode, limits: c.limits }), (e: unknown) => isClipqlError(e) && e.code === c.code, `${c.name} (${mode})`);
      }
    }
  });

  test('messages name the limit and what was received', async () => {
    const png = await sharp(card(40, 30), { raw: { width: 40, height: 30, channels: 3 } }).png().toBuffer();
    await assert.rejects(decodeImage(png, { maxBytes: 100 }), /is \d+ bytes; at most 100 bytes are allowed/);
    await assert.rejects(decodeImage(bombPng(30000, 30000)), /declares 30000x30000 = 900000000 pixels; at most 40000000 are allowed/);
    await assert.rejects(decodeImage(Buffer.from('<svg/>')), /SVG images are not accepted; send JPEG, PNG, GIF, WebP, TIFF, AVIF or HEIC/);
  });

  test('a strip whose resized long side would be astronomically long is refused (IMAGE_TOO_LARGE)', async () => {
    const strip = await sharp(card(40000, 1), { raw: { width: 40000, height: 1, channels: 3 } }).png().toBuffer();
    const t0 = performance.now();
    for (const mode of ['exact', 'fast'] as const) {
      await assert.rejects(preprocessImage(strip, cfg, { mode }), (e: unknown) => isClipqlError(e) && e.code === ErrorCode.IMAGE_TOO_LARGE && /too elongated/.test(e.message));
    }
    assert.ok(performance.now() - t0 < 1000);
  });

  test('limits given as undefined keep their defaults; nonsense limits are a programming error', async () => {
    await assert.rejects(decodeImage(bombPng(30000, 30000), { maxBytes: undefined, maxPixels: undefined }), (e: unknown) => isClipqlError(e) && e.code === ErrorCode.IMAGE_TOO_LARGE);
    await assert.rejects(decodeImage(bombPng(10, 10), { maxPixels: 0 }), RangeError);
  });

  test('the default limits are 20 MB and 40 megapixels', async () => {
    await assert.rejects(decodeImage(bombPng(8000, 5001)), (e: unknown) => isClipqlError(e) && e.code === ErrorCode.IMAGE_TOO_LARGE);
    const ok = await inspectImage(bombPng(8000, 5000));
    assert.deepEqual([ok.width, ok.height], [8000, 5000]);
  });
});
