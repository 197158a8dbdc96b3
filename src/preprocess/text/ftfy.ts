/**
 * The part of ftfy.fix_text (ftfy 6.3, default TextFixerConfig) that CLIP's basic_clean relies on
 * and that is a deterministic function of the text. Reproduced exactly, in ftfy's order:
 *
 *   fix_text: segments end after each '\n' (and every 1,000,000 code points); once a segment
 *   holds '<', HTML unescaping stays off for it and every later segment (unescape_html="auto").
 *   Each segment loops until nothing changes, through:
 *     unescape_html        &name; from the HTML5 table (only with ';'), ftfy's all-caps names
 *                          (&EACUTE; -> É), numeric refs (kept when they decode to ';')
 *     fix_c1_controls      U+0080..U+009F read as Windows-1252 (U+0085 -> '…')
 *     fix_latin_ligatures  ﬁ -> fi, ĳ -> ij, ǆ -> dž, ŉ -> ʼn ...
 *     fix_character_width  fullwidth / halfwidth forms and U+3000 -> normal width (NFKC)
 *     uncurl_quotes        ʼ ‘ ’ ‚ ‛ -> '   “ ” „ ‟ -> "
 *     fix_line_breaks      \r\n, \r, U+2028, U+2029, U+0085 -> \n
 *     fix_surrogates       lone UTF-16 surrogates -> U+FFFD
 *     remove_terminal_escapes  ESC [ digits/; letter
 *     remove_control_chars U+0000..08, 0B, 0E..1F, 7F, U+206A..206F, U+FEFF, U+FFF9..FFFC
 *     NFC
 *
 * NOT reproduced: fix_encoding, the mojibake repair ("cafÃ©" -> "café", "â€™" -> "’"), with its
 * sub-steps restore_byte_a0, replace_lossy_sequences and decode_inconsistent_utf8. It guesses
 * with a statistical "badness" heuristic over ftfy's version-specific character-class tables and
 * re-decodes through ten single-byte codecs; porting it exactly means porting ftfy's data and
 * heuristics wholesale, and its output changes between ftfy releases. It is a no-op on ASCII and
 * on text its heuristic finds clean (ordinary captions in any script); on mojibake our ids differ
 * from OpenAI's. The standalone fix_c1_controls step above still runs, as in ftfy.
 *
 * Cost: like ftfy, one round per level of nested escapes ("&amp;amp;amp;..."), so O(length x
 * depth) on such hostile input; 10k characters take ~15 ms, and captions are capped upstream.
 */
import { FTFY_C1_MAP, FTFY_UPPERCASE_ENTITIES, FTFY_WIDTH_MAP } from './ftfy-tables';
import { HTML5_ENTITIES, htmlUnescape } from './html';
import { classOf, pyNfc } from './unicode';
import { PY_DECIMAL } from './unicode-tables';

const MAX_SEGMENT = 1_000_000; // TextFixerConfig.max_decode_length, in code points

const LIGATURES: Readonly<Record<string, string>> = {
  'Ĳ': 'IJ', 'ĳ': 'ij', 'ŉ': 'ʼn', 'Ǳ': 'DZ', 'ǲ': 'Dz', 'ǳ': 'dz', 'Ǆ': 'DŽ', 'ǅ': 'Dž', 'ǆ': 'dž',
  'Ǉ': 'LJ', 'ǈ': 'Lj', 'ǉ': 'lj', 'Ǌ': 'NJ', 'ǋ': 'Nj', 'ǌ': 'nj',
  'ﬀ': 'ff', 'ﬁ': 'fi', 'ﬂ': 'fl', 'ﬃ': 'ffi', 'ﬄ': 'ffl', 'ﬅ': 'ſt', 'ﬆ': 'st',
};
const LIGATURE_RE = new RegExp(`[${Object.keys(LIGATURES).join('')}]`, 'g');
const HTML_ENTITY_RE = /&#?[0-9A-Za-z]{1,24};/g;
const C1_RE = /[\x80-\x9f]/g;
const WIDTH_RE = /[\u3000\uff01-\uffef]/g;
const SINGLE_QUOTE_RE = /[\u02bc\u2018-\u201b]/g;
const DOUBLE_QUOTE_RE = /[\u201c-\u201f]/g;
const LINE_BREAK_RE = /\r\n?|[\u2028\u2029\u0085]/g;
const LONE_SURROGATE_RE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
// Python's `re` \d on str is every Unicode decimal digit (of Python's Unicode version).
const ANSI_RE = new RegExp(`\\x1b\\[(?:[${classOf(PY_DECIMAL)}]|;)*[a-zA-Z]`, 'gu');
const CONTROL_RE = /[\x00-\x08\x0b\x0e-\x1f\x7f\u206a-\u206f\ufeff\ufff9-\ufffc]/g;
/** Text made only of these is left unchanged by everything here (and by html.unescape). */
const PLAIN_RE = /^[\t\n\x0c\x20-\x25\x27-\x7e]*$/;
/** ...and these by everything but the unescaping. */
const PLAIN_ASCII_RE = /^[\t\n\x0c\x20-\x7e]*$/;

