/**
 * `models download NAME`: every file a manifest model needs, downloaded, verified and put in place as
 * one folder, so that a partial download never looks like a model.
 *
 *   1. Files download one after the other into models/.NAME.partial/ (see download.ts for resuming,
 *      retries and checks). A file that completes is recorded in the staging folder's
 *      fetch-record.json, so a fetch that is interrupted and run again skips it.
 *   2. When every file is verified, the record is completed and the staging folder is renamed to
 *      models/NAME. If models/NAME already existed (another format fetched earlier), its files are
 *      hard-linked into the staging folder first, so the new folder holds both; the old one is
 *      moved aside and removed after the rename.
 *   3. With `pin`, the sizes and checksums (and the hub commit) go into the manifest.
 *
 * Files already in the staging folder or in models/NAME are trusted by size, because they were
 * verified when they arrived; `models verify NAME` re-hashes everything.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ClipqlError, ErrorCode } from '../errors';
import { downloadFile } from './download';
import { loadManifest, pinManifest, planFiles, resolveModel, type FormatSelection, type PlannedFile } from './manifest';
import { formatBytes, silentProgress, type Progress } from './progress';
import { Dispatchers, type Env } from './proxy';
import { isDir, lockModel, modelDir, readRecord, RECORD_FILE, stagingDir, writeRecord, type DownloadRecord, type RecordedFile } from './model-folder';

export interface DownloadModelOptions {
  readonly manifestPath: string;
  readonly modelsDir: string;
  /** A manifest model name or alias; undefined = the manifest's default. */
  readonly name?: string;
  /** Which bundle variant: "onnx" (default), "torch" or "all". Config and tokenizer files always come. */
  readonly format?: FormatSelection;
  /** Write verified sizes and checksums into the manifest. */
  readonly pin?: boolean;
  /** Download the selected files again even when models/NAME has them. */
  readonly force?: boolean;
  /** HF_ENDPOINT, HF_TOKEN and the proxy variables are read from here (config's 'downloads' group; default: none set). */
  readonly env?: Env;
  /** No byte for this long → abort and retry (default 60 s). */
  readonly stallTimeoutMs?: number;
  /** Retries per file after the first attempt (default 5). */
  readonly retries?: number;
  /** First retry delay, doubling (default 1 s). */
  readonly retryDelayMs?: number;
  /** TCP/TLS connect timeout (default 30 s). */
  readonly connectTimeoutMs?: number;
  readonly progress?: Progress;
}

export interface DownloadModelResult {
  readonly name: string;
  readonly dir: string;
  /** "fetched": something was downloaded; "present": models/NAME already had every selected file. */
  readonly status: 'fetched' | 'present';
  readonly files: readonly RecordedFile[];
  /** Optional files the source does not have (HTTP 404). */
  readonly skipped: readonly string[];
  readonly downloadedBytes: number;
  /** Manifest changes made by `pin`. */
  readonly pinned: readonly string[];
  /** Things the user should know (e.g. no tokenizer files). */
  readonly warnings: readonly string[];
}

