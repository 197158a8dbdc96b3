/**
 * Python's html.unescape (CPython 3.11 Lib/html/__init__.py), which CLIP's basic_clean applies
 * twice. It is not the HTML5 tokenizer that npm's decoders follow: numeric references to control
 * characters decode to nothing instead of themselves (&#1; -> '', &#x7f; -> ''), &#0; and
 * surrogates and > U+10FFFF become U+FFFD, &#128;..&#159; take the Windows-1252 meaning, and a
 * name without ';' decodes through the longest prefix that is a legacy entity ("&notit;" ->
 * "¬it;", "&ampx" -> "&x") wherever it appears. The tables are Python's (html-entities.ts).
 */
import { HTML5, INVALID_CHARREFS, INVALID_CODEPOINTS } from './html-entities';
import { parseRanges } from './unicode';

/** Own-property lookups only: "&constructor" must not find Object.prototype.constructor. */
export const HTML5_ENTITIES: ReadonlyMap<string, string> = new Map(Object.entries(HTML5));
const INVALID_REFS: ReadonlyMap<number, string> = new Map(Object.entries(INVALID_CHARREFS).map(([k, v]) => [Number(k), v]));
const INVALID_POINTS = parseRanges(INVALID_CODEPOINTS);

// Python: r'&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)'; the `u` flag counts the
// 32 in code points, as Python does.
const CHARREF_RE = /&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)/gu;

function replaceCharref(s: string): string {
  if (s[0] === '#') {
    const hex = s[1] === 'x' || s[1] === 'X';
    const digits = s.slice(hex ? 2 : 1).replace(/;$/, '');
    // Huge values lose precision as numbers but stay above 0x10FFFF, which is all that matters.
    const num = hex ? parseInt(digits, 16) : Number(digits);
    const fixed = INVALID_REFS.get(num);
    if (fixed !== undefined) return fixed;
    if ((num >= 0xd800 && num <= 0xdfff) || num > 0x10ffff) return '\ufffd';
    if (INVALID_POINTS.some(([a, b]) => num >= a && num <= b)) return '';
    return String.fromCodePoint(num);
  }
  const whole = HTML5_ENTITIES.get(s);
  if (whole !== undefined) return whole;
  // The longest prefix (at least 2 long) that is an entity; only the legacy names without ';'
  // can match a proper prefix. Entity names are ASCII, so UTF-16 indices find what Python finds.
  for (let x = s.length - 1; x > 1; x--) {
    const prefix = HTML5_ENTITIES.get(s.slice(0, x));
    if (prefix !== undefined) return prefix + s.slice(x);
  }
  return '&' + s;
}

/** html.unescape(s) exactly as Python computes it. */
export function htmlUnescape(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(CHARREF_RE, (_m, ref: string) => replaceCharref(ref));
}
