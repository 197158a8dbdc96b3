/**
 * The walkthrough's figure as SVG, generated in code: image thumbnails above the columns, captions
 * as row labels, cells coloured with YlOrRd and labelled with their value (2 decimals, like the
 * notebook's `f"{similarity[y, x]:.2f}"`), the best caption of every image outlined, a colour bar
 * with ticks, and a title.
 *
 * Contract:
 * - Deterministic: the same input gives the same bytes (no dates, no random ids).
 * - Self-contained: no external references; thumbnails are embedded as data: URIs of PNG, JPEG,
 *   WebP or GIF bytes the caller made (makeThumbnail), every other string is XML-escaped.
 * - Bounded: at most MAX_HEATMAP_CELLS_PER_SIDE rows and columns (TOO_MANY_INPUTS); the output
 *   width is clamped to [MIN_HEATMAP_WIDTH, MAX_HEATMAP_WIDTH] and the figure scaled to it.
 * - Colour scale: by default the matrix's own min..max (CLIP cosine similarities sit in a narrow
 *   band, so a fixed 0..1 scale would be one flat colour); `range` fixes it instead (the notebook
 *   used 0.1..0.3). Values outside the range take the end colours.
 * - Machine-readable for tests and tools: cells are `<g class="cell" data-row data-col
 *   data-value>`, best-match outlines `<rect class="best" data-row data-col>`.
 */
import { createHash } from 'node:crypto';
import { ClipqlError, ErrorCode } from '../errors';
import { gradientStops, normalize, rgbHex, textColorOn, ylOrRd } from './colormap';
import { escapeXml, formatFixed2, niceTicks, oneLine, truncate } from './text';

export const MAX_HEATMAP_CELLS_PER_SIDE = 64;
export const MIN_HEATMAP_WIDTH = 200;
export const MAX_HEATMAP_WIDTH = 4096;

/** MIME types a thumbnail may have (anything else could not be shown by every SVG renderer). */
export const THUMBNAIL_MIMES = ['image/png', 'image/jpeg', 'image/webp', 'image/gif'] as const;

export interface HeatmapImage {
  /** Encoded thumbnail bytes (see makeThumbnail); absent → a grey "no preview" box. */
  readonly thumbnail?: Uint8Array;
  /** One of THUMBNAIL_MIMES (required with thumbnail). */
  readonly mime?: string;
  /** Short text under the thumbnail and in its alt text (e.g. "image-0" or a file name). */
  readonly label?: string;
}

export interface HeatmapInput {
  /** scores[i][j]: caption i (row) against image j (column); finite numbers. */
  readonly scores: readonly (readonly number[])[];
  readonly captions: readonly string[];
  readonly images: readonly HeatmapImage[];
  /** The figure's title (e.g. naming the model and the backend). */
  readonly title: string;
  /** A second line under the title, e.g. a warning that the model has random weights. */
  readonly subtitle?: string;
  /** Output width in pixels; clamped to [MIN_HEATMAP_WIDTH, MAX_HEATMAP_WIDTH]. Default: natural size. */
  readonly width?: number;
  /** Fixed colour-scale range; default the matrix min..max. */
  readonly range?: { readonly min: number; readonly max: number };
}

/** Where everything sits, in the SVG's user units (the viewBox). Exported for tests. */
export const LAYOUT = {
  pad: 16,
  cell: 72,
  thumb: 64,
  titleSize: 18,
  subtitleSize: 12,
  captionSize: 13,
  valueSize: 14,
  labelSize: 11,
  tickSize: 11,
  /** Average glyph advance of a sans-serif face, in em, for sizing the caption column. */
  charEm: 0.58,
  captionMaxChars: 60,
  /** Narrowest drawing area (so that a 1 × 1 figure still has room for its title). */
  minInner: 448,
  barGap: 20,
  barWidth: 16,
  bestColor: '#1d4ed8',
  bestStroke: 4,
} as const;

export interface HeatmapSize {
  readonly width: number;
  readonly height: number;
}

/** Clamps a requested width (px) into the allowed range; undefined → the natural width. */
export function clampWidth(width: number | undefined | null, natural: number): number {
  const w = width === undefined || width === null || !Number.isFinite(width) ? natural : Math.round(width);
  return Math.min(Math.max(w, MIN_HEATMAP_WIDTH), MAX_HEATMAP_WIDTH);
}