export async function downloadModel(options: DownloadModelOptions): Promise<DownloadModelResult> {
  const env = options.env ?? {};
  const progress = options.progress ?? silentProgress;
  const manifest = await loadManifest(options.manifestPath);
  const resolved = resolveModel(manifest, options.name, options.manifestPath);
  const { name } = resolved;
  const planned = planFiles(resolved, options.format ?? 'onnx', env);
  const target = modelDir(options.modelsDir, name);
  const staging = stagingDir(options.modelsDir, name);
  await fs.mkdir(options.modelsDir, { recursive: true });

  const release = await lockModel(options.modelsDir, name);
  const dispatchers = new Dispatchers(env, options.connectTimeoutMs ?? 30_000);
  try {
    const existing = (await isDir(target)) ? await readRecord(target) : undefined;
    if (!existing && (await isDir(target))) {
      throw new ClipqlError(ErrorCode.BAD_USER_INPUT, `${target} exists but was not created by \`models download\` (no ${RECORD_FILE}); move it away first, or fetch into another --models-dir`, { details: { dir: target } });
    }
    const stale = (f: PlannedFile, r: RecordedFile) => f.sha256 !== null && f.sha256 !== r.sha256;

    if (existing && !options.force) {
      const complete = await Promise.all(
        planned.map(async (f) => {
          if (existing.skipped?.includes(f.path)) return true;
          const r = existing.files.find((x) => x.path === f.path);
          return r !== undefined && !stale(f, r) && (await sizeOf(path.join(target, r.path))) === r.size;
        }),
      );
      if (complete.every(Boolean)) {
        const pinned = options.pin ? await pin(options.manifestPath, name, existing.files, planned) : [];
        return { name, dir: target, status: 'present', files: existing.files, skipped: existing.skipped ?? [], downloadedBytes: 0, pinned, warnings: [] };
      }
    }

    await fs.mkdir(staging, { recursive: true });
    const done = new Map<string, RecordedFile>();
    const partial = await readRecord(staging).catch(() => undefined);
    for (const r of partial?.files ?? []) {
      const f = planned.find((p) => p.path === r.path);
      if ((!f || !stale(f, r)) && (await sizeOf(path.join(staging, r.path))) === r.size) done.set(r.path, r);
    }
    // Keep what models/NAME already has (unless forced): the new folder replaces it as a whole.
    if (existing && !options.force) {
      for (const r of existing.files) {
        const f = planned.find((p) => p.path === r.path);
        if (done.has(r.path) || (f && stale(f, r)) || (await sizeOf(path.join(target, r.path))) !== r.size) continue;
        await linkOrCopy(path.join(target, r.path), path.join(staging, r.path));
        done.set(r.path, r);
      }
    }

    const skipped: string[] = [];
    let downloadedBytes = 0;
    const saveProgress = () => writeRecord(staging, record(name, [...done.values()], skipped));
    for (const [i, f] of planned.entries()) {
      if (done.has(f.path)) continue;
      const dest = path.join(staging, f.path);
      await fs.mkdir(path.dirname(dest), { recursive: true });
      try {
        const got = await downloadFile(
          { url: f.url, label: f.path, dest, expectedSize: f.size, expectedSha256: f.sha256, ...(f.hubOrigin && { hubOrigin: f.hubOrigin }) },
          {
            env,
            dispatchers,
            stallTimeoutMs: options.stallTimeoutMs ?? 60_000,
            retries: options.retries ?? 5,
            retryDelayMs: options.retryDelayMs ?? 1_000,
            progress,
            index: i + 1,
            count: planned.length,
          },
        );
        progress.done(got.size);
        downloadedBytes += got.size;
        done.set(f.path, {
          path: f.path,
          size: got.size,
          sha256: got.sha256,
          url: f.url,
          verifiedBy: got.verifiedBy,
          source: f.source,
          ...(f.format && { format: f.format }),
          ...(got.commit && { commit: got.commit }),
        });
        await saveProgress();
      } catch (e) {
        if (f.optional && e instanceof ClipqlError && e.details.status === 404) {
          skipped.push(f.path);
          progress.note(`${f.path}: not at the source (HTTP 404); it is optional, skipping it`);
          continue;
        }
        throw e;
      }
    }

    const files = [...done.values()];
    const warnings: string[] = [];
    const has = (p: string) => done.has(p);
    if (!has('tokenizer.json') && !has('spiece.model') && !(has('vocab.json') && has('merges.txt'))) {
      warnings.push(`${name} has no tokenizer files (tokenizer.json, spiece.model, or vocab.json + merges.txt); set CLIP_VOCAB to OpenAI's bpe_simple_vocab_16e6.txt.gz so the loader can build them`);
    }
    await writeRecord(staging, record(name, files, skipped));
    await swapIntoPlace(staging, target, path.join(options.modelsDir, `.${name}.old`));
    const pinned = options.pin ? await pin(options.manifestPath, name, files, planned) : [];
    return { name, dir: target, status: 'fetched', files, skipped, downloadedBytes, pinned, warnings };
  } catch (e) {
    // A fetch that failed before any byte arrived (offline, 404 on the first file) leaves no empty staging folder.
    if ((await isDir(staging)) && !(await hasFiles(staging))) await fs.rm(staging, { recursive: true, force: true });
    throw e;
  } finally {
    await dispatchers.close();
    await release();
  }
}

