/**
 * Our own cases, with the expected ids computed at test time by the Python reference
 * (models/simple_tokenizer.py). That reference runs without ftfy (Debian has none), so for a
 * string ftfy.fix_text changes, `ftfy` states what fix_text returns (and why); the reference is
 * fed that string, and the test also checks that our fixText produces it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fixText } from '../../src/preprocess/text';
import { assertIds, loadTokenizer, pythonEncode, pythonTokenize, show } from './helpers';

interface Case {
  readonly name: string;
  readonly raw: string;
  /** ftfy.fix_text(raw) when it differs from raw. */
  readonly ftfy?: string;
}

const rnd = (n: number, alphabet: readonly string[], seed: number): string => {
  let x = seed;
  let s = '';
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    s += alphabet[(x >>> 8) % alphabet.length];
  }
  return s;
};
const cjk = Array.from({ length: 2000 }, (_, i) => String.fromCodePoint(0x4e00 + i * 7));

const CASES: readonly Case[] = [
  // --- strings ftfy leaves alone: the reference is fed them as they are
  { name: 'empty string', raw: '' },
  { name: 'spaces only', raw: '     ' },
  { name: 'tabs and newlines only', raw: '\t\n \n\t' },
  { name: 'tabs and newlines inside', raw: 'a\tcat\n\non   a\tmat' },
  { name: 'upper-case contraction', raw: "DON'T STOP" },
  { name: 'contractions', raw: "don't, won't, it's, we're, they've, I'm, you'll, he'd" },
  { name: 'contractions without a word before', raw: "'s 't 're 've 'm 'll 'd 'x" },
  { name: '<|endoftext|> inside text', raw: 'a photo of <|endoftext|> a cat' },
  { name: 'both special tokens, glued to words', raw: 'x<|startoftext|>y<|endoftext|>z' },
  { name: 'special token in capitals (lowercased first)', raw: '<|ENDOFTEXT|> <|StartOfText|>' },
  { name: "long s matches 's and the special tokens' s under IGNORECASE", raw: "it'ſ <|ſtartoftext|> ſun" },
  { name: 'Turkish dotted capital I lowercases to i + U+0307', raw: 'İstanbul İzmir' },
  { name: 'final sigma', raw: 'ΟΔΟΣ ΣΟΦΟΣ. ΣΑΣ Σ' },
  { name: 'capital sharp s', raw: 'STRAẞE' },
  { name: 'emoji', raw: 'a 🐱 on a 🛋️ 😀😀😀' },
  { name: 'emoji ZWJ sequences', raw: 'family 👩‍👩‍👧‍👦 and 🐈‍⬛ and 🏳️‍🌈' },
  { name: 'flags and skin tones', raw: '🇯🇵🇺🇸 👍🏽' },
  { name: 'precomposed accents', raw: 'café crème brûlée' },
  { name: 'CJK', raw: '日本語のテキストと中文' },
  { name: 'Cyrillic', raw: 'Привет, мир' },
  { name: 'Arabic', raw: 'مرحبا بالعالم' },
  { name: 'Hebrew', raw: 'שלום עולם' },
  { name: 'Devanagari (marks are not letters)', raw: 'हिन्दी भाषा' },
  { name: 'Thai', raw: 'ภาษาไทย' },
  { name: 'Hangul', raw: '한국어 텍스트' },
  { name: 'digits one by one', raw: '1234567890 3.14 1,000,000' },
  { name: 'other numbers', raw: '٣٤٥ Ⅻ ½ ² ①' },
  { name: 'punctuation runs', raw: '!!!???...,,,;;; --- (a) [b] {c}' },
  { name: 'mixed symbols', raw: 'hello@example.com #tag $100 50% a&b c & d' },
  { name: 'no-break and em spaces', raw: 'a\u00a0b\u2003c\u2009d' },
  { name: 'zero-width space is not whitespace', raw: 'a\u200bb' },
  { name: 'math script letters (NFC keeps them)', raw: '𝒜𝓁𝓅𝒽𝒶 𝕏' },
  { name: 'Unicode 16 letters: punctuation for the reference, not lowercased', raw: 'a \u{10D50}\u{10D51} b \uA7CB c' },
  { name: 'Unicode 16 pair NFC would compose in Unicode 16, not for the reference', raw: 'x \u{16D67}\u{16D67} y' },
  { name: 'html: legacy entities and numeric references', raw: '&ampx &notit; &#128&#x80 &#xD800 &#x110000 &#0 &lt3' },
  { name: 'html: inside tags ftfy keeps entities, unescape still runs', raw: '<b>&amp;amp;</b> &lt;i&gt;' },
  { name: 'html: &#59; stays for ftfy (decodes to ;), then unescapes', raw: 'a&#59;b &#x3b;' },
  { name: 'repeated words (cache)', raw: 'the cat the cat the cat the dog' },
  { name: 'long caption, truncated', raw: 'a photo of a very small cat sitting on a wooden floor next to a red ball, '.repeat(6) },
  { name: '10k characters of words', raw: 'a photo of a cat on a mat. '.repeat(370) },
  { name: '10k-letter word', raw: 'a'.repeat(10000) },
  { name: '10k random letters, one word', raw: rnd(10000, 'abcdefghijklmnopqrstuvwxyz'.split(''), 7) },
  { name: '3k random CJK, one word', raw: rnd(3000, cjk, 11) },
  // --- strings ftfy changes: the reference is fed ftfy's output
  { name: 'curly quotes', raw: 'It\u2019s \u201cquoted\u201d \u2018x\u2019', ftfy: 'It\'s "quoted" \'x\'' },
  { name: 'modifier apostrophe', raw: 'don\u02bct', ftfy: "don't" },
  { name: 'Latin ligatures', raw: 'ﬁsh ﬂower oﬀice ﬃ ﬆ Ĳssel', ftfy: 'fish flower office ffi st IJssel' },
  { name: 'Serbian digraph ligatures', raw: 'ǅak ǈ ǌ', ftfy: 'Džak Lj nj' },
  { name: 'fullwidth Latin and ideographic space', raw: 'ＬＯＵＤ\u3000ＮＯＩＳＥＳ！', ftfy: 'LOUD NOISES!' },
  { name: 'halfwidth katakana', raw: 'Ｕﾀｰﾝ', ftfy: 'Uターン' },
  { name: 'combining acute (non-NFC input)', raw: 'cafe\u0301', ftfy: 'café' },
  { name: 'combining marks reordered by NFC', raw: 'e\u0301\u0323 o\u0308\u0304', ftfy: '\u1EB9\u0301 \u022B' },
  { name: 'singletons: ohm and kelvin signs', raw: '5 \u2126 300 \u212A', ftfy: '5 \u03A9 300 K' },
  { name: 'CRLF and CR line breaks', raw: 'one\r\ntwo\rthree\u2028four\u2029five', ftfy: 'one\ntwo\nthree\nfour\nfive' },
  { name: 'C1 control NEL becomes an ellipsis', raw: 'wait\u0085 what\u0092s', ftfy: "wait\u2026 what's" },
  { name: 'control characters removed', raw: '\x00a\x07b\x7f\x0bc\x1cd', ftfy: 'abcd' },
  { name: 'byte-order mark removed', raw: '\ufeffa\ufeffb', ftfy: 'ab' },
  { name: 'terminal colour escapes removed', raw: '\x1b[36;44mblue\x1b[0m text', ftfy: 'blue text' },
  { name: 'lone surrogate becomes U+FFFD', raw: 'a\ud800b \udc00', ftfy: 'a\ufffdb \ufffd' },
  { name: 'nested &amp; fully unescaped by ftfy', raw: '&amp;amp;amp;amp; fish &amp;amp; chips', ftfy: '& fish & chips' },
  { name: 'entities and numeric references', raw: 'caf&eacute; &lt;3 &#x2019;s &#8220;hi&#8221;', ftfy: 'café <3 \'s "hi"' },
  { name: 'ftfy decodes all-caps entity names', raw: 'P&EACUTE;REZ BUNDESSTRA&SZLIG;E', ftfy: 'PÉREZ BUNDESSTRASSE' },
  {
    name: "once a line holds '<', ftfy stops unescaping for it and the lines after",
    raw: '&amp;amp;\n<b>\n&amp;amp;amp;',
    ftfy: '&\n<b>\n&amp;amp;amp;',
  },
];

const expected = (c: Case): string => c.ftfy ?? c.raw;
const inputs = CASES.map(expected);
// The Python reference, once for all cases: full encode() and the script's tokenize() rows.
const pyEncoded = pythonEncode(inputs);
const pyTokenized = pythonTokenize(inputs);

test('there are at least 40 own cases', () => {
  assert.ok(CASES.length >= 40, `${CASES.length} cases`);
});

for (const [i, c] of CASES.entries()) {
  test(`${c.name}: ${show(c.raw, 40)}`, async () => {
    const tok = await loadTokenizer();
    assert.equal(fixText(c.raw), expected(c), `fixText(${show(c.raw)})`);
    assertIds(tok.encode(c.raw), pyEncoded[i], c.raw, 'encode');
    assertIds(tok.tokenize(c.raw), pyTokenized[i], c.raw, 'tokenize');
    assert.equal(tok.untruncatedLength(c.raw), pyEncoded[i].length + 2);
  });
}
