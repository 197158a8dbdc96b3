/**
 * The SigLIP family's preprocessing against transformers itself (test/reference/siglip_tokenizers.py,
 * one Python process, cached in test-artifacts/):
 * - tokens: SiglipTokenizer (a SentencePiece unigram model trained at test time, the folder holding
 *   spiece.model only, so clipql derives tokenizer.json into its cache) and Siglip2Tokenizer (a
 *   Gemma-style BPE with byte fallback) against clipql's ids for the 220 shared caption strings,
 *   multilingual text, whitespace oddities and over-long text: every id equal, padding included;
 *   the untruncated length equal to transformers' unpadded, uncut length;
 * - pixels: SiglipImageProcessor (its PIL backend) on the eight notebook images: the uint8 pixels
 *   equal, and the float tensor equal to the bit, at 224, at 256 and squashed to 160 x 96.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { familyOf } from '../../src/families/families';
import type { ModelFamily, TextTokenizer, TokenizerFiles } from '../../src/families/family';
import type { ImageTransformConfig } from '../../src/preprocess/image/config';
import { siglipImageTransform } from '../../src/families/siglip/image';
import { preprocessPixels, toTensor } from '../../src/preprocess/image/transform';
import { venvPython } from '../helpers/python';
import { siglipAnswers, siglipFixtures, type SiglipAnswers } from '../helpers/siglip';
import { SHARED } from '../helpers/shared';

let fixtures: string;
let answers: SiglipAnswers;
let cache: string;
const open: Record<string, { family: ModelFamily; files: TokenizerFiles; image: ImageTransformConfig; contextLength: number; tokenizer: TextTokenizer }> = {};

function listing(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => `${path.relative(dir, path.join(e.parentPath, e.name))} ${statSync(path.join(e.parentPath, e.name)).mtimeMs}`)
    .sort();
}

before(async () => {
  fixtures = await siglipFixtures();
  answers = siglipAnswers(fixtures);
  cache = mkdtempSync(path.join(os.tmpdir(), 'clipql-siglip-cache-'));
  for (const name of ['siglip', 'siglip2']) {
    const dir = path.join(fixtures, name);
    const before = listing(dir);
    const config = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    const family = familyOf(config, 'config.json');
    const files = await family.locateTokenizer(dir, { cacheDir: cache, python: venvPython() });
    const image = family.imageTransform(JSON.parse(readFileSync(path.join(dir, 'preprocessor_config.json'), 'utf8')), 'preprocessor_config.json');
    open[name] = { family, files, image, contextLength: family.contextLength(config), tokenizer: await family.openTokenizer(files, config) };
    assert.deepEqual(listing(dir), before, `${name}: nothing written into the model folder`);
  }
});
after(() => rmSync(cache, { recursive: true, force: true }));

describe('SigLIP tokenizers against transformers', () => {
  test('the folders are SigLIP-family bundles with 64 tokens; spiece.model was derived into the cache', () => {
    for (const name of ['siglip', 'siglip2']) {
      assert.equal(open[name].family.name, 'siglip');
      assert.equal(open[name].contextLength, 64);
    }
    assert.ok(open.siglip.files.tokenizerJson!.startsWith(cache), open.siglip.files.tokenizerJson);
    assert.equal(open.siglip2.files.tokenizerDir, path.join(fixtures, 'siglip2'));
  });

  for (const name of ['siglip', 'siglip2'] as const) {
    test(`${name}: every string's ids equal transformers' (${name === 'siglip' ? 'SiglipTokenizer, unigram' : 'Siglip2Tokenizer, Gemma-style BPE'})`, () => {
      const { tokenizer } = open[name];
      const wrong: string[] = [];
      answers.strings.forEach((s, i) => {
        const got = Array.from(tokenizer.tokenize(s, 64));
        if (JSON.stringify(got) !== JSON.stringify(answers[name][i])) wrong.push(`${JSON.stringify(s)}: clipql ${got.join(' ')} / transformers ${answers[name][i].join(' ')}`);
      });
      assert.ok(answers.strings.length > 240, 'the 220 shared strings and the multilingual, odd and long ones');
      assert.deepEqual(wrong, []);
    });

    test(`${name}: untruncatedLength is transformers' uncut length (over-long text reported)`, () => {
      const { tokenizer } = open[name];
      const lengths = answers.strings.map((s) => tokenizer.untruncatedLength(s));
      assert.deepEqual(lengths, answers[`${name}_untruncated`]);
      assert.ok(lengths.some((n) => n > 64), 'some strings are over-long');
    });
  }

  test('padding: SigLIP pads with </s> on the right, the Gemma-style one with <pad> as its config says', () => {
    assert.equal(open.siglip.tokenizer.padId, 1);
    assert.equal(open.siglip2.tokenizer.padId, 0);
    const ids = open.siglip.tokenizer.tokenize('a cat', 64);
    assert.equal(ids[63], 1);
  });

  test('a caption that is not a string: BAD_USER_INPUT', () => {
    assert.throws(() => open.siglip2.tokenizer.tokenize(null as unknown as string, 64), /BAD_USER_INPUT|caption must be a string/);
  });
});

describe("SiglipImageProcessor's pixels", () => {
  const dir = path.join(SHARED, 'images', 'notebook');
  /** CHW float32 → the same layout from clipql's HWC crop (the backends normalise with toTensor). */
  async function check(cfgName: string, suffix: string, cfg: ImageTransformConfig) {
    for (const name of answers.images) {
      const bytes = readFileSync(path.join(dir, name));
      const { pixels } = await preprocessPixels(bytes, cfg);
      const want = new Float32Array(readFileSync(path.join(fixtures, 'pixels', `${name}.${suffix}`)).buffer.slice(0));
      const got = toTensor(pixels, cfg);
      assert.equal(got.length, want.length, `${cfgName} ${name}: size`);
      let worst = 0;
      for (let i = 0; i < got.length; i++) if (got[i] !== want[i]) worst = Math.max(worst, Math.abs(got[i] - want[i]));
      assert.equal(worst, 0, `${cfgName} ${name}: the float tensor differs from transformers' by up to ${worst}`);
    }
  }

  test('uint8 pixels equal (224, squash, convert("RGB") first), image by image', async () => {
    const cfg = open.siglip.image;
    for (const name of answers.images) {
      const { pixels } = await preprocessPixels(readFileSync(path.join(dir, name)), cfg);
      const want = readFileSync(path.join(fixtures, 'pixels', `${name}.u8`));
      const n = 224 * 224;
      let diff = 0;
      for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) if (pixels[i * 3 + c] !== want[c * n + i]) diff++;
      assert.equal(diff, 0, `${name}: ${diff} samples differ from SiglipImageProcessor's`);
    }
  });

  test('float tensors equal to the bit: 224 (SigLIP), 256 (the second folder), 160 x 96 (size as height and width)', async () => {
    await check('224', 'f32', open.siglip.image);
    await check('256', '256.f32', open.siglip2.image);
    const wide = siglipImageTransform({ size: { height: 96, width: 160 } }, 'wide.json');
    assert.deepEqual([wide.cropWidth, wide.cropHeight, wide.doCenterCrop], [160, 96, false]);
    await check('160x96', 'wide.f32', wide);
  });
});
