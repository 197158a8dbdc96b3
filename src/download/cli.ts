#!/usr/bin/env node
/**
 * `npm run models -- <command>`: get real CLIP models.
 *
 *   list                        the manifest's models and what is on disk
 *   download [NAME] [--format onnx|torch|all] [--pin] [--force]   (`fetch`: its former name)
 *                               download NAME (default: the manifest's default) into models/NAME
 *   verify NAME                 re-hash a fetched model against the manifest and its fetch record
 *   remove NAME                 delete a fetched model (and any interrupted fetch of it)
 *   export SOURCE --out DIR ... models/export.py (a checkpoint or a Hugging Face folder -> an ONNX
 *                               bundle) under the project's Python (CLIP_TORCH_PYTHON, else .venv)
 *
 * Options for every command: --manifest FILE (default models/manifest.json), --models-dir DIR
 * (default models/); for download: --stall-timeout SECONDS (60), --retries N (5).
 * Environment: HF_ENDPOINT, HF_TOKEN, HTTPS_PROXY / HTTP_PROXY / NO_PROXY.
 * Progress goes to stderr, results to stdout. Exit status: 0 ok, 1 failure, 2 usage error.
 */
import { groupEnv, loadConfig } from '../config/config';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ErrorCode, isClipqlError } from '../errors';
import { spawnSync } from 'node:child_process';
import { defaultPython, REPO_ROOT } from '../paths';
import { downloadModel, summarize } from './model-download';
import { FORMAT_SELECTIONS, loadManifest, type FormatSelection } from './manifest';
import { createProgress, formatBytes, type ProgressStream } from './progress';
import type { Env } from './proxy';
import { listModels, removeModel } from './model-folder';
import { verifyModel } from './verify';

export const DEFAULT_MANIFEST = path.join(REPO_ROOT, 'models', 'manifest.json');
export const DEFAULT_MODELS_DIR = path.join(REPO_ROOT, 'models');

export const USAGE = `usage: npm run models -- <command> [options]

  list                          the known models and what is on disk
  download [NAME]               download NAME (default: the manifest's default) into models/NAME
                                (fetch is accepted as its former name)
        [--format onnx|torch|all]  which bundle variant (default onnx; torch = OpenAI's TorchScript file or Hugging Face weights)
        [--pin]                 write the verified sizes and sha256 into the manifest
        [--force]               download again even if models/NAME has the files
        [--stall-timeout S]     give up on a connection silent for S seconds (default 60), then retry
        [--retries N]           retries per file (default 5)
  verify NAME                   re-hash a fetched model against the manifest and its fetch record
  remove NAME                   delete a fetched model and any interrupted fetch of it
  export SOURCE --out DIR [...] make an ONNX bundle from a checkpoint (OpenAI .pt, state_dict) or a
                                Hugging Face CLIP folder: models/export.py (its --help lists the options)

  --manifest FILE               default models/manifest.json
  --models-dir DIR              default models/

environment: HF_ENDPOINT (a hub mirror), HF_TOKEN (private or gated repositories; sent to the hub
only), HTTPS_PROXY, HTTP_PROXY, NO_PROXY`;

export interface CliIo {
  readonly out: (s: string) => void;
  /** Progress and notes. */
  readonly err: ProgressStream;
  readonly env: Env;
}

/** The process's streams and its download settings (HF_ENDPOINT, HF_TOKEN, proxies: config/settings.ts). */
function defaultIo(): CliIo {
  return { out: (s) => process.stdout.write(s), err: process.stderr, env: groupEnv(loadConfig().config, 'downloads') };
}

