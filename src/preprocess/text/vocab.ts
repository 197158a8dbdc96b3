/**
 * CLIP's BPE vocabulary on disk, in the layouts Hugging Face uses:
 *
 *   vocab.json + merges.txt  token -> id object; "#version: 0.2" header line, then one "a b" merge
 *                            per line, rank = line order (openai/clip-* repositories)
 *   tokenizer.json           HF "fast" tokenizer: model.vocab and model.merges ("a b" strings or
 *                            [a, b] pairs). Only the vocabulary and merges are used: its normalizer
 *                            and pre-tokenizer differ from OpenAI's, and ClipTokenizer always runs
 *                            OpenAI's pipeline.
 *
 * and OpenAI's own bpe_simple_vocab_16e6.txt.gz, which `buildVocabFiles` converts. Every failure is
 * a ClipqlError BAD_MODEL that names the file and says what is wrong.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { ClipqlError, ErrorCode } from '../../errors';

export const START_OF_TEXT = '<|startoftext|>';
export const END_OF_TEXT = '<|endoftext|>';
export const END_OF_WORD = '</w>';
/** OpenAI's file holds 262k merges; CLIP uses the first 49152 - 256 - 2 of them. */
export const CLIP_MERGE_COUNT = 49152 - 256 - 2;
export const MERGES_HEADER = '#version: 0.2';

/** A loaded vocabulary, with the files it came from (for error messages). */
export interface BpeVocab {
  readonly vocab: ReadonlyMap<string, number>;
  /** In rank order. */
  readonly merges: ReadonlyArray<readonly [string, string]>;
  readonly files: { readonly vocab: string; readonly merges: string };
}

function bad(file: string, what: string, cause?: unknown): ClipqlError {
  return new ClipqlError(ErrorCode.BAD_MODEL, `${file}: ${what}`, { cause, details: { file } });
}

/**
 * GPT-2's bytes_to_unicode: byte -> a printable character standing for it. Printable Latin-1
 * bytes stand for themselves; the others (controls, space, 0x7f-0xa0, 0xad) for U+0100 onwards.
 */
export function bytesToUnicode(): string[] {
  const out = new Array<string>(256);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    out[b] = String.fromCharCode(printable ? b : 256 + n++);
  }
  return out;
}

/** The order simple_tokenizer.py lists the byte symbols in: printable ones first, then the rest. */
function byteSymbolsInVocabOrder(): string[] {
  const table = bytesToUnicode();
  const printable = table.filter((c) => c.charCodeAt(0) < 256);
  return [...printable, ...table.filter((c) => c.charCodeAt(0) >= 256)];
}

async function readText(file: string): Promise<string> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw bad(file, code === 'ENOENT' ? 'missing' : `cannot be read (${code ?? String(e)})`, e);
  }
}

function parseJson(file: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw bad(file, `is not valid JSON (${(e as Error).message})`, e);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** token -> id, checked: non-negative integer ids, each used once, both special tokens present. */
function parseVocab(file: string, where: string, value: unknown): Map<string, number> {
  if (!isObject(value)) throw bad(file, `${where} must be a JSON object of token -> id, got ${Array.isArray(value) ? 'an array' : typeof value}`);
  const vocab = new Map<string, number>();
  const seen = new Map<number, string>();
  for (const [token, id] of Object.entries(value)) {
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0) {
      throw bad(file, `${where}: the id of token ${JSON.stringify(token)} must be an integer >= 0, got ${JSON.stringify(id)}`);
    }
    const other = seen.get(id);
    if (other !== undefined) throw bad(file, `${where}: tokens ${JSON.stringify(other)} and ${JSON.stringify(token)} share id ${id}`);
    seen.set(id, token);
    vocab.set(token, id);
  }
  for (const special of [START_OF_TEXT, END_OF_TEXT]) {
    if (!vocab.has(special)) throw bad(file, `${where} lacks the special token ${special}`);
  }
  return vocab;
}

function parseMergeLine(file: string, line: string, where: string): [string, string] {
  const parts = line.split(' ');
  if (parts.length !== 2 || parts[0] === '' || parts[1] === '') {
    throw bad(file, `${where}: a merge must be two tokens separated by one space, got ${JSON.stringify(line.slice(0, 80))}`);
  }
  return [parts[0], parts[1]];
}

/** Parses merges.txt: an optional "#version" header line, then "a b" lines (blank lines ignored). */
export function parseMergesText(file: string, text: string): [string, string][] {
  const lines = text.split(/\r?\n/);
  const start = lines[0]?.startsWith('#version') ? 1 : 0;
  const merges: [string, string][] = [];
  for (let i = start; i < lines.length; i++) {
    if (lines[i] !== '') merges.push(parseMergeLine(file, lines[i], `line ${i + 1}`));
  }
  if (merges.length === 0) throw bad(file, 'holds no merges');
  return merges;
}

export async function loadVocabFiles(vocabFile: string, mergesFile: string): Promise<BpeVocab> {
  const vocab = parseVocab(vocabFile, 'vocab.json', parseJson(vocabFile, await readText(vocabFile)));
  const merges = parseMergesText(mergesFile, await readText(mergesFile));
  return { vocab, merges, files: { vocab: vocabFile, merges: mergesFile } };
}

