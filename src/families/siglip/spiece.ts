/**
 * transformers' SiglipTokenizer (a SentencePiece unigram model, google/siglip-*), step for step,
 * with the tokenizer.json derived from its spiece.model (derive_tokenizer.py) for the vocabulary
 * and the unigram model, and SentencePiece's own normaliser (spm-normalizer.ts):
 *
 *   tokenize(text):  "▁" + text with "▁" read as a space, split on the special tokens (</s>,
 *                    <unk>, the pad token: each swallowing the whitespace beside it), and each
 *                    other piece through _tokenize; a leading "▁" before a special token dropped
 *   _tokenize(text): canonicalize_text (lowercase, ASCII punctuation removed, whitespace runs to
 *                    one space, stripped), then SentencePiece on "<unk>" + text with the pieces of
 *                    "<unk>" cut off again (SiglipTokenizer's way around the dummy prefix)
 *   then </s> appended unless the ids already end with it.
 */
import { Tokenizer } from '@huggingface/tokenizers';
import { pyLower } from '../../preprocess/text/unicode';
import { accelerate } from './fast-models';
import { SpmNormalizer } from './spm-normalizer';

type Json = Record<string, unknown>;

const ASCII_PUNCTUATION = /[!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]/g;
/** Python's \s in a str pattern, and str.strip()'s whitespace. */
const PY_SPACE = /[\s\x1c-\x1f\x85]+/gu;
const PY_SPACE_START = /^[\s\x1c-\x1f\x85]+/u;
const PY_SPACE_END = /[\s\x1c-\x1f\x85]+$/u;
const SPIECE_UNDERLINE = '\u2581';

export interface SpieceSpecials {
  readonly eos: string;
  readonly unk: string;
  /** Every special token text (eos, unk, pad, additional ones). */
  readonly all: readonly string[];
}

/** The Precompiled normaliser's charsmap in a tokenizer.json normalizer (itself or in a Sequence). */
function charsmapOf(normalizer: unknown): string | undefined {
  const n = normalizer as Json | null | undefined;
  if (!n) return undefined;
  if (n.type === 'Precompiled' && typeof n.precompiled_charsmap === 'string') return n.precompiled_charsmap;
  if (n.type === 'Sequence' && Array.isArray(n.normalizers)) for (const x of n.normalizers) if (charsmapOf(x)) return charsmapOf(x);
  return undefined;
}

export class SpieceEncoder {
  private readonly tok: Tokenizer;
  private readonly normalizer?: SpmNormalizer;
  private readonly unkLength: number;
  private readonly ids: ReadonlyMap<string, number>;
  private readonly underlineId: number | undefined;
  private readonly specialPattern: RegExp;
  private readonly lowercase: boolean;

  constructor(json: Json, cfg: Json, private readonly specials: SpieceSpecials, lookup: (t: string) => number, fast = true) {
    const charsmap = charsmapOf(json.normalizer);
    const pre = json.pre_tokenizer as Json | null | undefined;
    if (charsmap) {
      this.normalizer = new SpmNormalizer(Buffer.from(charsmap, 'base64'), { addDummyPrefix: pre?.prepend_scheme !== 'never' && pre?.add_prefix_space !== false, removeExtraWhitespaces: true });
      // the normaliser above does what these did (and escapes spaces): only the split on "▁" stays
      json = { ...json, normalizer: null, pre_tokenizer: { type: 'Metaspace', replacement: SPIECE_UNDERLINE, prepend_scheme: 'never', split: true } };
    }
    this.tok = new Tokenizer(json, cfg);
    if (fast) accelerate(this.tok);
    this.lowercase = cfg.do_lower_case !== false;
    this.ids = new Map(specials.all.map((s) => [s, lookup(s)]));
    this.underlineId = this.tok.token_to_id(SPIECE_UNDERLINE);
    this.unkLength = this.sentencepiece(specials.unk).length;
    const alternatives = [...new Set(specials.all)].sort((a, b) => b.length - a.length).map((s) => s.replace(/[|\\^$.*+?()[\]{}]/g, '\\$&'));
    this.specialPattern = new RegExp(`(${alternatives.join('|')})`, 'u');
  }

  /** SentencePiece's encode of `text` (sp_model.encode). */
  private sentencepiece(text: string): number[] {
    const t = this.normalizer ? this.normalizer.normalize(text) : text;
    return this.tok.encode(t, { add_special_tokens: false }).ids;
  }

  private canonicalize(text: string): string {
    const t = this.lowercase ? pyLower(text) : text;
    return t.replace(ASCII_PUNCTUATION, '').replace(PY_SPACE, ' ').replace(PY_SPACE_START, '').replace(PY_SPACE_END, '');
  }

  /** The caption's ids with </s>, uncut. */
  encode(text: string): number[] {
    const parts = (SPIECE_UNDERLINE + text.replaceAll(SPIECE_UNDERLINE, ' ')).split(this.specialPattern);
    // odd indices are special tokens (the capture group); each swallows the whitespace beside it
    for (let i = 1; i < parts.length; i += 2) {
      parts[i - 1] = parts[i - 1].replace(PY_SPACE_END, '');
      parts[i + 1] = parts[i + 1].replace(PY_SPACE_START, '');
    }
    const out: number[] = [];
    const special: boolean[] = [];
    parts.forEach((part, i) => {
      if (!part) return;
      if (i % 2 === 1) {
        out.push(this.ids.get(part)!);
        special.push(true);
        return;
      }
      const ids = this.sentencepiece(this.specials.unk + this.canonicalize(part));
      for (const id of ids.length >= this.unkLength ? ids.slice(this.unkLength) : ids) {
        out.push(id);
        special.push(false);
      }
    });
    if (out.length > 1 && out[0] === this.underlineId && special[1]) out.shift();
    const eos = this.ids.get(this.specials.eos)!;
    return out[out.length - 1] === eos ? out : [...out, eos];
  }
}