export function renderHeatmapSvg(input: HeatmapInput): string {
  return renderHeatmap(input).svg;
}

/** Like renderHeatmapSvg, also returning the output size in pixels. */
export function renderHeatmap(input: HeatmapInput): { svg: string } & HeatmapSize {
  const { scores, captions, images } = checkInput(input);
  const rows = captions.length;
  const cols = images.length;
  const L = LAYOUT;

  // Scale range and best caption (row) for each image (column): the first maximum, like argmax.
  let lo = input.range?.min ?? Infinity;
  let hi = input.range?.max ?? -Infinity;
  if (!input.range) for (const row of scores) for (const v of row) (lo = Math.min(lo, v)), (hi = Math.max(hi, v));
  const best = Array.from({ length: cols }, (_, j) => {
    let b = 0;
    for (let i = 1; i < rows; i++) if (scores[i][j] > scores[b][j]) b = i;
    return b;
  });

  // Geometry.
  const captionText = captions.map((c) => truncate(oneLine(c), L.captionMaxChars));
  const charW = L.captionSize * L.charEm;
  const longest = Math.max(...captionText.map((c) => Array.from(c).length));
  const labelW = Math.ceil(Math.min(Math.max(longest * charW + 16, 80), L.captionMaxChars * charW + 16));
  const ticks = niceTicks(lo, hi);
  const tickLabelW = Math.ceil((Math.max(...ticks.values.map((v) => v.toFixed(ticks.decimals).length)) + 1) * L.tickSize * 0.62) + 8;
  const hasLabels = images.some((im) => im.label !== undefined && im.label !== '');
  const gridLeft = L.pad + labelW;
  const gridW = cols * L.cell;
  const gridH = rows * L.cell;
  const barX = gridLeft + gridW + L.barGap;
  const naturalW = Math.max(barX + L.barWidth + 6 + tickLabelW + L.pad, L.pad * 2 + L.minInner);
  // Title and subtitle wrap to the figure's width (at most 3 lines each, then "…").
  const titleLines = wrap(oneLine(input.title), Math.floor((naturalW - 2 * L.pad) / (L.titleSize * 0.62)), 3);
  const subtitleLines = input.subtitle ? wrap(oneLine(input.subtitle), Math.floor((naturalW - 2 * L.pad) / (L.subtitleSize * L.charEm)), 3) : [];
  const titleLineH = Math.round(L.titleSize * 1.25);
  const subtitleLineH = Math.round(L.subtitleSize * 1.35);
  const titleBottom = L.pad + titleLines.length * titleLineH + (subtitleLines.length ? 4 + subtitleLines.length * subtitleLineH : 0) + 12;
  const thumbTop = titleBottom;
  const gridTop = thumbTop + L.cell + (hasLabels ? L.labelSize + 6 : 0);
  const barH = Math.max(gridH, 120);
  const legendTop = gridTop + Math.max(gridH, barH) + 14;
  const naturalH = legendTop + 14 + L.pad;
  const width = clampWidth(input.width, naturalW);
  const height = Math.max(1, Math.round((width * naturalH) / naturalW));

  const id = `hm-${createHash('sha256').update(JSON.stringify([scores, captions, input.title, input.subtitle ?? '', input.range ?? null])).digest('hex').slice(0, 12)}`;
  const out: string[] = [];
  const push = (s: string) => out.push(s);

  const description = best
    .map((i, j) => `${imageName(images[j], j)}: best caption "${oneLine(captions[i])}" (${formatFixed2(scores[i][j])})`)
    .join('; ');
  push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${naturalW} ${naturalH}" role="img" aria-labelledby="${id}-title ${id}-desc" font-family="sans-serif">`,
  );
  push(`<title id="${id}-title">${escapeXml(oneLine(input.title))}</title>`);
  push(`<desc id="${id}-desc">${escapeXml(`${rows} captions (rows) × ${cols} images (columns), cosine similarity. ${description}.`)}</desc>`);
  push(
    `<defs><linearGradient id="${id}-bar" x1="0" y1="1" x2="0" y2="0">${gradientStops()
      .map((s) => `<stop offset="${num(s.offset)}" stop-color="${s.color}"/>`)
      .join('')}</linearGradient></defs>`,
  );
  push(`<rect width="${naturalW}" height="${naturalH}" fill="#ffffff"/>`);

  // Title and subtitle.
  titleLines.forEach((line, k) => {
    push(`<text class="title" x="${num(naturalW / 2)}" y="${L.pad + L.titleSize + k * titleLineH}" font-size="${L.titleSize}" font-weight="bold" text-anchor="middle" fill="#111111">${escapeXml(line)}</text>`);
  });
  subtitleLines.forEach((line, k) => {
    const y = L.pad + titleLines.length * titleLineH + 4 + L.subtitleSize + k * subtitleLineH;
    push(`<text class="subtitle" x="${num(naturalW / 2)}" y="${y}" font-size="${L.subtitleSize}" text-anchor="middle" fill="#b91c1c">${escapeXml(line)}</text>`);
  });

  // Thumbnails (and labels) above the columns.
  images.forEach((im, j) => {
    const x = gridLeft + j * L.cell + (L.cell - L.thumb) / 2;
    const y = thumbTop + (L.cell - L.thumb) / 2;
    if (im.thumbnail) {
      const b64 = Buffer.from(im.thumbnail.buffer, im.thumbnail.byteOffset, im.thumbnail.byteLength).toString('base64');
      push(
        `<image class="thumb" data-col="${j}" x="${num(x)}" y="${num(y)}" width="${L.thumb}" height="${L.thumb}" preserveAspectRatio="xMidYMid meet" href="data:${im.mime};base64,${b64}"><title>${escapeXml(imageName(im, j))}</title></image>`,
      );
    } else {
      push(
        `<g class="thumb-missing" data-col="${j}"><title>${escapeXml(imageName(im, j))}</title><rect x="${num(x)}" y="${num(y)}" width="${L.thumb}" height="${L.thumb}" fill="#e5e5e5"/>` +
          `<text x="${num(x + L.thumb / 2)}" y="${num(y + L.thumb / 2)}" font-size="${L.labelSize}" text-anchor="middle" dominant-baseline="central" fill="#555555">no preview</text></g>`,
      );
    }
    if (hasLabels && im.label) {
      push(`<text class="image-label" x="${num(gridLeft + j * L.cell + L.cell / 2)}" y="${thumbTop + L.cell + L.labelSize}" font-size="${L.labelSize}" text-anchor="middle" fill="#333333">${escapeXml(truncate(oneLine(im.label), 11))}</text>`);
    }
  });

  // Caption labels at the left of the rows.
  captionText.forEach((c, i) => {
    push(
      `<text class="caption" data-row="${i}" x="${gridLeft - 8}" y="${num(gridTop + i * L.cell + L.cell / 2)}" font-size="${L.captionSize}" text-anchor="end" dominant-baseline="central" fill="#111111">${escapeXml(c)}</text>`,
    );
  });

  // Cells.
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      const v = scores[i][j];
      const fill = ylOrRd(normalize(v, lo, hi));
      const x = gridLeft + j * L.cell;
      const y = gridTop + i * L.cell;
      push(
        `<g class="cell" data-row="${i}" data-col="${j}" data-value="${v}"><rect x="${x}" y="${y}" width="${L.cell}" height="${L.cell}" fill="${rgbHex(fill)}"/>` +
          `<text x="${num(x + L.cell / 2)}" y="${num(y + L.cell / 2)}" font-size="${L.valueSize}" text-anchor="middle" dominant-baseline="central" fill="${textColorOn(fill)}"${best[j] === i ? ' font-weight="bold"' : ''}>${formatFixed2(v)}</text></g>`,
      );
    }
  }

  // Best caption per image: an outline inside the cell (drawn last, so neighbours do not cover it).
  best.forEach((i, j) => {
    const inset = L.bestStroke / 2;
    push(
      `<rect class="best" data-row="${i}" data-col="${j}" x="${num(gridLeft + j * L.cell + inset)}" y="${num(gridTop + i * L.cell + inset)}" width="${L.cell - L.bestStroke}" height="${L.cell - L.bestStroke}" fill="none" stroke="${L.bestColor}" stroke-width="${L.bestStroke}"/>`,
    );
  });

  // Colour bar with ticks (top = high).
  const barTop = gridTop;
  push(`<rect class="colorbar" x="${barX}" y="${barTop}" width="${L.barWidth}" height="${barH}" fill="url(#${id}-bar)" stroke="#333333" stroke-width="0.5"/>`);
  for (const t of ticks.values) {
    const y = barTop + (1 - (hi > lo ? (t - lo) / (hi - lo) : 0.5)) * barH;
    push(
      `<g class="tick" data-value="${t}"><line x1="${barX + L.barWidth}" y1="${num(y)}" x2="${barX + L.barWidth + 4}" y2="${num(y)}" stroke="#333333" stroke-width="1"/>` +
        `<text x="${barX + L.barWidth + 6}" y="${num(y)}" font-size="${L.tickSize}" dominant-baseline="central" fill="#333333">${t.toFixed(ticks.decimals)}</text></g>`,
    );
  }

  // Legend for the outline.
  push(
    `<g class="legend"><rect x="${gridLeft}" y="${legendTop}" width="14" height="14" fill="none" stroke="${L.bestColor}" stroke-width="3"/>` +
      `<text x="${gridLeft + 20}" y="${legendTop + 7}" font-size="${L.labelSize + 1}" dominant-baseline="central" fill="#333333">best caption for each image</text></g>`,
  );
  push('</svg>');
  return { svg: out.join('\n'), width, height };
}

