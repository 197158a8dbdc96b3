/**
 * SigLIP's text side, through Hugging Face's own tokenizers library for JavaScript
 * (@huggingface/tokenizers, which reads tokenizer.json: Unigram, BPE with byte fallback, the
 * normalisers and pre-tokenizers transformers writes; its two model loops swapped for
 * fast-models.ts' equivalents) plus what transformers' tokenizer classes do around
 * tokenizer.json, by `tokenizer_class` in tokenizer_config.json:
 *
 *   SiglipTokenizer (SentencePiece unigram, google/siglip-*): spiece.ts. Pads on the right with
 *     pad_token (</s>).
 *   Siglip2Tokenizer, GemmaTokenizer (SigLIP 2's Gemma vocabulary): lowercased first, per code
 *     point (Siglip2Tokenizer's Lowercase normaliser; SigLIP 2 was trained on lowercased text),
 *     then tokenizer.json as it is, special tokens from its post-processor. Pads on the left
 *     unless padding_side says otherwise (transformers' default for these classes).
 *
 * Every caption is padded to the context with the pad token: SigLIP was trained so (no attention
 * mask; the text tower pools the last position). Text beyond the context is cut, special tokens
 * kept, as transformers' truncation=True does; `untruncatedLength` reports the cut.
 *
 * A possible difference, not seen on the test strings: SentencePiece scores a whole caption in one
 * lattice, tokenizers word by word; where two segmentations of a word score exactly the same, the
 * float sums could pick different ones.
 */
import { promises as fs } from 'node:fs';
import { Tokenizer } from '@huggingface/tokenizers';
import { ClipqlError, ErrorCode } from '../../errors';
import type { TextTokenizer, TokenizerFiles } from '../family';
import { accelerate } from './fast-models';
import { SpieceEncoder } from './spiece';

type Json = Record<string, unknown>;

function bad(file: string, what: string): ClipqlError {
  return new ClipqlError(ErrorCode.BAD_MODEL, `${file}: ${what}`, { details: { file } });
}

async function readJson(file: string): Promise<Json> {
  try {
    const v: unknown = JSON.parse(await fs.readFile(file, 'utf8'));
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not a JSON object');
    return v as Json;
  } catch (e) {
    throw bad(file, `cannot be read as JSON (${(e as Error).message})`);
  }
}

/** A special token's text: a string, or an AddedToken object's content. */
function tokenText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'object' && v !== null && typeof (v as Json).content === 'string') return (v as Json).content as string;
  return undefined;
}

/** Lowercase per code point, as Rust's char::to_lowercase in tokenizers' Lowercase (no final-sigma rule). */
function lowerPerCodePoint(text: string): string {
  let out = '';
  for (const ch of text) out += ch.toLowerCase();
  return out;
}

interface Frame {
  readonly prefix: readonly number[];
  readonly suffix: readonly number[];
}

/** The special tokens tokenizer.json's post-processor puts around one sequence. */
function templateFrame(json: Json, tok: Tokenizer, file: string): Frame {
  const pp = json.post_processor as Json | null | undefined;
  if (!pp) return { prefix: [], suffix: [] };
  if (pp.type !== 'TemplateProcessing' || !Array.isArray(pp.single)) throw bad(file, `post_processor ${JSON.stringify(pp.type)} is not supported (TemplateProcessing or none)`);
  const prefix: number[] = [];
  const suffix: number[] = [];
  let seen = false;
  for (const item of pp.single as Json[]) {
    if (item.Sequence) {
      seen = true;
      continue;
    }
    const name = (item.SpecialToken as Json | undefined)?.id;
    const id = typeof name === 'string' ? tok.token_to_id(name) : undefined;
    if (id === undefined) throw bad(file, `post_processor names a special token ${JSON.stringify(name)} that is not in the vocabulary`);
    (seen ? suffix : prefix).push(id);
  }
  return { prefix, suffix };
}

