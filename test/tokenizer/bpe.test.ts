/** The BPE engine (loop and heap agree), the bounded cache, long-input timing, and the API's contract. */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { ClipqlError, ErrorCode } from '../../src/errors';
import { bytesToUnicode, ClipTokenizer, loadVocabFiles } from '../../src/preprocess/text';
import { BpeMerges } from '../../src/preprocess/text/bpe';
import { builtVocabDir, loadTokenizer } from './helpers';

async function clipMerges(): Promise<{ merges: BpeMerges; byteIds: number[]; byteEndIds: number[] }> {
  const dir = await builtVocabDir();
  const { vocab, merges } = await loadVocabFiles(path.join(dir, 'vocab.json'), path.join(dir, 'merges.txt'));
  const id = (t: string) => vocab.get(t) as number;
  const table = merges.map(([a, b]) => [id(a), id(b), id(a + b)] as const);
  const symbols = bytesToUnicode();
  return { merges: new BpeMerges(table), byteIds: symbols.map((s) => id(s)), byteEndIds: symbols.map((s) => id(s + '</w>')) };
}

test("OpenAI's merges are ordered, so long words may use the heap", async () => {
  const { merges } = await clipMerges();
  assert.equal(merges.ordered, true);
});

test('the heap and the loop give the same merges on random words', async () => {
  const { merges, byteIds, byteEndIds } = await clipMerges();
  const alphabets = [
    Buffer.from('abcdefghijklmnopqrstuvwxyz'),
    Buffer.from('aab'),
    Buffer.from('ing the tion er'),
    Buffer.from('日本語のテキスト😀é', 'utf8'),
    Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
  ];
  let x = 3;
  for (let n = 0; n < 600; n++) {
    const alphabet = alphabets[n % alphabets.length];
    const len = 2 + (n % 300);
    const word: number[] = [];
    for (let i = 0; i < len; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      const b = alphabet[(x >>> 8) % alphabet.length];
      word.push(i + 1 < len ? byteIds[b] : byteEndIds[b]);
    }
    assert.deepEqual(merges.applyHeap(word), merges.applyLoop(word), `word ${n} (${len} symbols)`);
  }
});

test('merges that use a token before creating it are not ordered; apply then keeps to the loop', () => {
  // ids: a=0 b=1 c=2 ab=3 bc=4 abc=5; "ab c" (rank 0) uses ab before "a b" (rank 1) creates it.
  const m = new BpeMerges([[3, 2, 5], [0, 1, 3], [1, 2, 4]]);
  assert.equal(m.ordered, false);
  const word = Array.from({ length: 60 }, (_, i) => i % 3);
  assert.deepEqual(m.apply(word), m.applyLoop(word));
  assert.equal(m.rank(0, 1), 1);
  assert.equal(m.rank(1, 0), -1);
});

test('a pair listed twice keeps its last rank, as in Python', () => {
  const m = new BpeMerges([[0, 1, 3], [1, 2, 4], [0, 1, 3]]);
  assert.equal(m.rank(0, 1), 2);
  assert.deepEqual(m.applyLoop([0, 1, 2]), [0, 4]); // "b c" (rank 1) now comes first
});

test('the per-word cache is bounded; long words are not cached', async () => {
  const dir = await builtVocabDir();
  const tok = await ClipTokenizer.fromBundle(dir, { cacheSize: 50, maxCachedWordLength: 10 });
  const words = Array.from({ length: 1000 }, (_, i) => `w${i.toString(36)}x`);
  const reference = await loadTokenizer();
  for (const w of words) assert.deepEqual(tok.encode(w), reference.encode(w));
  assert.ok(tok.cachedWords <= 100, `${tok.cachedWords} words cached, limit 2 x 50`);
  const before = tok.cachedWords;
  tok.encode('a'.repeat(500));
  assert.equal(tok.cachedWords, before, 'a 500-letter word was cached');
  const none = await ClipTokenizer.fromBundle(dir, { cacheSize: 0 });
  none.encode('a photo of a cat');
  assert.equal(none.cachedWords, 0);
  await assert.rejects(() => ClipTokenizer.fromBundle(dir, { cacheSize: -1 }), /cacheSize must be an integer >= 0, got -1/);
  await assert.rejects(() => ClipTokenizer.fromBundle(dir, { maxCachedWordLength: 1.5 }), TypeError);
  // Cached words give the same ids the second time.
  assert.deepEqual(tok.encode('the cat the cat'), reference.encode('the cat the cat'));
});