/** Greedy word wrap to `maxChars` per line, at most `maxLines` lines (the last one cut with "…"). */
function wrap(text: string, maxChars: number, maxLines: number): string[] {
  const lines: string[] = [];
  let current = '';
  for (const word of text.split(' ')) {
    let w = word;
    while (Array.from(w).length > maxChars) {
      if (current) lines.push(current), (current = '');
      lines.push(Array.from(w).slice(0, maxChars).join(''));
      w = Array.from(w).slice(maxChars).join('');
    }
    if (!current) current = w;
    else if (Array.from(`${current} ${w}`).length <= maxChars) current = `${current} ${w}`;
    else lines.push(current), (current = w);
  }
  if (current || lines.length === 0) lines.push(current);
  if (lines.length <= maxLines) return lines;
  const kept = lines.slice(0, maxLines);
  kept[maxLines - 1] = truncate(`${kept[maxLines - 1]} ${lines.slice(maxLines).join(' ')}`, maxChars);
  return kept;
}

function imageName(im: HeatmapImage, j: number): string {
  return im.label ? oneLine(im.label) : `image ${j}`;
}

/** Coordinates with at most 2 decimals and no "-0". */
function num(v: number): string {
  const r = Math.round(v * 100) / 100;
  return String(Object.is(r, -0) ? 0 : r);
}

