/** Text helpers for the SVG: XML escaping, truncation, Python-compatible number formatting, ticks. */

/**
 * Characters XML 1.0 forbids (C0 controls except tab/newline/CR, lone surrogates, U+FFFE/U+FFFF)
 * would make the whole document unparsable; they become U+FFFD. Bidi overrides and isolates
 * (U+202A–U+202E, U+2066–U+2069) are dropped so a caption cannot reorder the text around it.
 */
const XML_INVALID = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const BIDI_CONTROLS = /[\u202A-\u202E\u2066-\u2069]/g;

/** Text safe to place in SVG text content or a double- or single-quoted attribute. */
export function escapeXml(text: string): string {
  return text
    .replace(XML_INVALID, '\uFFFD')
    .replace(BIDI_CONTROLS, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** Collapses whitespace (newlines, tabs) to single spaces, as one line of a label. */
export function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** At most `max` code points (surrogate pairs kept whole), with "…" when cut. */
export function truncate(text: string, max: number): string {
  const cps = Array.from(text);
  if (cps.length <= max) return text;
  return `${cps.slice(0, Math.max(max - 1, 0)).join('')}…`;
}

/**
 * Python's `f"{x:.2f}"`: the decimal nearest to the exact binary value, ties to even. JS's
 * toFixed breaks ties upwards instead; a tie at 2 decimals needs x × 200 to be an odd integer
 * that is exactly representable, which for binary floats means x is an odd multiple of 1/8
 * (0.125, 0.375, 0.625, 0.875, ...).
 */
export function formatFixed2(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const eighths = x * 8;
  if (Number.isInteger(eighths) && eighths % 2 !== 0 && Math.abs(x) < 2 ** 50) {
    const hundredths = x * 100; // exact: k + 0.5 with k = floor
    const lower = Math.floor(hundredths);
    const even = lower % 2 === 0 ? lower : lower + 1;
    const s = (Math.abs(even) / 100).toFixed(2);
    return even < 0 || (even === 0 && x < 0) ? `-${s}` : s;
  }
  return x.toFixed(2);
}

/**
 * "Nice" tick values inside [min, max]: steps of 1, 2, 2.5 or 5 × 10^k, the step whose tick count
 * is closest to `target` (on a tie, 1, 2 and 5 before 2.5).
 */
export function niceTicks(min: number, max: number, target = 5): { values: number[]; decimals: number } {
  if (!(max > min)) return { values: [min], decimals: decimalsFor(Math.abs(min) > 0 ? Math.abs(min) / 10 : 1) };
  const mag = 10 ** Math.floor(Math.log10((max - min) / target));
  let best: { values: number[]; step: number } | undefined;
  for (const step of [1, 2, 5, 0.5, 10, 20, 2.5].map((m) => m * mag)) {
    const first = Math.ceil(min / step - 1e-9);
    const last = Math.floor(max / step + 1e-9);
    const values: number[] = [];
    for (let k = first; k <= last; k++) values.push(Number((k * step).toPrecision(12)));
    if (!best || Math.abs(values.length - target) < Math.abs(best.values.length - target)) best = { values, step };
  }
  return { values: best!.values, decimals: decimalsFor(best!.step) };
}

function decimalsFor(step: number): number {
  for (let d = 0; d <= 12; d++) if (Math.abs(Math.round(step * 10 ** d) - step * 10 ** d) < 1e-9 * 10 ** d) return d;
  return 12;
}
