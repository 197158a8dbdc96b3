/**
 * The text cleaning of OpenAI's clip/simple_tokenizer.py:
 *
 *   basic_clean(text)      = html.unescape(html.unescape(ftfy.fix_text(text))).strip()
 *   whitespace_clean(text) = re.sub(r'\s+', ' ', text).strip()
 *
 * with Python's semantics throughout: `strip` removes str.isspace() characters, `\s` is the
 * `regex` module's (it includes U+0085 and not U+FEFF, unlike JS's \s). See ftfy.ts for which
 * part of ftfy.fix_text is reproduced.
 */
import { fixText } from './ftfy';
import { htmlUnescape } from './html';
import { classOf, pyStrip } from './unicode';
import { REGEX_SPACE } from './unicode-tables';

const SPACE_RUN_RE = new RegExp(`[${classOf(REGEX_SPACE)}]+`, 'gu');

export function basicClean(text: string): string {
  return pyStrip(htmlUnescape(htmlUnescape(fixText(text))));
}

export function whitespaceClean(text: string): string {
  return pyStrip(text.replace(SPACE_RUN_RE, ' '));
}