export async function main(argv: string[], ioArg?: CliIo): Promise<number> {
  let io: CliIo;
  try {
    io = ioArg ?? defaultIo();
  } catch (e) {
    if (!isClipqlError(e)) throw e;
    process.stderr.write(`error [${e.code}]: ${e.message}\n`);
    return 2;
  }
  if (argv[0] === 'export') return exportBundle(argv.slice(1), io);
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        manifest: { type: 'string' },
        'models-dir': { type: 'string' },
        format: { type: 'string' },
        pin: { type: 'boolean', default: false },
        force: { type: 'boolean', default: false },
        'stall-timeout': { type: 'string' },
        retries: { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (e) {
    return usage(io, (e as Error).message);
  }
  const { values, positionals } = parsed;
  const [command, name, ...extra] = positionals;
  if (values.help || command === 'help') {
    io.out(`${USAGE}\n`);
    return 0;
  }
  if (!command) return usage(io, 'no command given');
  if (extra.length) return usage(io, `unexpected arguments: ${extra.join(' ')}`);
  const manifestPath = path.resolve(values.manifest ?? DEFAULT_MANIFEST);
  const modelsDir = path.resolve(values['models-dir'] ?? DEFAULT_MODELS_DIR);

  try {
    switch (command) {
      case 'list': {
        if (name) return usage(io, 'list takes no model name');
        const manifest = await loadManifest(manifestPath);
        const models = await listModels(manifest, modelsDir);
        if (values.json) {
          io.out(`${JSON.stringify(models, null, 2)}\n`);
          return 0;
        }
        const rows = models.map((m) => [
          `${m.name}${m.isDefault ? ' (default)' : ''}`,
          m.state === 'fetched' ? `fetched${m.formats.length ? ` [${m.formats.join(', ')}]` : ''}` : m.state === 'partial' ? 'partial: run download to resume' : m.state === 'local' ? `local${m.inManifest ? '' : ', not in the manifest'}${m.formats.length ? ` [${m.formats.join(', ')}]` : ''}` : 'not fetched',
          m.bytes ? formatBytes(m.bytes) : '',
          m.description ?? '',
        ]);
        io.out(table(['model', 'state', 'size', 'description'], rows));
        return 0;
      }
      case 'download':
      case 'fetch': {
        const format = values.format ?? 'onnx';
        if (!FORMAT_SELECTIONS.includes(format as FormatSelection)) return usage(io, `--format must be one of ${FORMAT_SELECTIONS.join(', ')}, got ${JSON.stringify(format)}`);
        const stall = values['stall-timeout'] === undefined ? 60 : Number(values['stall-timeout']);
        if (!(stall > 0)) return usage(io, `--stall-timeout must be a positive number of seconds, got ${JSON.stringify(values['stall-timeout'])}`);
        const retries = values.retries === undefined ? 5 : Number(values.retries);
        if (!Number.isInteger(retries) || retries < 0) return usage(io, `--retries must be a whole number ≥ 0, got ${JSON.stringify(values.retries)}`);
        const result = await downloadModel({
          manifestPath,
          modelsDir,
          ...(name !== undefined && { name }),
          format: format as FormatSelection,
          pin: values.pin,
          force: values.force,
          env: io.env,
          stallTimeoutMs: stall * 1000,
          retries,
          progress: createProgress(io.err),
        });
        io.out(`${summarize(result)}\n`);
        return 0;
      }
      case 'verify': {
        if (!name) return usage(io, 'verify needs a model name');
        const report = await verifyModel({
          modelsDir,
          manifestPath,
          name,
          onFile: (file, i, n) => io.err.write(`[${i}/${n}] hashing ${file}\n`),
        });
        for (const f of report.files) io.out(f.ok ? `ok        ${f.path}  ${formatBytes(f.size ?? 0)}  sha256 ${f.sha256} (${f.against})\n` : `FAILED    ${f.path}: ${f.problem}\n`);
        io.out(report.ok ? `${report.name}: all ${report.files.length} files verified\n` : `${report.name}: ${report.files.filter((f) => !f.ok).length} of ${report.files.length} files failed; \`models download ${report.name} --force\` downloads them again\n`);
        return report.ok ? 0 : 1;
      }
      case 'remove': {
        if (!name) return usage(io, 'remove needs a model name');
        const removed = await removeModel(modelsDir, await canonicalName(manifestPath, name));
        io.out(removed.length ? `removed ${removed.join(', ')}\n` : `nothing to remove: ${name} is not in ${modelsDir}\n`);
        return 0;
      }
      default:
        return usage(io, `unknown command ${JSON.stringify(command)}`);
    }
  } catch (e) {
    const code = isClipqlError(e) ? e.code : ErrorCode.INTERNAL_SERVER_ERROR;
    io.out(`error [${code}]: ${(e as Error).message}\n`);
    return code === ErrorCode.BAD_USER_INPUT && isClipqlError(e) && e.details.usage ? 2 : 1;
  }
}

/**
 * models/export.py with the rest of the arguments, under the interpreter the torch backend uses
 * (it needs torch and onnx; the venv also has transformers for its comparison). Its exit status.
 */
function exportBundle(args: string[], io: CliIo): number {
  const python = loadConfig().config.CLIP_TORCH_PYTHON ?? defaultPython();
  const r = spawnSync(python, [path.join(REPO_ROOT, 'models', 'export.py'), ...args], { stdio: 'inherit' });
  if (r.error) {
    io.out(`error [${ErrorCode.BAD_USER_INPUT}]: cannot run ${python} (${(r.error as NodeJS.ErrnoException).code ?? r.error.message}): install the project's Python environment (bash scripts/install-python.sh) or set CLIP_TORCH_PYTHON\n`);
    return 3;
  }
  return r.status ?? 1;
}

/** A manifest alias → the folder name; names not in the manifest are taken as they are. */
async function canonicalName(manifestPath: string, name: string): Promise<string> {
  const manifest = await loadManifest(manifestPath).catch(() => undefined);
  if (!manifest) return name;
  const wanted = name.toLowerCase();
  for (const [key, m] of Object.entries(manifest.models)) {
    if (key.toLowerCase() === wanted || m.aliases?.some((a) => a.toLowerCase() === wanted)) return key;
  }
  return name;
}

function usage(io: CliIo, message: string): number {
  io.out(`error [${ErrorCode.BAD_USER_INPUT}]: ${message}\n${USAGE}\n`);
  return 2;
}

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return `${[line(head), ...rows.map(line)].join('\n')}\n`;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`error [${ErrorCode.INTERNAL_SERVER_ERROR}]: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