/** True when some file under dir holds bytes (empty .part files do not count). */
async function hasFiles(dir: string): Promise<boolean> {
  const entries = await fs.readdir(dir, { recursive: true }).catch(() => [] as string[]);
  for (const rel of entries) {
    const st = await fs.stat(path.join(dir, String(rel))).catch(() => undefined);
    if (st?.isFile() && st.size > 0) return true;
  }
  return false;
}

function record(model: string, files: RecordedFile[], skipped: string[]): DownloadRecord {
  const commits: Record<string, string> = {};
  for (const f of files) if (f.commit) commits[f.source] = f.commit;
  return { version: 1, model, fetchedAt: new Date().toISOString(), commits, files, ...(skipped.length && { skipped }) };
}

async function pin(manifestPath: string, name: string, files: readonly RecordedFile[], planned: readonly PlannedFile[]): Promise<string[]> {
  const pins = files
    .filter((f) => planned.some((p) => p.path === f.path))
    .map((f) => ({ path: f.path, size: f.size, sha256: f.sha256, ...(f.commit && { commit: f.commit }) }));
  return pinManifest(manifestPath, name, pins);
}

/** staging → target in two renames; the old target (if any) is moved aside first, then deleted. */
async function swapIntoPlace(staging: string, target: string, aside: string): Promise<void> {
  await fs.rm(aside, { recursive: true, force: true });
  const hadTarget = await isDir(target);
  if (hadTarget) await fs.rename(target, aside);
  try {
    await fs.rename(staging, target);
  } catch (e) {
    if (hadTarget) await fs.rename(aside, target).catch(() => undefined);
    throw e;
  }
  await fs.rm(aside, { recursive: true, force: true });
}

async function linkOrCopy(from: string, to: string): Promise<void> {
  await fs.mkdir(path.dirname(to), { recursive: true });
  await fs.rm(to, { force: true });
  try {
    await fs.link(from, to);
  } catch {
    await fs.copyFile(from, to);
  }
}

async function sizeOf(file: string): Promise<number | undefined> {
  return fs.stat(file).then((s) => (s.isFile() ? s.size : undefined), () => undefined);
}

/** One line for the CLI: what was fetched, and how it was checked. */
export function summarize(r: DownloadModelResult): string {
  const bytes = r.files.reduce((a, f) => a + f.size, 0);
  const unchecked = r.files.filter((f) => f.verifiedBy === 'size').map((f) => f.path);
  const lines = [
    r.status === 'present'
      ? `${r.name} is already in ${r.dir} (${r.files.length} files, ${formatBytes(bytes)}); \`models verify ${r.name}\` re-checks it`
      : `${r.name}: ${r.files.length} files, ${formatBytes(bytes)} in ${r.dir} (${formatBytes(r.downloadedBytes)} downloaded now)`,
  ];
  if (r.status === 'fetched' && unchecked.length) lines.push(`checked by size only (no pinned sha256, none from the hub): ${unchecked.join(', ')}; \`--pin\` records their sha256 in the manifest`);
  if (r.skipped.length) lines.push(`optional files the source does not have: ${r.skipped.join(', ')}`);
  for (const p of r.pinned) lines.push(`pinned ${p}`);
  for (const w of r.warnings) lines.push(`warning: ${w}`);
  return lines.join('\n');
}
