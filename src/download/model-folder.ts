/**
 * The models folder on disk:
 *
 *   models/NAME/                  a fetched bundle; NAME/fetch-record.json says what was fetched,
 *                                 from where, and each file's size and sha256 as verified
 *   models/.NAME.partial/         a fetch in progress or interrupted (completed files, *.part files);
 *                                 renamed to models/NAME only when every file is verified
 *   models/.NAME.lock             held while a fetch runs
 *
 * Only folders with a fetch record count as fetched: `remove` deletes nothing else, so the
 * committed tiny model or an export of the user's own is never removed by mistake.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { DOWNLOAD_RECORD_FILE } from '../bundle/fingerprint';
import { ClipqlError, ErrorCode } from '../errors';
import { MODEL_NAME, type FileFormat, type Manifest } from './manifest';

/** The download record's name (defined beside the fingerprint, which reads the record's hashes). */
export const RECORD_FILE = DOWNLOAD_RECORD_FILE;

export interface RecordedFile {
  readonly path: string;
  readonly size: number;
  readonly sha256: string;
  readonly url: string;
  /** What the download was checked against: pinned manifest values, the hub's headers, or the length only. */
  readonly verifiedBy: 'manifest' | 'hub' | 'size';
  /** The manifest source it came from. */
  readonly source: string;
  readonly format?: FileFormat;
  /** The hub commit that served it (X-Repo-Commit). */
  readonly commit?: string;
}

export interface DownloadRecord {
  readonly version: 1;
  readonly model: string;
  readonly fetchedAt: string;
  /** Hub commits seen, per source name. */
  readonly commits: Readonly<Record<string, string>>;
  readonly files: readonly RecordedFile[];
  /** Optional files the source did not have (HTTP 404). */
  readonly skipped?: readonly string[];
}

export function modelDir(modelsDir: string, name: string): string {
  checkName(name);
  return path.join(modelsDir, name);
}
export function stagingDir(modelsDir: string, name: string): string {
  checkName(name);
  return path.join(modelsDir, `.${name}.partial`);
}

function checkName(name: string): void {
  if (!MODEL_NAME.test(name)) throw new ClipqlError(ErrorCode.BAD_USER_INPUT, `not a model name: ${JSON.stringify(name)} (letters, digits, ".", "_", "-"; no path separators)`);
}

