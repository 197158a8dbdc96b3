/** buildVocabFiles, the vocab.json / merges.txt / tokenizer.json loaders, and their BAD_MODEL errors. */
import assert from 'node:assert/strict';
import { promises as fs, readdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { ClipqlError, ErrorCode } from '../../src/errors';
import { buildVocabFiles, ClipTokenizer, loadTokenizerJson, loadVocabFiles } from '../../src/preprocess/text';
import { bpeGzPath, builtVocabDir, loadTokenizer, PYTHON, tempDir } from './helpers';
import { execFileSync } from 'node:child_process';
import { REPO_ROOT } from '../../src/paths';

async function readVocab(dir: string): Promise<Record<string, number>> {
  return JSON.parse(await fs.readFile(path.join(dir, 'vocab.json'), 'utf8')) as Record<string, number>;
}

/** Asserts that `f` rejects with ClipqlError BAD_MODEL whose message names `file` and matches `what`. */
async function rejectsBadModel(f: () => Promise<unknown>, file: string, what: RegExp): Promise<void> {
  await assert.rejects(f, (e: unknown) => {
    assert.ok(e instanceof ClipqlError, `not a ClipqlError: ${String(e)}`);
    assert.equal(e.code, ErrorCode.BAD_MODEL);
    assert.ok(e.message.includes(file), `message does not name ${file}: ${e.message}`);
    assert.match(e.message, what);
    return true;
  });
}

test('buildVocabFiles writes the 49408-token vocab.json and the 48894 merges of Hugging Face', async () => {
  const dir = await builtVocabDir();
  const vocab = await readVocab(dir);
  assert.equal(Object.keys(vocab).length, 49408);
  assert.equal(vocab['!'], 0);
  assert.equal(vocab['Ā'], 188); // byte 0x00
  assert.equal(vocab['!</w>'], 256);
  assert.equal(vocab['i n'.replace(' ', '')], 512); // the first merge
  assert.equal(vocab['a</w>'], 320);
  assert.equal(vocab['cat</w>'], 2368);
  assert.equal(vocab['<|startoftext|>'], 49406);
  assert.equal(vocab['<|endoftext|>'], 49407);
  const merges = (await fs.readFile(path.join(dir, 'merges.txt'), 'utf8')).split('\n');
  assert.equal(merges[0], '#version: 0.2');
  assert.equal(merges[1], 'i n');
  assert.equal(merges.at(-1), '', 'merges.txt ends with a newline');
  assert.equal(merges.length - 2, 48894);
});

test("vocab.json and merges.txt equal the Python reference's encoder and merges", async () => {
  const dir = await builtVocabDir();
  const script = [
    'import json, sys',
    "sys.path.insert(0, 'models')",
    'from simple_tokenizer import SimpleTokenizer',
    'tok = SimpleTokenizer(sys.argv[1])',
    'print(json.dumps({"vocab": tok.encoder, "merges": [" ".join(m) for m in tok.merges]}))',
  ].join('\n');
  const py = JSON.parse(execFileSync(PYTHON, ['-c', script, bpeGzPath()], { cwd: REPO_ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })) as {
    vocab: Record<string, number>;
    merges: string[];
  };
  assert.deepEqual(Object.entries(await readVocab(dir)), Object.entries(py.vocab)); // same order too
  const merges = (await fs.readFile(path.join(dir, 'merges.txt'), 'utf8')).split('\n').slice(1, -1);
  assert.deepEqual(merges, py.merges);
});

test('concurrent builds into one folder are safe and leave no temporary files', async () => {
  const dir = tempDir('concurrent');
  await Promise.all(Array.from({ length: 4 }, () => buildVocabFiles(bpeGzPath(), dir)));
  assert.deepEqual(readdirSync(dir).sort(), ['merges.txt', 'vocab.json']);
  assert.equal(Object.keys(await readVocab(dir)).length, 49408);
  const tok = await ClipTokenizer.fromBundle(dir);
  assert.deepEqual(tok.encode('a cat'), [320, 2368]);
});

test('buildVocabFiles: a missing, non-gzip or short file is BAD_MODEL naming it', async () => {
  const dir = tempDir('bad-gz');
  const missing = path.join(dir, 'nope.txt.gz');
  await rejectsBadModel(() => buildVocabFiles(missing, dir), missing, /missing/);
  const plain = path.join(dir, 'plain.txt.gz');
  await fs.writeFile(plain, 'not gzip');
  await rejectsBadModel(() => buildVocabFiles(plain, dir), plain, /not gzip/);
  const short = path.join(dir, 'short.txt.gz');
  await fs.writeFile(short, gzipSync('header\ni n\nt h\n'));
  await rejectsBadModel(() => buildVocabFiles(short, dir), short, /at least 48894 merges/);
});

test('loaders: missing file, broken JSON, wrong shape, missing special token, bad merges are BAD_MODEL naming the file', async () => {
  const src = await builtVocabDir();
  const vocab = await readVocab(src);
  const merges = await fs.readFile(path.join(src, 'merges.txt'), 'utf8');
  const dir = tempDir('bad-files');
  const v = path.join(dir, 'vocab.json');
  const m = path.join(dir, 'merges.txt');

  await fs.writeFile(m, merges);
  await rejectsBadModel(() => ClipTokenizer.fromBundle(dir), v, /missing/);
  await fs.writeFile(v, '{"a": 1,');
  await rejectsBadModel(() => ClipTokenizer.fromBundle(dir), v, /not valid JSON/);
  await fs.writeFile(v, '[1, 2]');
  await rejectsBadModel(() => ClipTokenizer.fromBundle(dir), v, /must be a JSON object/);
  await fs.writeFile(v, JSON.stringify({ ...vocab, a: 'one' }));
  await rejectsBadModel(() => ClipTokenizer.fromBundle(dir), v, /id of token "a" must be an integer/);
  await fs.writeFile(v, JSON.stringify({ ...vocab, extra: 0 }));
  await rejectsBadModel(() => ClipTokenizer.fromBundle(dir), v, /share id 0/);
  const { '<|endoftext|>': _eot, ...noEnd } = vocab;
  await fs.writeFile(v, JSON.stringify(noEnd));
  await rejectsBadModel(() => ClipTokenizer.fromBundle(dir), v, /lacks the special token <\|endoftext\|>/);
  const { 'Ā</w>': _byte, ...noByte } = vocab;
  await fs.writeFile(v, JSON.stringify(noByte));
  await rejectsBadModel(() => ClipTokenizer.fromBundle(dir), v, /byte symbol "Ā<\/w>" is not in the vocabulary/);

  await fs.writeFile(v, JSON.stringify(vocab));
  await fs.rm(m);
  await rejectsBadModel(() => ClipTokenizer.fromBundle(dir), m, /missing/);
  await fs.writeFile(m, '#version: 0.2\ni n\nt h x\n');
  await rejectsBadModel(() => ClipTokenizer.fromBundle(dir), m, /line 3: a merge must be two tokens/);
  await fs.writeFile(m, '#version: 0.2\n');
  await rejectsBadModel(() => ClipTokenizer.fromBundle(dir), m, /holds no merges/);
  await fs.writeFile(m, '#version: 0.2\ni n\nzq xw\n');
  await rejectsBadModel(() => ClipTokenizer.fromBundle(dir), m, /merge 1 \("zq xw"\): token "zq" is not in the vocabulary/);
});

test('tokenizer.json (merges as strings or as pairs) gives the same ids and is preferred in a bundle', async () => {
  const src = await builtVocabDir();
  const vocab = await readVocab(src);
  const merges = (await fs.readFile(path.join(src, 'merges.txt'), 'utf8')).split('\n').slice(1, -1);
  const reference = await loadTokenizer();
  const text = "It's a photo of 2 cats & a dog 🐶 on the sofa, über-cute!";
  for (const form of ['strings', 'pairs'] as const) {
    const dir = tempDir(`tokenizer-json-${form}`);
    const model = { type: 'BPE', vocab, merges: form === 'strings' ? merges : merges.map((l) => l.split(' ')), end_of_word_suffix: '</w>' };
    await fs.writeFile(path.join(dir, 'tokenizer.json'), JSON.stringify({ version: '1.0', model }));
    await fs.writeFile(path.join(dir, 'vocab.json'), '{"broken": '); // must not be read
    const tok = await ClipTokenizer.fromBundle(dir);
    assert.deepEqual(tok.encode(text), reference.encode(text), form);
  }
  const dir = tempDir('tokenizer-json-bad');
  const file = path.join(dir, 'tokenizer.json');
  await fs.writeFile(file, JSON.stringify({ model: { type: 'WordPiece', vocab } }));
  await rejectsBadModel(() => loadTokenizerJson(file), file, /model.type must be "BPE"/);
  await fs.writeFile(file, JSON.stringify({ model: { vocab, merges: ['i n', 42] } }));
  await rejectsBadModel(() => loadTokenizerJson(file), file, /model.merges\[1\]/);
  await fs.writeFile(file, JSON.stringify({ added_tokens: [] }));
  await rejectsBadModel(() => loadTokenizerJson(file), file, /no "model" object/);
  await fs.writeFile(file, JSON.stringify({ model: { vocab: { a: 0 }, merges: [] } }));
  await rejectsBadModel(() => loadTokenizerJson(file), file, /model.vocab lacks the special token <\|startoftext\|>/);
});

test('fromVocab takes an in-memory vocabulary (Map or object)', async () => {
  const src = await builtVocabDir();
  const { vocab, merges } = await loadVocabFiles(path.join(src, 'vocab.json'), path.join(src, 'merges.txt'));
  const fromMap = ClipTokenizer.fromVocab(vocab, merges);
  const fromObject = ClipTokenizer.fromVocab(Object.fromEntries(vocab), merges);
  assert.deepEqual(fromMap.encode('a cat'), [320, 2368]);
  assert.deepEqual(fromObject.encode('a cat'), [320, 2368]);
  assert.equal(fromMap.vocabSize, 49408);
  assert.throws(
    () => ClipTokenizer.fromVocab({ '<|startoftext|>': 0 }, []),
    (e: unknown) => e instanceof ClipqlError && e.code === ErrorCode.BAD_MODEL && /<\|endoftext\|>/.test(e.message),
  );
});

test("a bundle's tokenizer follows its files: the same files are compiled once, rewritten ones are read again, a failure is not kept", async () => {
  const src = await builtVocabDir();
  const { vocab, merges } = await loadVocabFiles(path.join(src, 'vocab.json'), path.join(src, 'merges.txt'));
  const dir = tempDir('tokenizer-follows-files');
  const file = path.join(dir, 'tokenizer.json');
  const write = (v: ReadonlyMap<string, number>) => fs.writeFile(file, JSON.stringify({ model: { type: 'BPE', vocab: Object.fromEntries(v), merges: merges.map(([a, b]) => `${a} ${b}`) } }));
  await write(vocab);
  let t0 = performance.now();
  const first = await ClipTokenizer.fromBundle(dir);
  const compiledMs = performance.now() - t0;
  t0 = performance.now();
  const again = await ClipTokenizer.fromBundle(dir);
  const sharedMs = performance.now() - t0;
  assert.deepEqual([first.encode('a cat'), again.encode('a cat')], [[320, 2368], [320, 2368]]);
  // Reading and compiling this vocabulary takes hundreds of ms; the second tokenizer only stats the file.
  assert.ok(sharedMs < compiledMs / 5, `the second tokenizer over unchanged files took ${sharedMs.toFixed(1)} ms, the first ${compiledMs.toFixed(1)} ms`);

  // The same vocabulary with the ids of "cat</w>" and "dog</w>" swapped, in a file of the same size.
  const swapped = new Map(vocab);
  swapped.set('cat</w>', vocab.get('dog</w>')!).set('dog</w>', vocab.get('cat</w>')!);
  await write(swapped);
  await fs.utimes(file, new Date(), new Date(Date.now() + 5000));
  assert.deepEqual((await ClipTokenizer.fromBundle(dir)).encode('a cat'), [320, vocab.get('dog</w>')]);
  assert.deepEqual(first.encode('a cat'), [320, 2368], 'a tokenizer made before keeps its vocabulary');

  await fs.writeFile(file, '{"model": ');
  await rejectsBadModel(() => ClipTokenizer.fromBundle(dir), file, /not valid JSON/);
  await write(vocab);
  assert.deepEqual((await ClipTokenizer.fromBundle(dir)).encode('a cat'), [320, 2368]);
});
