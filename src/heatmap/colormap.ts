/**
 * matplotlib's YlOrRd colormap, reproduced exactly: the nine ColorBrewer "YlOrRd" classes
 * (matplotlib's `_cm.py` `_YlOrRd_data`), evenly spaced on [0, 1], linearly interpolated into a
 * 256-entry lookup table (`LinearSegmentedColormap.from_list(..., N=256)`), and looked up as
 * matplotlib does: `lut[min(floor(t × 256), 255)]`. Channels are written as 8-bit by rounding
 * (matplotlib's `to_hex`).
 *
 * Normalisation follows `matplotlib.colors.Normalize`: t = (v − min) / (max − min), clipped to
 * [0, 1]; when min == max every value maps to 0 (the lightest colour).
 */

/** ColorBrewer YlOrRd, 9 classes, lightest first (the same numbers as matplotlib's _YlOrRd_data). */
export const YLORRD_HEX = ['#ffffcc', '#ffeda0', '#fed976', '#feb24c', '#fd8d3c', '#fc4e2a', '#e31a1c', '#bd0026', '#800026'] as const;

export type Rgb = readonly [number, number, number];

const LUT_SIZE = 256;

function hexToRgb(hex: string): Rgb {
  const n = Number.parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

const ANCHORS: readonly Rgb[] = YLORRD_HEX.map(hexToRgb);

/** The continuous map at x ∈ [0, 1] (channels 0..255, unrounded). */
function interpolate(x: number): [number, number, number] {
  const segments = ANCHORS.length - 1;
  const pos = Math.min(Math.max(x, 0), 1) * segments;
  const k = Math.min(Math.floor(pos), segments - 1);
  const f = pos - k;
  const a = ANCHORS[k];
  const b = ANCHORS[k + 1];
  return [a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f];
}

const LUT: readonly Rgb[] = Array.from({ length: LUT_SIZE }, (_, i) => {
  const [r, g, b] = interpolate(i / (LUT_SIZE - 1));
  return [Math.round(r), Math.round(g), Math.round(b)] as const;
});

/** The YlOrRd colour of a normalised value t (clipped to [0, 1]; NaN counts as 0). */
export function ylOrRd(t: number): Rgb {
  const x = Number.isNaN(t) ? 0 : Math.min(Math.max(t, 0), 1);
  return LUT[Math.min(Math.floor(x * LUT_SIZE), LUT_SIZE - 1)];
}

/** matplotlib's Normalize(vmin, vmax, clip=True). */
export function normalize(v: number, min: number, max: number): number {
  if (!(max > min)) return 0;
  return Math.min(Math.max((v - min) / (max - min), 0), 1);
}

export function rgbHex([r, g, b]: Rgb): string {
  return `#${((1 << 24) | (r << 16) | (g << 8) | b).toString(16).slice(1)}`;
}

/** WCAG relative luminance of an sRGB colour. */
export function luminance([r, g, b]: Rgb): number {
  const lin = (c: number) => {
    const s = c / 255;
    return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}

/** Black or white, whichever has the higher WCAG contrast ratio against `background`. */
export function textColorOn(background: Rgb): '#000000' | '#ffffff' {
  const l = luminance(background);
  const onBlack = (l + 0.05) / 0.05;
  const onWhite = 1.05 / (l + 0.05);
  return onBlack >= onWhite ? '#000000' : '#ffffff';
}

/** The nine anchors as SVG gradient stops (offset, colour), for the colour bar. */
export function gradientStops(): { offset: number; color: string }[] {
  return YLORRD_HEX.map((color, i) => ({ offset: i / (YLORRD_HEX.length - 1), color }));
}
