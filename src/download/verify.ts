/**
 * `models verify NAME`: re-hashes every file of a fetched model and compares it with what the
 * manifest pins, or, for files the manifest does not pin, with the sha256 recorded when the file
 * was downloaded and verified (fetch-record.json). Catches files edited, truncated or replaced
 * since, and a manifest whose pins moved on.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ClipqlError, ErrorCode } from '../errors';
import { sha256File } from './download';
import { loadManifest, resolveModel, type ManifestModel } from './manifest';
import { isDir, modelDir, readRecord, RECORD_FILE } from './model-folder';

export interface VerifyOptions {
  readonly modelsDir: string;
  /** Used to resolve aliases and for pinned checksums; a model that is not in it is checked against its record alone. */
  readonly manifestPath?: string;
  readonly name: string;
  /** Called before each file is hashed (large files take seconds). */
  readonly onFile?: (file: string, index: number, count: number) => void;
}

export interface FileCheck {
  readonly path: string;
  readonly ok: boolean;
  /** What is wrong, for a failed check. */
  readonly problem?: string;
  readonly size?: number;
  readonly sha256?: string;
  /** What the sha256 was compared with. */
  readonly against: 'manifest' | 'record';
}

export interface VerifyReport {
  readonly name: string;
  readonly dir: string;
  readonly ok: boolean;
  readonly files: readonly FileCheck[];
}

export async function verifyModel(options: VerifyOptions): Promise<VerifyReport> {
  let name = options.name;
  let model: ManifestModel | undefined;
  if (options.manifestPath) {
    const manifest = await loadManifest(options.manifestPath);
    try {
      const resolved = resolveModel(manifest, options.name, options.manifestPath);
      name = resolved.name;
      model = resolved.model;
    } catch (e) {
      // Not in the manifest: a fetched folder may still be checked against its own record.
      if (!(e instanceof ClipqlError && e.code === ErrorCode.BAD_USER_INPUT)) throw e;
    }
  }
  const dir = modelDir(options.modelsDir, name);
  if (!(await isDir(dir))) throw new ClipqlError(ErrorCode.BAD_MODEL, `${dir} does not exist: fetch ${name} first`, { details: { dir } });
  const record = await readRecord(dir);
  if (!record) throw new ClipqlError(ErrorCode.BAD_MODEL, `${dir} has no ${RECORD_FILE}: it was not created by \`models download\`, so there is nothing to verify it against`, { details: { dir } });

  const checks: FileCheck[] = [];
  for (const [i, r] of record.files.entries()) {
    options.onFile?.(r.path, i + 1, record.files.length);
    const pinned = model?.files.find((f) => f.path === r.path);
    const expectSha = pinned?.sha256 ?? r.sha256;
    const expectSize = pinned?.size ?? r.size;
    const against = pinned?.sha256 ? 'manifest' : 'record';
    const file = path.join(dir, r.path);
    const stat = await fs.stat(file).catch(() => undefined);
    if (!stat?.isFile()) {
      checks.push({ path: r.path, ok: false, problem: 'missing', against });
      continue;
    }
    if (stat.size !== expectSize) {
      checks.push({ path: r.path, ok: false, problem: `size ${stat.size}, expected ${expectSize}`, size: stat.size, against });
      continue;
    }
    const sha256 = await sha256File(file);
    if (sha256 !== expectSha) {
      const problem = pinned?.sha256 && pinned.sha256 !== r.sha256 && sha256 === r.sha256
        ? `sha256 ${sha256} is what was fetched, but the manifest now pins ${pinned.sha256}: fetch again with --force`
        : `sha256 ${sha256}, expected ${expectSha}: the file was modified since it was fetched`;
      checks.push({ path: r.path, ok: false, problem, size: stat.size, sha256, against });
      continue;
    }
    checks.push({ path: r.path, ok: true, size: stat.size, sha256, against });
  }
  return { name, dir, ok: checks.every((c) => c.ok), files: checks };
}