test('10k-character captions take bounded time', async () => {
  const tok = await loadTokenizer();
  const rnd = (n: number, alphabet: string[]) => {
    let x = 1;
    let s = '';
    for (let i = 0; i < n; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      s += alphabet[(x >>> 8) % alphabet.length];
    }
    return s;
  };
  const cases: Record<string, string> = {
    'one letter': 'a'.repeat(10000),
    'random letters, one word': rnd(10000, 'abcdefghijklmnopqrstuvwxyz'.split('')),
    'random CJK, one word': rnd(10000, Array.from({ length: 3000 }, (_, i) => String.fromCodePoint(0x4e00 + i * 5))),
    'words': rnd(10000, 'abcdefg hijklm nopqrs tuvwxyz '.split('')),
    'spaces': 'a' + ' '.repeat(10000) + 'b',
    'punctuation': rnd(10000, '!@#$%^*()_+-=[]{};:,./?~`'.split('')),
    'nested &amp;': '&' + 'amp;'.repeat(2500),
    'entities': '&eacute;'.repeat(1250),
    'emoji ZWJ': '👩‍👩‍👧‍👦'.repeat(900),
    'combining marks': 'e\u0301\u0323'.repeat(3333),
    'control characters': '\x01\x1b[31m'.repeat(1400),
  };
  const slow: string[] = [];
  for (const [name, text] of Object.entries(cases)) {
    const t0 = process.hrtime.bigint();
    const ids = tok.tokenize(text);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    assert.equal(ids.length, 77);
    // Typically 1-60 ms here; the bound leaves room for a loaded CI machine.
    if (ms > 1500) slow.push(`${name}: ${ms.toFixed(0)} ms`);
  }
  assert.deepEqual(slow, []);
});

test('tokenize: start, ids, end, zero padding; truncation keeps the end token', async () => {
  const tok = await loadTokenizer();
  assert.deepEqual(Array.from(tok.tokenize('')), [49406, 49407, ...new Array(75).fill(0)]);
  assert.deepEqual(Array.from(tok.tokenize('a cat')), [49406, 320, 2368, 49407, ...new Array(73).fill(0)]);
  const long = 'a cat '.repeat(100);
  const ids = tok.tokenize(long);
  assert.equal(ids.length, 77);
  assert.equal(ids[0], 49406);
  assert.equal(ids[76], 49407);
  assert.equal(tok.untruncatedLength(long), 202);
  assert.deepEqual(Array.from(tok.tokenize(long, 5)), [49406, 320, 2368, 320, 49407]);
  assert.deepEqual(Array.from(tok.tokenize('a cat', 3)), [49406, 320, 49407]);
  assert.deepEqual(Array.from(tok.tokenize('a cat', 2)), [49406, 49407]);
  assert.deepEqual(tok.encode('a cat'), [320, 2368]);
  assert.ok(tok.tokenize('a') instanceof Int32Array);
});

test('tokenizeBatch: row-major [n, contextLength] BigInt64Array', async () => {
  const tok = await loadTokenizer();
  const batch = tok.tokenizeBatch(['a cat', '', 'a dog'], 6);
  assert.ok(batch instanceof BigInt64Array);
  assert.deepEqual(Array.from(batch, Number), [49406, 320, 2368, 49407, 0, 0, 49406, 49407, 0, 0, 0, 0, 49406, 320, 1929, 49407, 0, 0]);
  assert.equal(tok.tokenizeBatch([]).length, 0);
});

test('misuse: non-string captions are BAD_USER_INPUT; a bad contextLength is a RangeError', async () => {
  const tok = await loadTokenizer();
  const badInput = (f: () => unknown, pattern: RegExp) =>
    assert.throws(f, (e: unknown) => e instanceof ClipqlError && e.code === ErrorCode.BAD_USER_INPUT && pattern.test(e.message));
  badInput(() => tok.encode(42 as unknown as string), /must be a string, got number/);
  badInput(() => tok.tokenize(null as unknown as string), /got null/);
  badInput(() => tok.untruncatedLength(undefined as unknown as string), /got undefined/);
  badInput(() => tok.tokenizeBatch(['ok', { text: 'x' }] as unknown as string[]), /captions\[1\] must be a string, got object/);
  badInput(() => tok.tokenizeBatch('a cat' as unknown as string[]), /must be an array/);
  assert.throws(() => tok.tokenize('a', 1), RangeError);
  assert.throws(() => tok.tokenize('a', 7.5), RangeError);
  assert.throws(() => tok.tokenizeBatch(['a'], 0), RangeError);
});