export async function readRecord(dir: string): Promise<DownloadRecord | undefined> {
  let text: string;
  try {
    text = await fs.readFile(path.join(dir, RECORD_FILE), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const r = JSON.parse(text) as DownloadRecord;
    if (r.version === 1 && Array.isArray(r.files)) return r;
  } catch {
    // fall through
  }
  throw new ClipqlError(ErrorCode.BAD_MODEL, `${path.join(dir, RECORD_FILE)}: not a valid fetch record; remove the folder and fetch again`);
}

export async function writeRecord(dir: string, record: DownloadRecord): Promise<void> {
  const tmp = path.join(dir, `.${RECORD_FILE}.tmp`);
  await fs.writeFile(tmp, `${JSON.stringify(record, null, 2)}\n`);
  await fs.rename(tmp, path.join(dir, RECORD_FILE));
}

export async function isDir(p: string): Promise<boolean> {
  return fs.stat(p).then((s) => s.isDirectory(), () => false);
}

export interface ListedModel {
  readonly name: string;
  /** fetched: complete with a record; partial: an interrupted fetch; absent; local: a bundle folder not from `fetch`. */
  readonly state: 'fetched' | 'partial' | 'absent' | 'local';
  readonly inManifest: boolean;
  readonly isDefault: boolean;
  readonly description?: string;
  /** Formats present (fetched models), from the record. */
  readonly formats: readonly FileFormat[];
  /** Bytes on disk (fetched: the recorded files; partial: everything in the staging folder). */
  readonly bytes: number;
  readonly dir: string;
}

/** Every manifest model with its state, then bundle-looking folders that are not in the manifest. */
export async function listModels(manifest: Manifest, modelsDir: string): Promise<ListedModel[]> {
  const out: ListedModel[] = [];
  for (const [name, m] of Object.entries(manifest.models)) {
    const dir = modelDir(modelsDir, name);
    const record = (await isDir(dir)) ? await readRecord(dir).catch(() => undefined) : undefined;
    const staging = stagingDir(modelsDir, name);
    const base = { name, inManifest: true, isDefault: manifest.default === name, ...(m.description && { description: m.description }), dir };
    if (record) {
      const formats = [...new Set(record.files.map((f) => f.format).filter((f): f is FileFormat => f !== undefined))];
      out.push({ ...base, state: 'fetched', formats, bytes: record.files.reduce((a, f) => a + f.size, 0) });
    } else if (await isDir(staging)) {
      out.push({ ...base, state: 'partial', formats: [], bytes: await folderBytes(staging), dir: staging });
    } else if (await isDir(dir)) {
      out.push({ ...base, state: 'local', formats: await localFormats(dir), bytes: await folderBytes(dir) });
    } else {
      out.push({ ...base, state: 'absent', formats: [], bytes: 0 });
    }
  }
  const entries = await fs.readdir(modelsDir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    if (!e.isDirectory() || e.name.startsWith('.') || e.name in manifest.models) continue;
    const dir = path.join(modelsDir, e.name);
    const looksLikeBundle = (await exists(path.join(dir, 'config.json'))) || (await isDir(path.join(dir, 'onnx'))) || (await isDir(path.join(dir, 'torch')));
    if (!looksLikeBundle) continue;
    const record = await readRecord(dir).catch(() => undefined);
    out.push({ name: e.name, state: record ? 'fetched' : 'local', inManifest: false, isDefault: false, formats: await localFormats(dir), bytes: await folderBytes(dir), dir });
  }
  return out;
}

async function localFormats(dir: string): Promise<FileFormat[]> {
  const f: FileFormat[] = [];
  if (await exists(path.join(dir, 'onnx', 'vision_model.onnx'))) f.push('onnx');
  if (await exists(path.join(dir, 'torch', 'model.pt'))) f.push('torch');
  return f;
}

async function exists(p: string): Promise<boolean> {
  return fs.stat(p).then(() => true, () => false);
}

async function folderBytes(dir: string): Promise<number> {
  let total = 0;
  const entries = await fs.readdir(dir, { withFileTypes: true, recursive: true }).catch(() => []);
  for (const e of entries) {
    if (!e.isFile()) continue;
    const parent = (e as unknown as { parentPath?: string; path?: string }).parentPath ?? (e as unknown as { path?: string }).path ?? dir;
    total += await fs.stat(path.join(parent, e.name)).then((s) => s.size, () => 0);
  }
  return total;
}

/**
 * Removes a fetched model and any interrupted fetch of it. Refuses a folder without a fetch
 * record (the committed tiny model, a user's own export): those are not ours to delete.
 * Returns the paths removed.
 */
export async function removeModel(modelsDir: string, name: string): Promise<string[]> {
  const dir = modelDir(modelsDir, name);
  const staging = stagingDir(modelsDir, name);
  const removed: string[] = [];
  if (await isDir(dir)) {
    const record = await readRecord(dir).catch(() => undefined);
    if (!record) {
      throw new ClipqlError(ErrorCode.BAD_USER_INPUT, `${dir} was not created by \`models download\` (no ${RECORD_FILE}); not removing it. Delete it yourself if you mean to.`, { details: { dir } });
    }
  }
  for (const p of [dir, staging, `${dir}.old`, path.join(modelsDir, `.${name}.old`)]) {
    if (await exists(p)) {
      await fs.rm(p, { recursive: true, force: true });
      removed.push(p);
    }
  }
  return removed;
}

/**
 * An exclusive lock for one model's fetch: models/.NAME.lock holds the owner's pid. A lock whose
 * process is gone is taken over. Returns the release function.
 */
export async function lockModel(modelsDir: string, name: string): Promise<() => Promise<void>> {
  checkName(name);
  const file = path.join(modelsDir, `.${name}.lock`);
  for (let i = 0; i < 2; i++) {
    try {
      await fs.writeFile(file, String(process.pid), { flag: 'wx' });
      return async () => {
        await fs.rm(file, { force: true });
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = Number(await fs.readFile(file, 'utf8').catch(() => ''));
      if (Number.isInteger(pid) && pid > 0 && alive(pid)) {
        throw new ClipqlError(ErrorCode.BAD_USER_INPUT, `another fetch of ${name} is running (pid ${pid}); wait for it, or delete ${file} if it is not`);
      }
      await fs.rm(file, { force: true });
    }
  }
  throw new ClipqlError(ErrorCode.INTERNAL_SERVER_ERROR, `cannot take the lock ${file}`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
