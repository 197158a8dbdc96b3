/**
 * The Unicode behaviour is the reference's (Python 3.11 + `regex`), not the JS engine's: checked
 * over every code point against the Python on this machine.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '../../src/paths';
import { whitespaceClean } from '../../src/preprocess/text/clean';
import { splitPieces } from '../../src/preprocess/text/tokenizer';
import { pyLower, pyNfc, pyStrip } from '../../src/preprocess/text/unicode';
import { PYTHON, pythonMap, show } from './helpers';

const ALL = (): number[] => Array.from({ length: 0x110000 }, (_, cp) => cp).filter((cp) => cp < 0xd800 || cp > 0xdfff);
const hex = (cps: number[]) => cps.slice(0, 20).map((c) => c.toString(16)).join(' ');

function python(script: string): string {
  return execFileSync(PYTHON, ['-c', script], { cwd: REPO_ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
}

test('the generated tables are what generate_tables.py computes from this Python', () => {
  const script = path.join(REPO_ROOT, 'src', 'preprocess', 'text', 'generate_tables.py');
  const r = (() => {
    try {
      return { ok: true, out: execFileSync(PYTHON, [script, '--check'], { encoding: 'utf8' }) };
    } catch (e) {
      return { ok: false, out: String((e as { stdout?: string }).stdout ?? e) };
    }
  })();
  assert.ok(r.ok, `generate_tables.py --check failed: ${r.out}`);
});

test("pyLower equals Python's str.lower on every code point", () => {
  const lower = JSON.parse(
    python('import json\nprint(json.dumps({cp: chr(cp).lower() for cp in range(0x110000) if not 0xd800 <= cp <= 0xdfff and chr(cp).lower() != chr(cp)}))'),
  ) as Record<string, string>;
  const bad = ALL().filter((cp) => pyLower(String.fromCodePoint(cp)) !== (lower[cp] ?? String.fromCodePoint(cp)));
  assert.deepEqual(bad, [], `pyLower differs from Python on U+${hex(bad)}`);
  // JS alone lowercases the letters added after Python's Unicode version.
  assert.notEqual('\u{10D50}'.toLowerCase(), '\u{10D50}');
});

test('pyLower handles final sigma and contexts like Python', () => {
  const inputs = ['Σ', 'ΑΣ', 'ΑΣ.', 'ΑΣΑ', 'Σ.Α', 'ΑΣ\u0301', 'Α\u0301Σ', 'Α.Σ', "Α'Σ", 'ΑΣ\u{10D50}', '\u{10D50}Σ', 'ΑΣ\u{10D50}Α', 'İΣ', 'ΟΔΟΣ ΣΟΦΟΣ', 'AΣb', 'ʰΣ'];
  const expected = pythonMap<string>('print(json.dumps(x.lower()))', inputs);
  inputs.forEach((s, i) => assert.equal(pyLower(s), expected[i], `lower(${show(s)})`));
});

test("pyStrip removes exactly Python's str.isspace characters", () => {
  const space = new Set(JSON.parse(python('import json\nprint(json.dumps([cp for cp in range(0x110000) if chr(cp).isspace()]))')) as number[]);
  const bad = ALL().filter((cp) => (pyStrip(`${String.fromCodePoint(cp)}a${String.fromCodePoint(cp)}`) === 'a') !== space.has(cp));
  assert.deepEqual(bad, [], `pyStrip differs on U+${hex(bad)}`);
  assert.equal(pyStrip(' \x1c\u0085a b\u3000\t'), 'a b');
  assert.equal(pyStrip('\ufeffa'), '\ufeffa', 'U+FEFF is not Python whitespace');
});

test("whitespaceClean's \\s is the regex module's \\s", () => {
  const space = new Set(JSON.parse(python("import json, regex\nall = ''.join(chr(c) for c in range(0x110000) if not 0xd800 <= c <= 0xdfff)\nprint(json.dumps([ord(c) for c in regex.findall(r'\\s', all)]))")) as number[]);
  // One string "x<c1>x<c2>x...": each whitespace character becomes one ' ' between its x's.
  const cps = ALL();
  const out = whitespaceClean(cps.map((cp) => 'x' + String.fromCodePoint(cp)).join('') + 'x');
  const cleanedToSpace = new Set<number>();
  let pos = 0;
  for (const cp of cps) {
    const c = String.fromCodePoint(cp);
    if (out[pos] !== 'x') assert.fail(`whitespaceClean lost a character near U+${cp.toString(16)}`);
    pos += 1;
    if (out[pos] === ' ') cleanedToSpace.add(cp); // (U+0020 itself stays ' ', and is whitespace)
    pos += out[pos] === ' ' ? 1 : c.length;
  }
  const bad = cps.filter((cp) => cleanedToSpace.has(cp) !== space.has(cp));
  assert.deepEqual(bad, [], `whitespace class differs on U+${hex(bad)}`);
});

test("pyNfc equals Python's NFC on every decomposable character, reorderings and Unicode 16 pairs", () => {
  const inputs: string[] = [];
  for (const cp of ALL()) {
    const c = String.fromCodePoint(cp);
    const d = c.normalize('NFD');
    if (d !== c) inputs.push(d, c);
  }
  // Marks in every order after a base, and the Unicode 16 compositions Python 14 does not know.
  const marks = ['\u0301', '\u0323', '\u0308', '\u0304', '\u031b', '\u0345', '\u05b0', '\u093c'];
  for (const a of marks) for (const b of marks) inputs.push(`e${a}${b}`, `o${a}${b}x`, `A${a}${b}`);
  inputs.push('\u{16D67}\u{16D67}', '\u{105D2}\u0307', '\u{11382}\u{113C9}', 'x\u{1611E}\u{1611E}y', 'e\u{10D69}\u0301');
  const expected = pythonMap<string>("import unicodedata\nprint(json.dumps(unicodedata.normalize('NFC', x)))", inputs);
  const bad = inputs.filter((s, i) => pyNfc(s) !== expected[i]);
  assert.deepEqual(bad.slice(0, 10).map((s) => show(s)), [], `${bad.length} strings normalise differently`);
});

test("splitPieces equals the regex module's findall on mixed random text", () => {
  // One sample of everything the pattern distinguishes, including letters JS knows and Python not.
  const alphabet = [
    'a', 'z', 'é', 'ſ', 'k', '\u212a', 'ß', 'ı', 'i̇', 'ω', 'я', '日', 'ー', 'ｱ', '한', '\u0939', '\u093f', '\u0301',
    '0', '9', '٣', 'Ⅻ', '½', '²', '\u{1D7CE}', ' ', '\t', '\n', '\u00a0', '\u0085', '\u1680', '\u2028', '\u3000', '\ufeff', '\x1c',
    "'", 's', 't', 're', 've', 'm', 'll', 'd', '<|startoftext|>', '<|endoftext|>', '<|', '|>', '<', '|', '>',
    '!', '.', '-', '_', '@', '€', '\u200b', '\u200d', '😀', '🏽', '\u{10D50}', '\u{10D70}', '\u{16D67}', '\u{10D40}', '\u{11F00}', '\u{1E030}',
  ];
  const inputs: string[] = [];
  let x = 5;
  for (let n = 0; n < 3000; n++) {
    let s = '';
    for (let i = 0; i < 1 + (n % 30); i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      s += alphabet[(x >>> 8) % alphabet.length];
    }
    inputs.push(s);
  }
  const pat = String.raw`<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+`;
  const expected = pythonMap<string[]>(`import regex\nPAT = regex.compile(r"""${pat}""", regex.IGNORECASE)\nprint(json.dumps(PAT.findall(x)))`, inputs);
  const bad = inputs.flatMap((s, i) => {
    const got = splitPieces(s);
    return JSON.stringify(got) === JSON.stringify(expected[i]) ? [] : [`${show(s)}: got ${show(JSON.stringify(got))}, Python ${show(JSON.stringify(expected[i]))}`];
  });
  assert.deepEqual(bad.slice(0, 10), [], `${bad.length} of ${inputs.length} strings split differently`);
});