/** fixes.unescape_html: ftfy's cautious unescaper (only complete references ending in ';'). */
export function ftfyUnescapeHtml(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(HTML_ENTITY_RE, (m) => {
    const named = HTML5_ENTITIES.get(m.slice(1)) ?? (Object.hasOwn(FTFY_UPPERCASE_ENTITIES, m) ? FTFY_UPPERCASE_ENTITIES[m] : undefined);
    if (named !== undefined) return named;
    if (m.startsWith('&#')) {
      const unescaped = htmlUnescape(m);
      // "If html.unescape only decoded part of the string, that's not what we want."
      return unescaped.includes(';') ? m : unescaped;
    }
    return m;
  });
}

function fixSegment(text: string, unescapeHtml: boolean): string {
  for (;;) {
    const orig = text;
    if (unescapeHtml) text = ftfyUnescapeHtml(text);
    // On printable ASCII (with '&') the other steps are no-ops: skip them. Nested escapes
    // ("&amp;amp;...") take one round each, so this loop is O(length x depth) as in ftfy.
    if (PLAIN_ASCII_RE.test(text)) {
      if (text === orig) return text;
      continue;
    }
    // (fix_encoding would run here: not reproduced, see the file comment)
    text = text.replace(C1_RE, (c) => FTFY_C1_MAP[c.charCodeAt(0)]);
    text = text.replace(LIGATURE_RE, (c) => LIGATURES[c]);
    text = text.replace(WIDTH_RE, (c) => FTFY_WIDTH_MAP[c.charCodeAt(0)] ?? c);
    text = text.replace(DOUBLE_QUOTE_RE, '"').replace(SINGLE_QUOTE_RE, "'");
    text = text.replace(LINE_BREAK_RE, '\n');
    text = text.replace(LONE_SURROGATE_RE, '\ufffd');
    text = text.replace(ANSI_RE, '');
    text = text.replace(CONTROL_RE, '');
    text = pyNfc(text);
    if (text === orig) return text;
  }
}

/** The UTF-16 index `count` code points after `from` (or the end). */
function advanceCodePoints(s: string, from: number, count: number): number {
  let i = from;
  for (let n = 0; n < count && i < s.length; n++) {
    const c = s.charCodeAt(i);
    i += c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00 ? 2 : 1;
  }
  return i;
}

/** ftfy.fix_text(text) with the default configuration, minus fix_encoding (see above). */
export function fixText(text: string): string {
  if (PLAIN_RE.test(text)) return text;
  let unescapeHtml = true;
  const out: string[] = [];
  let pos = 0;
  while (pos < text.length) {
    let end = text.indexOf('\n', pos) + 1;
    if (end === 0) end = text.length;
    if (end - pos > MAX_SEGMENT) end = Math.min(end, advanceCodePoints(text, pos, MAX_SEGMENT));
    const segment = text.slice(pos, end);
    if (unescapeHtml && segment.includes('<')) unescapeHtml = false;
    out.push(fixSegment(segment, unescapeHtml));
    pos = end;
  }
  return out.join('');
}