function checkInput(input: HeatmapInput): HeatmapInput {
  const { scores, captions, images } = input;
  const bad = (message: string) => new ClipqlError(ErrorCode.BAD_USER_INPUT, `heatmap: ${message}`);
  if (captions.length === 0 || images.length === 0) throw bad('needs at least one caption and one image');
  if (captions.length > MAX_HEATMAP_CELLS_PER_SIDE || images.length > MAX_HEATMAP_CELLS_PER_SIDE) {
    throw new ClipqlError(
      ErrorCode.TOO_MANY_INPUTS,
      `heatmap: at most ${MAX_HEATMAP_CELLS_PER_SIDE} captions × ${MAX_HEATMAP_CELLS_PER_SIDE} images, got ${captions.length} × ${images.length}`,
      { details: { limit: MAX_HEATMAP_CELLS_PER_SIDE, captions: captions.length, images: images.length } },
    );
  }
  if (scores.length !== captions.length) throw bad(`scores has ${scores.length} rows, expected one per caption (${captions.length})`);
  scores.forEach((row, i) => {
    if (row.length !== images.length) throw bad(`scores[${i}] has ${row.length} values, expected one per image (${images.length})`);
    row.forEach((v, j) => {
      if (typeof v !== 'number' || !Number.isFinite(v)) throw bad(`scores[${i}][${j}] is not a finite number`);
    });
  });
  images.forEach((im, j) => {
    if (im.thumbnail !== undefined && !(THUMBNAIL_MIMES as readonly string[]).includes(im.mime ?? '')) {
      throw bad(`images[${j}].mime must be one of ${THUMBNAIL_MIMES.join(', ')}, got ${JSON.stringify(im.mime)}`);
    }
  });
  if (input.range && !(Number.isFinite(input.range.min) && Number.isFinite(input.range.max) && input.range.max > input.range.min)) {
    throw bad('range needs finite min < max');
  }
  return input;
}
