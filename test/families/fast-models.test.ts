/**
 * fast-models.ts against @huggingface/tokenizers' own BPE and Unigram loops: the same ids for
 * thousands of seeded random strings made of the vocabularies' own pieces (so merges and long
 * pieces apply everywhere), spaces, punctuation, accents, CJK, emoji and characters no vocabulary
 * has, on both trained SigLIP tokenizers (test/reference/siglip_tokenizers.py). The transformers
 * comparison of the shipped path is siglip.test.ts; this one looks for ties and corners that its
 * 250 strings may not reach.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { familyOf } from '../../src/families/families';
import { SiglipTextTokenizer } from '../../src/families/siglip/tokenizer';
import { venvPython } from '../helpers/python';
import { sharedTokenizerCache, siglipFixtures } from '../helpers/siglip';

const POOL = [' ', '  ', '\t', '.', ',', '!', "'", '-', 'é', 'É', 'ß', 'ñ', '猫', '咖啡', 'の', 'ك', 'ж', 'Ω', '🐱', '👩‍👩‍👧', '\u0301', '\u200d', 'ｆ', '①', '\u2581', '</s>', '<pad>', '<unk>', 'x', 'Q', '7'];

function strings(vocab: string[], count: number, seed: number): string[] {
  const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) % n;
  const pieces = vocab.filter((p) => !/^<.*>$/.test(p)).map((p) => p.replaceAll('\u2581', ' '));
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    let s = '';
    const parts = 1 + rand(i % 50 === 0 ? 200 : 25);
    for (let k = 0; k < parts; k++) s += rand(3) ? pieces[rand(pieces.length)] : POOL[rand(POOL.length)];
    out.push(s);
  }
  return out;
}

for (const [name, modelKind] of [['siglip', 'Unigram'], ['siglip2', 'BPE']] as const) {
  test(`${name} (${modelKind}): the fast loops give the library's ids on 3,000 random strings`, async () => {
    const dir = path.join(await siglipFixtures(), name);
    const config = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8'));
    const files = await familyOf(config, 'config.json').locateTokenizer(dir, { cacheDir: await sharedTokenizerCache(), python: venvPython() });
    const json = JSON.parse(readFileSync(files.tokenizerJson!, 'utf8'));
    assert.equal(json.model.type, modelKind);
    const vocab: string[] = modelKind === 'Unigram' ? json.model.vocab.map((v: [string, number]) => v[0]) : Object.keys(json.model.vocab);
    const fast = await SiglipTextTokenizer.open(files);
    const library = await SiglipTextTokenizer.open(files, { libraryModels: true });
    let long = 0;
    for (const s of strings(vocab, 3000, name.length)) {
      const want = library.untruncatedLength(s);
      assert.equal(fast.untruncatedLength(s), want, JSON.stringify(s));
      if (want > 64) long++;
      assert.deepEqual(Array.from(fast.tokenize(s, 512)), Array.from(library.tokenize(s, 512)), JSON.stringify(s));
    }
    assert.ok(long > 10, `some strings are long (${long})`);
  });
}