export class SiglipTextTokenizer implements TextTokenizer {
  private constructor(
    /** The caption's ids with its special tokens, uncut. */
    private readonly encodeFull: (text: string) => number[],
    /** The special tokens that stay at the end when a caption is cut. */
    private readonly suffix: readonly number[],
    readonly padId: number,
    private readonly padLeft: boolean,
  ) {}

  /**
   * `libraryModels`: keep @huggingface/tokenizers' own BPE / Unigram loops instead of
   * fast-models.ts' (the same pieces, slower): for the benchmark's before/after and the tests that
   * compare the two.
   */
  static async open(files: TokenizerFiles, options: { libraryModels?: boolean } = {}): Promise<SiglipTextTokenizer> {
    const file = files.tokenizerJson;
    if (!file) throw bad(files.tokenizerDir, 'a SigLIP model needs tokenizer.json (or spiece.model)');
    const json = await readJson(file);
    const cfgFile = `${files.tokenizerDir}/tokenizer_config.json`;
    const cfg = await readJson(cfgFile).catch(() => ({}) as Json);
    let tok: Tokenizer;
    try {
      tok = new Tokenizer(json, cfg);
    } catch (e) {
      throw bad(file, `is not a tokenizer.json this library reads (${(e as Error).message})`);
    }
    const cls = typeof cfg.tokenizer_class === 'string' ? cfg.tokenizer_class : (json.model as Json | undefined)?.type === 'Unigram' ? 'SiglipTokenizer' : 'GemmaTokenizer';
    const spiece = cls === 'SiglipTokenizer';
    const special = (key: string, fallback: string): string => tokenText(cfg[key]) ?? fallback;
    const idOf = (text: string): number => {
      const id = tok.token_to_id(text);
      if (id === undefined) throw bad(cfgFile, `the special token ${JSON.stringify(text)} is not in the vocabulary of ${file}`);
      return id;
    };
    const side = cfg.padding_side ?? (spiece ? 'right' : 'left');
    if (side !== 'left' && side !== 'right') throw bad(cfgFile, `padding_side must be "left" or "right", got ${JSON.stringify(side)}`);
    if (spiece) {
      const [eos, unk, pad] = [special('eos_token', '</s>'), special('unk_token', '<unk>'), special('pad_token', '</s>')];
      const extra = Array.isArray(cfg.additional_special_tokens) ? cfg.additional_special_tokens.map(tokenText).filter((t): t is string => !!t) : [];
      const encoder = new SpieceEncoder(json, cfg, { eos, unk, all: [eos, unk, pad, ...extra] }, idOf, !options.libraryModels);
      return new SiglipTextTokenizer((t) => encoder.encode(t), [idOf(eos)], idOf(pad), side === 'left');
    }
    if (!options.libraryModels) accelerate(tok);
    const frame = templateFrame(json, tok, file);
    const encodeFull = (t: string) => [...frame.prefix, ...tok.encode(lowerPerCodePoint(t), { add_special_tokens: false }).ids, ...frame.suffix];
    return new SiglipTextTokenizer(encodeFull, frame.suffix, idOf(special('pad_token', '<pad>')), side === 'left');
  }

  private ids(text: string): number[] {
    if (typeof text !== 'string') throw new ClipqlError(ErrorCode.BAD_USER_INPUT, `a caption must be a string, got ${text === null ? 'null' : typeof text}`);
    return this.encodeFull(text);
  }

  untruncatedLength(text: string): number {
    return this.ids(text).length;
  }

  tokenize(text: string, contextLength: number): Int32Array {
    let ids = this.ids(text);
    if (ids.length > contextLength) ids = [...ids.slice(0, contextLength - this.suffix.length), ...this.suffix];
    const out = new Int32Array(contextLength).fill(this.padId);
    out.set(ids, this.padLeft ? contextLength - ids.length : 0);
    return out;
  }
}
