#!/usr/bin/env node
/**
 * clipql on the command line:
 *
 *   clipql similarity --model DIR IMAGE... --caption TEXT [--caption TEXT...] [--prefix "It is "]
 *                     [--backend onnx|torch] [--fast] [--json]
 *
 * prints the caption × image cosine-similarity matrix (rows = captions, columns = images) as a
 * table, or as JSON with --json. `clipql index` and `clipql search` (a folder into a collection,
 * and a caption against it) are in index-command.ts and search-command.ts, `clipql duplicates` in
 * duplicates-command.ts. Errors are printed as "error [CODE]: message", exit status 1
 * (2 for a usage error).
 */
import { stopSharedProcesses } from '../backends/registry';
import { loadConfig } from '../config/config';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ClipqlError, ErrorCode, isClipqlError } from '../errors';
import { TINY_MODEL_DIR } from '../paths';
import { ClipPipeline } from '../pipeline';
import { DUPLICATES_USAGE, duplicatesCommand } from './duplicates-command';
import { INDEX_USAGE, indexCommand, type Io } from './index-command';
import { searchCommand } from './search-command';

const USAGE = `usage: clipql similarity --model DIR IMAGE... --caption TEXT [--caption TEXT...]
                         [--prefix TEXT] [--backend NAME] [--fast] [--json]`;

/** The process's terminal and Ctrl-C, for index and search. */
const processIo: Io = {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
  tty: Boolean(process.stderr.isTTY),
  onInterrupt(handler) {
    process.on('SIGINT', handler);
    return () => process.off('SIGINT', handler);
  },
};

export async function main(argv: string[], out: (s: string) => void = (s) => process.stdout.write(s), io: Io = processIo): Promise<number> {
  const [command, ...rest] = argv;
  if (command === 'index' || command === 'search' || command === 'duplicates') {
    let config;
    try {
      config = loadConfig().config;
    } catch (e) {
      if (!(e instanceof ClipqlError)) throw e;
      io.err(`error [${e.code}]: ${e.message}\n`);
      return 2;
    }
    return (command === 'index' ? indexCommand : command === 'search' ? searchCommand : duplicatesCommand)(rest, config, io);
  }
  if (command !== 'similarity') {
    out(`${USAGE}\n${INDEX_USAGE}\n       ${DUPLICATES_USAGE.slice('usage: '.length)}\n`);
    return command === '--help' || command === '-h' ? 0 : 2;
  }
  let args;
  try {
    args = parseArgs({
      args: rest,
      allowPositionals: true,
      options: {
        model: { type: 'string' },
        caption: { type: 'string', multiple: true },
        prefix: { type: 'string', default: '' },
        backend: { type: 'string' },
        fast: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
      },
    });
  } catch (e) {
    out(`error [${ErrorCode.BAD_USER_INPUT}]: ${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const { values, positionals } = args;
  const captions = (values.caption ?? []).map((c) => values.prefix + c);
  let config;
  try {
    config = loadConfig().config;
  } catch (e) {
    if (!(e instanceof ClipqlError)) throw e;
    out(`error [${e.code}]: ${e.message}\n`);
    return 2;
  }
  const modelDir = values.model ?? config.CLIP_MODEL ?? TINY_MODEL_DIR;
  let pipeline: ClipPipeline | undefined;
  try {
    if (positionals.length === 0) throw new ClipqlError(ErrorCode.BAD_USER_INPUT, 'no images given');
    if (captions.length === 0) throw new ClipqlError(ErrorCode.BAD_USER_INPUT, 'no captions given (use --caption TEXT, once per caption)');
    const images = await Promise.all(positionals.map(readImageFile));
    pipeline = await ClipPipeline.open({ modelDir, config, backend: values.backend ?? config.CLIP_BACKEND, preprocessMode: values.fast ? 'fast' : 'exact' });
    const result = await pipeline.similarity(images, captions);
    const names = positionals.map((p) => path.basename(p));
    if (values.json) {
      out(`${JSON.stringify({ model: pipeline.bundle.name, randomWeights: pipeline.bundle.randomWeights, images: names, captions, scores: result.scores, bestCaptionPerImage: result.bestCaptionPerImage, bestImagePerCaption: result.bestImagePerCaption }, null, 2)}\n`);
    } else {
      if (pipeline.bundle.randomWeights) out(`warning: ${pipeline.bundle.name} has seeded random weights; its similarities are meaningless (see README: "Use real CLIP")\n`);
      out(formatTable(names, captions, result.scores));
    }
    return 0;
  } catch (e) {
    const code = isClipqlError(e) ? e.code : ErrorCode.INTERNAL_SERVER_ERROR;
    out(`error [${code}]: ${(e as Error).message}\n`);
    return 1;
  } finally {
    await pipeline?.close();
  }
}

async function readImageFile(file: string): Promise<Uint8Array> {
  try {
    return await readFile(file);
  } catch (e) {
    throw new ClipqlError(ErrorCode.BAD_IMAGE, `${file}: cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
}

/** Rows = captions, columns = images; the best caption of each image marked with '*'. */
export function formatTable(images: string[], captions: string[], scores: number[][]): string {
  const best = images.map((_, j) => scores.reduce((b, row, i) => (row[j] > scores[b][j] ? i : b), 0));
  const w = Math.max(8, ...images.map((n) => n.length));
  const cw = Math.min(48, Math.max(7, ...captions.map((c) => c.length)));
  const cell = (s: string) => s.padStart(w);
  let t = `${''.padEnd(cw)} | ${images.map(cell).join(' ')}\n`;
  t += `${'-'.repeat(cw)}-+-${images.map(() => '-'.repeat(w)).join('-')}\n`;
  captions.forEach((c, i) => {
    const label = c.length > cw ? `${c.slice(0, cw - 1)}…` : c.padEnd(cw);
    t += `${label} | ${scores[i].map((v, j) => cell(`${best[j] === i ? '*' : ''}${v.toFixed(4)}`)).join(' ')}\n`;
  });
  return t;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(async (code) => {
    await stopSharedProcesses(); // a torch fork server, if one started, is reaped here, not left to init
    process.exitCode = code;
  });
}
