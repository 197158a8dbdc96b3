/**
 * Python's string semantics, pinned to the reference's Unicode data rather than the JS engine's.
 *
 * The reference tokenizer runs on Python 3.11 (unicodedata 14.0) and the `regex` module (its own
 * Unicode 15 tables); Node 20.20's ICU knows Unicode 17. Left alone, JS would class the ~9,600
 * letters added since as letters (Python: punctuation), lowercase the 55 new case pairs, and
 * compose the new Unicode 16 canonical pairs. So the character classes come from tables generated
 * from the reference (unicode-tables.ts), and `pyLower` / `pyNfc` leave alone the code points that
 * Python's unicodedata does not know, which is exactly what Python does with them. For every
 * character Python does know, the engine's mappings equal Python's (Unicode's stability policy;
 * test/tokenizer/unicode.test.ts checks every code point).
 */
import { PY_ISSPACE, PY_UNASSIGNED } from './unicode-tables';

/** Parses 'start-end' hex ranges ("41-5a b5") into pairs. */
export function parseRanges(ranges: string): [number, number][] {
  return ranges.split(' ').map((r) => {
    const [a, b = a] = r.split('-');
    return [parseInt(a, 16), parseInt(b, 16)];
  });
}

/** The body of a `u`-flag character class matching the ranges ("\u{41}-\u{5a}..."). */
export function classOf(ranges: string): string {
  return parseRanges(ranges)
    .map(([a, b]) => (a === b ? `\\u{${a.toString(16)}}` : `\\u{${a.toString(16)}}-\\u{${b.toString(16)}}`))
    .join('');
}

/** str.isspace() code points; all are in the BMP, so one UTF-16 unit each. */
const IS_SPACE = new Set(parseRanges(PY_ISSPACE).flatMap(([a, b]) => Array.from({ length: b - a + 1 }, (_, i) => a + i)));
const UNASSIGNED_RE = new RegExp(`[${classOf(PY_UNASSIGNED)}]`, 'u');
const UNASSIGNED_SPLIT_RE = new RegExp(`([${classOf(PY_UNASSIGNED)}])`, 'u');
const ASCII_RE = /^[\x00-\x7f]*$/;

/** Python's str.strip(): removes str.isspace() characters (which include U+001C..U+001F, U+0085, not U+FEFF). */
export function pyStrip(s: string): string {
  // A loop, not /^\s+|\s+$/: that regex is quadratic on long inner runs of spaces.
  let start = 0;
  let end = s.length;
  while (start < end && IS_SPACE.has(s.charCodeAt(start))) start++;
  while (end > start && IS_SPACE.has(s.charCodeAt(end - 1))) end--;
  return start === 0 && end === s.length ? s : s.slice(start, end);
}

/**
 * Applies `f` to the runs between code points Python's unicodedata does not know, keeping those
 * code points as they are. Python treats them as starters without mappings or case, so they
 * block composition, reordering and the final-sigma context exactly like a string boundary.
 */
function outsideUnassigned(s: string, f: (run: string) => string): string {
  if (ASCII_RE.test(s) || !UNASSIGNED_RE.test(s)) return f(s);
  // split() with a capturing group alternates runs (even) and unassigned code points (odd).
  return s.split(UNASSIGNED_SPLIT_RE).map((part, i) => (i % 2 === 0 ? f(part) : part)).join('');
}

/** Python's str.lower(): full lowercasing (İ -> i̇, final sigma), Python's Unicode version. */
export function pyLower(s: string): string {
  return outsideUnassigned(s, (run) => run.toLowerCase());
}

/** unicodedata.normalize('NFC', s) with Python's Unicode version. */
export function pyNfc(s: string): string {
  if (ASCII_RE.test(s)) return s;
  return outsideUnassigned(s, (run) => run.normalize('NFC'));
}
