/**
 * CLIP's tokenizer: OpenAI's clip/simple_tokenizer.py and clip.tokenize(truncate=True), id for id.
 *
 *   encode(text)   = bpe ids of pyLower(whitespace_clean(basic_clean(text))), split by
 *                    <|startoftext|>|<|endoftext|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
 *                    (IGNORECASE), each piece as UTF-8 bytes through bytes_to_unicode, BPE-merged
 *                    with '</w>' on its last symbol
 *   tokenize(text) = [<|startoftext|>, ...encode(text), <|endoftext|>], cut to contextLength keeping
 *                    <|endoftext|> last, zero-padded
 *
 * The classes are the reference's, not the JS engine's (unicode.ts). A user who types
 * "<|endoftext|>" gets the special id, as with OpenAI's code. IGNORECASE matters for one
 * character only: 'ſ' (U+017F) matches the s of "'s" and of the special tokens; a special token
 * spelt with it is BPE-encoded like any text, as in Python (only the exact strings are special).
 */
import { promises as fs } from 'node:fs';
import { ClipqlError, ErrorCode } from '../../errors';
import { BpeMerges } from './bpe';
import { basicClean, whitespaceClean } from './clean';
import { classOf, pyLower } from './unicode';
import { IGNORECASE_VARIANTS, REGEX_LETTER, REGEX_NUMBER, REGEX_SPACE } from './unicode-tables';
import { bundleVocabFiles, bytesToUnicode, END_OF_TEXT, END_OF_WORD, loadVocab, START_OF_TEXT, type BpeVocab } from './vocab';

export const DEFAULT_CONTEXT_LENGTH = 77;

/** A literal of the pattern with each letter replaced by what it matches under IGNORECASE. */
function ignoreCase(literal: string): string {
  return Array.from(literal, (ch) => {
    const variants = IGNORECASE_VARIANTS[ch];
    return variants && variants.length > 1 ? `[${variants}]` : ch.replace(/[|\\^$.*+?()[\]{}]/g, '\\$&');
  }).join('');
}

const LETTER = classOf(REGEX_LETTER);
const NUMBER = classOf(REGEX_NUMBER);
const SPACE = classOf(REGEX_SPACE);
const PIECE_RE = new RegExp(
  [
    ...[START_OF_TEXT, END_OF_TEXT, "'s", "'t", "'re", "'ve", "'m", "'ll", "'d"].map(ignoreCase),
    `[${LETTER}]+`,
    `[${NUMBER}]`,
    `[^${SPACE}${LETTER}${NUMBER}]+`,
  ].join('|'),
  'gu',
);

/** The pieces re.findall(pat, text) gives for an already cleaned and lowercased text. */
export function splitPieces(cleaned: string): string[] {
  return Array.from(cleaned.matchAll(PIECE_RE), (m) => m[0]);
}

export interface ClipTokenizerOptions {
  /** Size of each of the two generations of the per-word BPE cache (see `remember`). Default 10000. */
  readonly cacheSize?: number;
  /** Words longer than this (UTF-16 units) are not cached, so one hostile caption cannot fill it. Default 64. */
  readonly maxCachedWordLength?: number;
  /** The files the vocabulary came from, named in BAD_MODEL errors. */
  readonly files?: BpeVocab['files'];
}

/**
 * What a vocabulary compiles to: immutable, so every tokenizer over the same files shares one
 * copy (each keeps its own word cache).
 */
interface Tables {
  readonly startId: number;
  readonly endId: number;
  readonly vocabSize: number;
  readonly merges: BpeMerges;
  /** Vocabulary id of each byte's symbol, and of the same with </w> (a word's last byte). */
  readonly byteIds: Int32Array;
  readonly byteEndIds: Int32Array;
}