export async function loadTokenizerJson(file: string): Promise<BpeVocab> {
  const json = parseJson(file, await readText(file));
  const model = isObject(json) ? json.model : undefined;
  if (!isObject(model)) throw bad(file, 'has no "model" object (not a Hugging Face tokenizer.json?)');
  if (model.type !== undefined && model.type !== 'BPE') throw bad(file, `model.type must be "BPE", got ${JSON.stringify(model.type)}`);
  const vocab = parseVocab(file, 'model.vocab', model.vocab);
  if (!Array.isArray(model.merges)) throw bad(file, 'model.merges must be an array');
  const merges = model.merges.map((m: unknown, i: number): [string, string] => {
    if (typeof m === 'string') return parseMergeLine(file, m, `model.merges[${i}]`);
    if (Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string') return [m[0], m[1]];
    throw bad(file, `model.merges[${i}] must be "a b" or ["a", "b"], got ${JSON.stringify(m)?.slice(0, 80)}`);
  });
  return { vocab, merges, files: { vocab: file, merges: file } };
}

/** The files a bundle's vocabulary is read from: tokenizer.json when present, else vocab.json + merges.txt. */
export async function bundleVocabFiles(dir: string): Promise<BpeVocab['files']> {
  const tokenizerJson = path.join(dir, 'tokenizer.json');
  const isFile = await fs.stat(tokenizerJson).then((s) => s.isFile(), () => false);
  return isFile ? { vocab: tokenizerJson, merges: tokenizerJson } : { vocab: path.join(dir, 'vocab.json'), merges: path.join(dir, 'merges.txt') };
}

/** The vocabulary in `files` (bundleVocabFiles): one tokenizer.json, or vocab.json + merges.txt. */
export function loadVocab(files: BpeVocab['files']): Promise<BpeVocab> {
  return files.vocab === files.merges ? loadTokenizerJson(files.vocab) : loadVocabFiles(files.vocab, files.merges);
}

/** A bundle's tokenizer files: tokenizer.json when present, else vocab.json + merges.txt. */
export async function loadBundleVocab(dir: string): Promise<BpeVocab> {
  return loadVocab(await bundleVocabFiles(dir));
}

/**
 * The vocabulary simple_tokenizer.py builds from OpenAI's file: the 256 byte symbols, the same
 * with </w>, each merge joined, <|startoftext|> (49406), <|endoftext|> (49407).
 */
export function openAiVocab(file: string, text: string): { vocab: Map<string, number>; merges: [string, string][] } {
  const lines = text.split('\n');
  if (lines.length < CLIP_MERGE_COUNT + 1) {
    throw bad(file, `holds ${lines.length} lines; OpenAI's BPE file has a header and at least ${CLIP_MERGE_COUNT} merges`);
  }
  const merges = lines.slice(1, CLIP_MERGE_COUNT + 1).map((l, i) => parseMergeLine(file, l, `line ${i + 2}`));
  const bytes = byteSymbolsInVocabOrder();
  const tokens = [...bytes, ...bytes.map((b) => b + END_OF_WORD), ...merges.map(([a, b]) => a + b), START_OF_TEXT, END_OF_TEXT];
  // dict(zip(vocab, range(len(vocab)))): a repeated token would keep its last id.
  return { vocab: new Map(tokens.map((t, i) => [t, i])), merges };
}

/** Writes `text` to `file` through a temporary file and a rename, so readers never see half a file. */
async function writeAtomic(file: string, text: string): Promise<void> {
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await fs.writeFile(tmp, text, 'utf8');
    await fs.rename(tmp, file);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw bad(file, `cannot be written (${(e as NodeJS.ErrnoException).code ?? String(e)})`, e);
  }
}

/**
 * Converts OpenAI's bpe_simple_vocab_16e6.txt.gz into the vocab.json + merges.txt that Hugging
 * Face's openai/clip-* repositories hold (49408 tokens; "#version: 0.2" then 48894 merges).
 * vocab.json is written as Python's json.dumps(ensure_ascii=False) writes it, in id order.
 * Safe to run concurrently for the same folder: each file appears whole, by rename, and
 * merges.txt before vocab.json, so a reader that finds vocab.json finds both.
 */
export async function buildVocabFiles(bpeGzPath: string, outDir: string): Promise<void> {
  let raw: Buffer;
  try {
    raw = await fs.readFile(bpeGzPath);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw bad(bpeGzPath, code === 'ENOENT' ? "missing (OpenAI's bpe_simple_vocab_16e6.txt.gz)" : `cannot be read (${code ?? String(e)})`, e);
  }
  let text: string;
  try {
    text = (await promisify(gunzip)(raw)).toString('utf8');
  } catch (e) {
    throw bad(bpeGzPath, `is not gzip data (${(e as Error).message})`, e);
  }
  const { vocab, merges } = openAiVocab(bpeGzPath, text);
  await fs.mkdir(outDir, { recursive: true });
  const json = '{' + Array.from(vocab, ([t, id]) => `${JSON.stringify(t)}: ${id}`).join(', ') + '}';
  await writeAtomic(path.join(outDir, 'merges.txt'), [MERGES_HEADER, ...merges.map(([a, b]) => `${a} ${b}`)].join('\n') + '\n');
  await writeAtomic(path.join(outDir, 'vocab.json'), json);
}
