/**
 * fixText: the reproduced part of ftfy.fix_text (ftfy 6.3 defaults), on the examples of ftfy's
 * own documentation, and what is deliberately not reproduced (fix_encoding).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { basicClean, fixText } from '../../src/preprocess/text';

test("ftfy's documented fixes", () => {
  assert.equal(fixText('ＬＯＵＤ　ＮＯＩＳＥＳ'), 'LOUD NOISES');
  assert.equal(fixText('ﬂuﬃeﬆ'), 'fluffiest');
  assert.equal(fixText('Ｕﾀｰﾝ'), 'Uターン');
  assert.equal(fixText('\u201chere\u2019s a test\u201d'), '"here\'s a test"');
  assert.equal(fixText("\x1b[36;44mI'm blue, da ba dee da ba doo...\x1b[0m"), "I'm blue, da ba dee da ba doo...");
  assert.equal(fixText('This string is made of two things:\u20291. Unicode\u20282. Spite'), 'This string is made of two things:\n1. Unicode\n2. Spite');
  assert.equal(fixText('Content-type: text/plain\r\n\r\nHi.'), 'Content-type: text/plain\n\nHi.');
  assert.equal(fixText('\ud83d\udca9'), '💩');
  assert.equal(fixText('\udca9\ud83d'), '\ufffd\ufffd');
  assert.equal(fixText('HTML entities &lt;3'), 'HTML entities <3');
  assert.equal(fixText('<em>HTML entities &lt;3</em>'), '<em>HTML entities &lt;3</em>');
  assert.equal(fixText('\ufeffParty like\nit&rsquo;s 1999!'), "Party like\nit's 1999!");
  // &#x92; is a Windows-1252 quote for html.unescape, then uncurled; NFC (not NFKC) keeps '…'.
  assert.equal(fixText('\x01\x1b[36;44mI&#x92;m blue, da ba dee da ba doo&#133;\x1b[0m'), "I'm blue, da ba dee da ba doo\u2026");
  assert.equal(fixText('ﬁ'.repeat(100000)).length, 200000);
  assert.equal(fixText(''), '');
});

test('fixText loops until nothing changes', () => {
  assert.equal(fixText('&amp;amp;'), '&'); // ftfy's docstring: "&amp;amp;" becomes "&", not "&amp;"
  assert.equal(fixText('&#xff06;amp;'), '&'); // fullwidth ＆ becomes & and then unescapes
  assert.equal(fixText('ŉ'), "'n"); // ligature to ʼn, then the modifier apostrophe is uncurled
  assert.equal(fixText('&amp;#x2019;'), "'");
});

test('terminal escapes take any Unicode decimal digit, as Python re \\d does', () => {
  assert.equal(fixText('\x1b[\u0663;\u0664mX'), 'X');
  assert.equal(fixText('\x1b[31'), '[31', 'an unterminated escape only loses the ESC control character');
});

test("once a segment (line) holds '<', unescaping stays off for the rest of the text", () => {
  assert.equal(fixText('&lt;a\n&lt;b'), '<a\n<b');
  assert.equal(fixText('&lt;a <\n&lt;b'), '&lt;a <\n&lt;b');
  assert.equal(fixText('&lt;a\nx<y\n&lt;b'), '<a\nx<y\n&lt;b');
});

test('segments are at most 1,000,000 code points (surrogate pairs count once)', () => {
  const tail = '<&amp;amp;';
  // Segment 1 is the first 10^6 code points and holds no '<': it is unescaped.
  const ascii = '&amp;' + 'a'.repeat(1_000_000 - 5) + tail;
  assert.equal(fixText(ascii), '&' + 'a'.repeat(1_000_000 - 5) + tail);
  const astral = '&amp;' + '😀'.repeat(1_000_000 - 5) + tail;
  assert.equal(fixText(astral), '&' + '😀'.repeat(1_000_000 - 5) + tail);
  // One more character pulls '<' into segment 1: nothing is unescaped.
  const shifted = '&amp;' + 'a'.repeat(1_000_000 - 6) + tail;
  assert.equal(fixText(shifted), shifted);
});

test('not reproduced: fix_encoding (mojibake repair) leaves such text as it is', () => {
  // ftfy.fix_text would give 'ünicode', 'só' and '✔ No problems'.
  assert.equal(fixText('uÌˆnicode'), 'uÌˆnicode');
  assert.equal(fixText('sÃ³'), 'sÃ³');
  assert.equal(fixText('âœ\u201d No problems'), 'âœ" No problems'); // only its curly quote is uncurled
});

test('basicClean: ftfy, then html.unescape twice, then strip', () => {
  assert.equal(basicClean('  &amp;amp;amp;amp;  '), '&'); // ftfy unescapes all levels
  assert.equal(basicClean('<b>&amp;amp;amp;</b>'), '<b>&amp;</b>'); // ftfy off ('<'); html.unescape twice
  assert.equal(basicClean('\u0085x\x1c'), '\u2026x'); // NEL is C1 -> '…'; U+001C removed by ftfy
  assert.equal(basicClean('&nbsp;x&nbsp;'), 'x'); // NBSP from the entity is stripped (str.isspace)
});
