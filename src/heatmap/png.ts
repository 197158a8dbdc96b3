/**
 * Rasterises a heatmap SVG with sharp (libvips' librsvg loader: no browser, no canvas). Text is
 * drawn with the system's fontconfig "sans-serif" (DejaVu Sans on Debian: package
 * fonts-dejavu-core); without any font, librsvg draws no glyphs at all.
 */
import sharp from 'sharp';
import { ClipqlError, ErrorCode } from '../errors';
import { MAX_HEATMAP_WIDTH, MIN_HEATMAP_WIDTH } from './svg';

/** Renders `svg` to a PNG exactly `width` pixels wide (clamped to the heatmap's width range). */
export async function renderHeatmapPng(svg: string, width: number): Promise<Buffer> {
  const target = Math.min(Math.max(Math.round(width), MIN_HEATMAP_WIDTH), MAX_HEATMAP_WIDTH);
  const declared = /^<svg\b[^>]*\swidth="(\d+(?:\.\d+)?)"/.exec(svg);
  if (!declared) throw new ClipqlError(ErrorCode.BAD_USER_INPUT, 'heatmap: the SVG has no width attribute in pixels');
  // sharp renders an SVG at 72 dpi by default; scale the density so the result has the target width.
  const density = (72 * target) / Number(declared[1]);
  const png = sharp(Buffer.from(svg, 'utf8'), { density, limitInputPixels: MAX_HEATMAP_WIDTH * MAX_HEATMAP_WIDTH * 2 });
  const out = await png.png({ compressionLevel: 9 }).toBuffer({ resolveWithObject: true });
  if (out.info.width === target) return out.data;
  // Rounding of the density can leave the result a pixel off; fix the size exactly.
  return sharp(out.data).resize({ width: target }).png({ compressionLevel: 9 }).toBuffer();
}