/** Throws ClipqlError BAD_MODEL naming the file when a special token, byte symbol or merge token is missing. */
function compileTables(vocab: ReadonlyMap<string, number>, merges: ReadonlyArray<readonly [string, string]>, files: BpeVocab['files']): Tables {
  const bad = (file: string, what: string) => new ClipqlError(ErrorCode.BAD_MODEL, `${file}: ${what}`, { details: { file } });
  const id = (token: string, file: string, what: string | (() => string)): number => {
    const v = vocab.get(token);
    if (v === undefined) throw bad(file, `${typeof what === 'string' ? what : what()} ${JSON.stringify(token)} is not in the vocabulary`);
    return v;
  };
  const startId = id(START_OF_TEXT, files.vocab, 'special token');
  const endId = id(END_OF_TEXT, files.vocab, 'special token');
  const byteIds = new Int32Array(256);
  const byteEndIds = new Int32Array(256);
  bytesToUnicode().forEach((symbol, b) => {
    byteIds[b] = id(symbol, files.vocab, 'byte symbol');
    byteEndIds[b] = id(symbol + END_OF_WORD, files.vocab, 'byte symbol');
  });
  let maxId = -1;
  for (const v of vocab.values()) maxId = Math.max(maxId, v);
  return {
    startId,
    endId,
    vocabSize: maxId + 1,
    byteIds,
    byteEndIds,
    merges: new BpeMerges(
      merges.map(([a, b], rank) => {
        const what = (part: string) => () => `merge ${rank} (${JSON.stringify(`${a} ${b}`)}): ${part}`;
        return [id(a, files.merges, what('token')), id(b, files.merges, what('token')), id(a + b, files.merges, what('merged token'))] as const;
      }),
    ),
  };
}

/**
 * A bundle's compiled tables, by the identity of its files (path, size, modification time,
 * inode): the models a process serves usually share one vocabulary, and parsing and compiling it
 * costs about 0.2 s of CPU. Changed files have another identity and are read again; a failure is
 * not kept.
 */
const bundleTables = new Map<string, Promise<Tables>>();
const BUNDLE_TABLES_KEPT = 8;

async function tablesOfBundle(dir: string): Promise<Tables> {
  const files = await bundleVocabFiles(dir);
  const key = (await Promise.all([...new Set([files.vocab, files.merges])].map(async (f) => {
    const st = await fs.stat(f).catch(() => undefined);
    return st ? `${f}:${st.size}:${st.mtimeMs}:${st.ino}` : `${f}:missing`;
  }))).join('|');
  let tables = bundleTables.get(key);
  if (!tables) {
    tables = loadVocab(files).then((v) => compileTables(v.vocab, v.merges, v.files));
    bundleTables.set(key, tables);
    tables.catch(() => bundleTables.delete(key));
    if (bundleTables.size > BUNDLE_TABLES_KEPT) bundleTables.delete(bundleTables.keys().next().value!);
  }
  return tables;
}

export class ClipTokenizer {
  /** clip.tokenize pads with zeros. */
  readonly padId = 0;
  readonly startId: number;
  readonly endId: number;
  readonly vocabSize: number;
  private readonly merges: BpeMerges;
  private readonly byteIds: Int32Array;
  private readonly byteEndIds: Int32Array;
  private recent = new Map<string, readonly number[]>();
  private older = new Map<string, readonly number[]>();
  private readonly cacheSize: number;
  private readonly maxCachedWordLength: number;
  private readonly utf8 = new TextEncoder();
  private readonly utf8Decoder = new TextDecoder();

  private constructor(tables: Tables, options: Omit<ClipTokenizerOptions, 'files'>) {
    ({ startId: this.startId, endId: this.endId, vocabSize: this.vocabSize, merges: this.merges, byteIds: this.byteIds, byteEndIds: this.byteEndIds } = tables);
    this.cacheSize = options.cacheSize ?? 10000;
    this.maxCachedWordLength = options.maxCachedWordLength ?? 64;
    for (const [name, v] of [['cacheSize', this.cacheSize], ['maxCachedWordLength', this.maxCachedWordLength]] as const) {
      if (!Number.isInteger(v) || v < 0) throw new TypeError(`ClipTokenizer option ${name} must be an integer >= 0, got ${v}`);
    }
  }

  /**
   * A tokenizer from an in-memory vocabulary (token -> id) and merges in rank order.
   * Throws ClipqlError BAD_MODEL when a special token, byte symbol or merge token is missing.
   */
  static fromVocab(
    vocab: ReadonlyMap<string, number> | Readonly<Record<string, number>>,
    merges: ReadonlyArray<readonly [string, string]>,
    options: ClipTokenizerOptions = {},
  ): ClipTokenizer {
    const map = vocab instanceof Map ? vocab : new Map(Object.entries(vocab as Record<string, number>));
    return new ClipTokenizer(compileTables(map, merges, options.files ?? { vocab: 'vocabulary', merges: 'merges' }), options);
  }

  /** A bundle folder's tokenizer: tokenizer.json when present, else vocab.json + merges.txt. */
  static async fromBundle(dir: string, options: Omit<ClipTokenizerOptions, 'files'> = {}): Promise<ClipTokenizer> {
    return new ClipTokenizer(await tablesOfBundle(dir), options);
  }

