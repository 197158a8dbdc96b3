/**
 * Shared by the tokenizer tests: OpenAI's vocabulary from the workplace's shared files, built into
 * a temporary folder once per test process, and the Python reference (models/simple_tokenizer.py,
 * run by /usr/bin/python3) for expected ids computed at test time.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '../../src/paths';
import { buildVocabFiles, ClipTokenizer } from '../../src/preprocess/text';

export const PYTHON = '/usr/bin/python3';

/** OpenAI's bpe_simple_vocab_16e6.txt.gz from ../shared (or $CLIPQL_SHARED); a clear failure when absent. */
export function bpeGzPath(): string {
  const shared = process.env.CLIPQL_SHARED ?? path.join(REPO_ROOT, '..', 'shared');
  const file = path.join(shared, 'clip', 'bpe_simple_vocab_16e6.txt.gz');
  if (!existsSync(file)) {
    throw new Error(
      `${file} is missing. The tokenizer tests need OpenAI's CLIP vocabulary: put bpe_simple_vocab_16e6.txt.gz ` +
        '(https://github.com/openai/CLIP/raw/main/clip/bpe_simple_vocab_16e6.txt.gz, sha256 ' +
        '924691ac288e54409236115652ad4aa250f48203de50a9e4722a6ecd48d6804a) in ../shared/clip beside the ' +
        'repository, or set CLIPQL_SHARED to a folder holding clip/bpe_simple_vocab_16e6.txt.gz.',
    );
  }
  return file;
}

export function referenceJsonPath(): string {
  const file = path.join(path.dirname(bpeGzPath()), 'tokenizer-reference.json');
  if (!existsSync(file)) throw new Error(`${file} is missing: it holds the 220 reference strings (see ../shared/README.md)`);
  return file;
}

let tmpRoot: string | undefined;
/** A fresh temporary folder under os.tmpdir(), removed when the process exits. */
export function tempDir(name: string): string {
  if (tmpRoot === undefined) {
    const root = mkdtempSync(path.join(os.tmpdir(), 'clipql-tokenizer-'));
    tmpRoot = root;
    process.on('exit', () => rmSync(root, { recursive: true, force: true }));
  }
  return mkdtempSync(path.join(tmpRoot, `${name}-`));
}

let vocabDir: Promise<string> | undefined;
/** vocab.json + merges.txt built from OpenAI's file, once per process. */
export function builtVocabDir(): Promise<string> {
  vocabDir ??= (async () => {
    const dir = tempDir('vocab');
    await buildVocabFiles(bpeGzPath(), dir);
    return dir;
  })();
  return vocabDir;
}

let tokenizer: Promise<ClipTokenizer> | undefined;
export function loadTokenizer(): Promise<ClipTokenizer> {
  tokenizer ??= builtVocabDir().then((dir) => ClipTokenizer.fromBundle(dir));
  return tokenizer;
}

function runPython(args: string[], texts: readonly string[]): number[][] {
  const out = execFileSync(PYTHON, args, {
    cwd: REPO_ROOT,
    input: texts.map((t) => JSON.stringify(t)).join('\n') + '\n',
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  const rows = out.trim() === '' ? [] : out.trim().split('\n').map((l) => JSON.parse(l) as number[]);
  if (rows.length !== texts.length) throw new Error(`the Python reference answered ${rows.length} lines for ${texts.length} strings`);
  return rows;
}

/** clip.tokenize(text) (77 ids, truncate=True) by the Python reference script, one row per text. */
export function pythonTokenize(texts: readonly string[]): number[][] {
  return texts.length === 0 ? [] : runPython(['models/simple_tokenizer.py', bpeGzPath()], texts);
}

/** SimpleTokenizer.encode(text) (all bpe ids, no start/end) by the Python reference. */
export function pythonEncode(texts: readonly string[]): number[][] {
  const script = [
    'import json, sys',
    "sys.path.insert(0, 'models')",
    'from simple_tokenizer import SimpleTokenizer',
    'tok = SimpleTokenizer(sys.argv[1])',
    'for line in sys.stdin:',
    '    print(json.dumps(tok.encode(json.loads(line))))',
  ].join('\n');
  return texts.length === 0 ? [] : runPython(['-c', script, bpeGzPath()], texts);
}

/** Runs a Python snippet that reads JSON lines and prints one JSON value per line. */
export function pythonMap<T>(body: string, inputs: readonly unknown[]): T[] {
  const script = ['import json, sys', 'for line in sys.stdin:', '    x = json.loads(line)', ...body.split('\n').map((l) => '    ' + l)].join('\n');
  const out = execFileSync(PYTHON, ['-c', script], {
    cwd: REPO_ROOT,
    input: inputs.map((t) => JSON.stringify(t)).join('\n') + '\n',
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  return out.trim() === '' ? [] : out.trim().split('\n').map((l) => JSON.parse(l) as T);
}

/** A readable form of a string for test names and messages (escapes controls and invisible characters). */
export function show(s: string, max = 60): string {
  const j = JSON.stringify(s.length > max ? s.slice(0, max) + '…' : s);
  return j.replace(/[\u0080-\u00a0\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u2028-\u202f\u205f-\u206f\u3000\ufe00-\ufe0f\ufeff\ufff0-\ufffb]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Fails naming the string, the first differing index and both values. */
export function assertIds(actual: ArrayLike<number>, expected: ArrayLike<number>, text: string, what = 'ids'): void {
  const n = Math.max(actual.length, expected.length);
  for (let i = 0; i < n; i++) {
    if (actual[i] !== expected[i]) {
      throw new Error(
        `${what} of ${show(text)} differ at index ${i}: got ${actual[i] ?? '(end)'}, reference ${expected[i] ?? '(end)'} ` +
          `(lengths ${actual.length} and ${expected.length})`,
      );
    }
  }
}
