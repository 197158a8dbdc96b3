import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { makeThumbnail, renderHeatmap, renderHeatmapPng } from '../../src/heatmap';
import { hexRgb, parseHeatmapSvg } from './svg-parse';

async function solid(w: number, h: number, rgb: [number, number, number], alpha?: number): Promise<Buffer> {
  const channels = alpha === undefined ? 3 : 4;
  return sharp({ create: { width: w, height: h, channels, background: alpha === undefined ? { r: rgb[0], g: rgb[1], b: rgb[2] } : { r: rgb[0], g: rgb[1], b: rgb[2], alpha } } })
    .png()
    .toBuffer();
}

describe('makeThumbnail', () => {
  it('fits the image in 96 px: JPEG for opaque images, PNG when there is alpha', async () => {
    const opaque = await makeThumbnail(await solid(640, 320, [10, 120, 200]));
    assert.equal(opaque.mime, 'image/jpeg');
    const m1 = await sharp(opaque.data).metadata();
    assert.deepEqual([m1.format, m1.width, m1.height], ['jpeg', 96, 48]);
    const transparent = await makeThumbnail(await solid(100, 300, [0, 0, 0], 0.5));
    assert.equal(transparent.mime, 'image/png');
    const m2 = await sharp(transparent.data).metadata();
    assert.deepEqual([m2.format, m2.width, m2.height, m2.hasAlpha], ['png', 32, 96, true]);
  });

  it('does not enlarge small images, and honours the pixel limit', async () => {
    const small = await makeThumbnail(await solid(20, 10, [1, 2, 3]));
    const m = await sharp(small.data).metadata();
    assert.deepEqual([m.width, m.height], [20, 10]);
    await assert.rejects(makeThumbnail(await solid(200, 200, [1, 2, 3]), { maxPixels: 100 * 100 }), /pixel limit/i);
  });
});

describe('renderHeatmapPng', () => {
  const scores = [
    [0.1, 0.2, 0.3],
    [0.3, 0.25, 0.15],
  ];

  async function figure(width: number) {
    const thumbs = await Promise.all([[200, 30, 30], [30, 200, 30], [30, 30, 200]].map((c) => solid(120, 80, c as [number, number, number]).then((b) => makeThumbnail(b))));
    const { svg } = renderHeatmap({
      scores,
      captions: ['a red square', 'a green square'],
      images: thumbs.map((t, j) => ({ thumbnail: t.data, mime: t.mime, label: `image-${j}` })),
      title: 'Cosine similarity — test model on onnx (cpu)',
      width,
    });
    const png = await renderHeatmapPng(svg, width);
    return { svg, png };
  }

  it('decodes, has the requested width, and the cells have their colours', async () => {
    const { svg, png } = await figure(640);
    const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    assert.equal(info.width, 640);
    const p = parseHeatmapSvg(svg);
    assert.equal(info.height, p.height);
    const scale = info.width / p.viewBox[2];
    assert.equal(p.cells.length, 6);
    for (const c of p.cells) {
      // Centre column, a quarter down: clear of the printed value and of the best-match outline.
      const x = Math.round((c.rect.x + c.rect.width / 2) * scale);
      const y = Math.round((c.rect.y + c.rect.height / 4) * scale);
      const i = (y * info.width + x) * info.channels;
      const got = [data[i], data[i + 1], data[i + 2]];
      const want = hexRgb(c.fill);
      for (let k = 0; k < 3; k++) assert.ok(Math.abs(got[k] - want[k]) <= 3, `cell ${c.row},${c.col} at (${x}, ${y}): ${got} vs ${want} (${c.fill})`);
    }
  });

  it('draws the text (a sans-serif font is installed): value pixels in the text colour', async () => {
    const { svg, png } = await figure(960);
    const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const p = parseHeatmapSvg(svg);
    const scale = info.width / p.viewBox[2];
    for (const c of p.cells) {
      const bg = hexRgb(c.fill);
      const fg = hexRgb(c.textFill);
      // The printed value sits in the middle third of the cell; some of its pixels must be far from the fill.
      let inked = 0;
      for (let y = Math.round((c.rect.y + c.rect.height / 3) * scale); y < Math.round((c.rect.y + (2 * c.rect.height) / 3) * scale); y++) {
        for (let x = Math.round((c.rect.x + c.rect.width / 6) * scale); x < Math.round((c.rect.x + (5 * c.rect.width) / 6) * scale); x++) {
          const i = (y * info.width + x) * 3;
          const dFg = Math.abs(data[i] - fg[0]) + Math.abs(data[i + 1] - fg[1]) + Math.abs(data[i + 2] - fg[2]);
          const dBg = Math.abs(data[i] - bg[0]) + Math.abs(data[i + 1] - bg[1]) + Math.abs(data[i + 2] - bg[2]);
          if (dFg < dBg) inked++;
        }
      }
      assert.ok(inked > 40, `cell ${c.row},${c.col}: only ${inked} pixels of text; is a sans-serif font installed (Debian: fonts-dejavu-core)?`);
    }
  });

  it('finds a real sans-serif font (not missing-glyph boxes, which are all the same width)', async () => {
    const inkWidth = async (text: string) => {
      const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="400" height="40"><rect width="400" height="40" fill="#fff"/><text x="4" y="28" font-family="sans-serif" font-size="20" fill="#000">${text}</text></svg>`;
      const { data, info } = await sharp(Buffer.from(svg)).removeAlpha().greyscale().raw().toBuffer({ resolveWithObject: true });
      let min = info.width;
      let max = -1;
      for (let i = 0; i < data.length; i++) if (data[i] < 128) (min = Math.min(min, i % info.width)), (max = Math.max(max, i % info.width));
      return max - min + 1;
    };
    const narrow = await inkWidth('iiiiiiiiii');
    const wide = await inkWidth('WWWWWWWWWW');
    assert.ok(narrow > 0, 'no text drawn at all: install a font (Debian: fonts-dejavu-core)');
    assert.ok(wide > 2 * narrow, `"W" × 10 is ${wide} px wide and "i" × 10 ${narrow} px: the glyphs are placeholder boxes, no sans-serif font was found (Debian: fonts-dejavu-core)`);
  });

  it('clamps the width to 200..4096 px', async () => {
    const { png } = await figure(64);
    assert.equal((await sharp(png).metadata()).width, 200);
  });
});