  /** The BPE ids of `text`, without start/end tokens: SimpleTokenizer.encode. */
  encode(text: string): number[] {
    if (typeof text !== 'string') {
      throw new ClipqlError(ErrorCode.BAD_USER_INPUT, `a caption must be a string, got ${text === null ? 'null' : typeof text}`);
    }
    const cleaned = pyLower(whitespaceClean(basicClean(text)));
    const ids: number[] = [];
    PIECE_RE.lastIndex = 0;
    for (let m = PIECE_RE.exec(cleaned); m !== null; m = PIECE_RE.exec(cleaned)) {
      for (const id of this.word(m[0])) ids.push(id);
    }
    return ids;
  }

  /**
   * clip.tokenize(text, context_length, truncate=True) for one caption: start, ids, end, cut to
   * `contextLength` with the end token kept last, zero-padded.
   */
  tokenize(text: string, contextLength = DEFAULT_CONTEXT_LENGTH): Int32Array {
    checkContextLength(contextLength);
    const out = new Int32Array(contextLength);
    this.fill(out, 0, this.encode(text), contextLength);
    return out;
  }

  /** Row-major [texts.length, contextLength] int64 ids: the input_ids a CLIP text tower takes. */
  tokenizeBatch(texts: readonly string[], contextLength = DEFAULT_CONTEXT_LENGTH): BigInt64Array {
    if (!Array.isArray(texts)) throw new ClipqlError(ErrorCode.BAD_USER_INPUT, `captions must be an array of strings, got ${typeof texts}`);
    checkContextLength(contextLength);
    const rows = new Int32Array(texts.length * contextLength);
    texts.forEach((t, i) => {
      if (typeof t !== 'string') throw new ClipqlError(ErrorCode.BAD_USER_INPUT, `captions[${i}] must be a string, got ${t === null ? 'null' : typeof t}`);
      this.fill(rows, i * contextLength, this.encode(t), contextLength);
    });
    const out = new BigInt64Array(rows.length);
    for (let i = 0; i < rows.length; i++) out[i] = BigInt(rows[i]);
    return out;
  }

  /** How many tokens the caption has with start and end, before any cut (> contextLength: truncated). */
  untruncatedLength(text: string): number {
    return this.encode(text).length + 2;
  }

  private fill(out: Int32Array, offset: number, ids: number[], contextLength: number): void {
    const n = Math.min(ids.length, contextLength - 2);
    out[offset] = this.startId;
    for (let i = 0; i < n; i++) out[offset + 1 + i] = ids[i];
    out[offset + 1 + n] = this.endId;
  }

  /** The ids of one piece of the split, through the bounded cache. */
  private word(piece: string): readonly number[] {
    if (piece === START_OF_TEXT) return [this.startId];
    if (piece === END_OF_TEXT) return [this.endId];
    let cached = this.recent.get(piece);
    if (cached !== undefined) return cached;
    cached = this.older.get(piece);
    if (cached !== undefined) {
      this.remember(piece, cached);
      return cached;
    }
    const bytes = this.utf8.encode(piece);
    const symbols = new Array<number>(bytes.length);
    for (let i = 0; i < bytes.length; i++) symbols[i] = i + 1 < bytes.length ? this.byteIds[bytes[i]] : this.byteEndIds[bytes[i]];
    const ids = this.merges.apply(symbols);
    // The key is decoded afresh: `piece` may be a V8 slice that would pin the whole caption.
    if (piece.length <= this.maxCachedWordLength) this.remember(this.utf8Decoder.decode(bytes), ids);
    return ids;
  }

  /**
   * A two-generation cache: words go into `recent`; when it is full it becomes `older` and the
   * previous `older` is dropped; a hit in `older` moves the word back into `recent`. Words used
   * within the last cacheSize insertions stay, at most 2 x cacheSize are held, and a hit costs one
   * Map lookup (an exact LRU's delete + re-insert on every hit cost a third of encode's time).
   */
  private remember(piece: string, ids: readonly number[]): void {
    if (this.cacheSize === 0) return;
    if (this.recent.size >= this.cacheSize) {
      this.older = this.recent;
      this.recent = new Map();
    }
    this.recent.set(piece, ids);
  }

  /** Words in the BPE cache now (at most 2 x cacheSize; for tests and metrics). */
  get cachedWords(): number {
    return this.recent.size + this.older.size;
  }
}

function checkContextLength(n: number): void {
  if (!Number.isInteger(n) || n < 2) throw new RangeError(`contextLength must be an integer >= 2, got ${n}`);
}
