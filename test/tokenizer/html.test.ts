/**
 * htmlUnescape against Python's html.unescape, and ftfy's unescape_html against a transcription
 * of ftfy 6.3's (chardata._build_html_entities + fixes._unescape_fixup) run on Python's html module.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { htmlUnescape } from '../../src/preprocess/text';
import { ftfyUnescapeHtml } from '../../src/preprocess/text/ftfy';
import { HTML5 } from '../../src/preprocess/text/html-entities';
import { pythonMap, show } from './helpers';

const HANDPICKED = [
  '', 'no entities', '&', '&&', '&;', '&#;', '&#x;', '&#', '&#x',
  '&amp;', '&amp', '&AMP;', '&AMP', '&ampx', '&amp;amp;', '&amp;amp;amp;', '&lt;b&gt;',
  '&notit;', '&notin;', '&notin', '&not', '&noti', '&copy', '&copy;', '&COPY;', '&Copy;',
  '&#0;', '&#00;', '&#x0;', '&#1;', '&#8;', '&#9;', '&#10;', '&#11;', '&#12;', '&#13;', '&#31;', '&#32;',
  '&#127;', '&#x7f;', '&#128;', '&#x80;', '&#129;', '&#141;', '&#150;', '&#159;', '&#160;',
  '&#xD800;', '&#xd800;', '&#xDFFF;', '&#55296;', '&#x110000;', '&#1114111;', '&#1114112;',
  '&#xFDD0;', '&#xFDEF;', '&#xFFFE;', '&#xFFFF;', '&#x1FFFE;', '&#x10FFFF;', '&#xFFFD;',
  '&#65', '&#65;', '&#65x', '&#0065;', '&#x41', '&#X41;', '&#x041;', '&#xzz;', '&#65a;',
  '&#99999999999999999999999;', '&#x99999999999999999999;', '&#x' + '0'.repeat(40) + '41;',
  '&eacute;&Eacute;&EACUTE;', '&NotNestedLessLess;', '&CounterClockwiseContourIntegral;', '&CounterClockwiseContourIntegralX;',
  '&' + 'a'.repeat(40) + ';', '&constructor;', '&constructor', '&__proto__', '&toString;', '&hasOwnProperty',
  '&ltx', '&lt;x', '&gtx;', '&quot', '&QUOT', '&nbsp', '&nbsp;nbsp', '&frac12', '&frac12;', '&frac1',
  'a &b c', 'a&b;c', '&\t;', '&\n', '& ;', '&<amp;', '&#38;amp;', '&#38;#38;', '&amp;#38;',
  '&é;', '&ampé', '&amp\u{1F600}', '&\u{1F600};', '&le\u{1F600}', '&lt\u{1F600}\u{1F600}',
  '&acE;', '&nvlt;', '&bne;', '&fjlig;', '&ThickSpace;', '&NewLine;', '&Tab;',
];

function mismatches(inputs: string[], expected: string[], f: (s: string) => string): string[] {
  return inputs.flatMap((s, i) => {
    const got = f(s);
    return got === expected[i] ? [] : [`${show(s)}: got ${show(got)}, Python ${show(expected[i])}`];
  });
}

function generated(): string[] {
  // Random mixes of the characters entity parsing cares about, and every html5 name in context.
  const pieces = ['&', '#', 'x', 'X', ';', '1', '2', '8', '0', 'a', 'm', 'p', 'l', 't', 'n', 'o', 'i', ' ', 'é', 'F', 'D'];
  let x = 99;
  const out: string[] = [];
  for (let n = 0; n < 400; n++) {
    let s = '';
    const len = 1 + (n % 24);
    for (let i = 0; i < len; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      s += pieces[(x >>> 8) % pieces.length];
    }
    out.push(s);
  }
  const names = Object.keys(HTML5);
  for (let i = 0; i < names.length; i += 1) out.push(`x&${names[i]}y;z`);
  return out;
}

test('htmlUnescape equals Python html.unescape on hand-picked and generated strings', () => {
  const inputs = [...HANDPICKED, ...generated()];
  const expected = pythonMap<string>('import html\nprint(json.dumps(html.unescape(x)))', inputs);
  const failures = mismatches(inputs, expected, htmlUnescape);
  assert.deepEqual(failures, [], failures.slice(0, 20).join('\n'));
});

const FTFY_UNESCAPE = `
import html, re
if 'ENT' not in globals():
    ENT = {}
    for name, char in html.entities.html5.items():
        if name.endswith(';'):
            ENT['&' + name] = char
            if name == name.lower():
                up = '&' + name.upper()
                if html.unescape(up) == up:
                    ENT[up] = char.upper()
def fixup(m):
    t = m.group(0)
    if t in ENT:
        return ENT[t]
    if t.startswith('&#'):
        u = html.unescape(t)
        return t if ';' in u else u
    return t
print(json.dumps(re.sub(r'&#?[0-9A-Za-z]{1,24};', fixup, x)))`.trim();

test("ftfy's unescape_html equals a transcription of ftfy 6.3 on Python's html module", () => {
  const inputs = [...HANDPICKED, ...generated(), 'P&EACUTE;REZ', 'BUNDESSTRA&SZLIG;E', '&ntilde; &Ntilde; &NTILDE; &nTILDE;', '&Jscr;ohn &HilbertSpace;ancock'];
  const expected = pythonMap<string>(FTFY_UNESCAPE, inputs);
  const failures = mismatches(inputs, expected, ftfyUnescapeHtml);
  assert.deepEqual(failures, [], failures.slice(0, 20).join('\n'));
});

test("ftfy's documented unescape_html examples", () => {
  assert.equal(ftfyUnescapeHtml('&lt;tag&gt;'), '<tag>');
  assert.equal(ftfyUnescapeHtml('&Jscr;ohn &HilbertSpace;ancock'), '𝒥ohn ℋancock');
  assert.equal(ftfyUnescapeHtml('&checkmark;'), '✓');
  assert.equal(ftfyUnescapeHtml('P&eacute;rez'), 'Pérez');
  assert.equal(ftfyUnescapeHtml('P&EACUTE;REZ'), 'PÉREZ');
  assert.equal(ftfyUnescapeHtml('BUNDESSTRA&SZLIG;E'), 'BUNDESSTRASSE');
  assert.equal(ftfyUnescapeHtml('&ntilde; &Ntilde; &NTILDE; &nTILDE;'), 'ñ Ñ Ñ &nTILDE;');
  // Only complete references: "this&not that" is not decoded.
  assert.equal(ftfyUnescapeHtml('this&not that'), 'this&not that');
});
