/**
 * The files an index run covers: every image file under each root, recursively, in a stable
 * order (sorted by path), with its id, by default its path relative to its root with '/'
 * separators (so the same folder indexed from another machine or working directory gives the
 * same ids). A root may also be a single file (id: its name) or a list file (`@list.txt`: one
 * path per line, relative to the list's folder; ids relative to that folder). Symbolic links are
 * not followed into folders (no cycles); hidden entries (a leading '.') are skipped.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';

/** What counts as an image by its name (case-insensitive); anything else under a root is not read. */
export const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp', '.gif', '.bmp', '.tif', '.tiff', '.avif', '.heic']);

export interface FileEntry {
  /** The item id. */
  readonly id: string;
  /** Absolute path. */
  readonly path: string;
}

const isImage = (name: string) => IMAGE_EXTENSIONS.has(path.extname(name).toLowerCase());
const posix = (p: string) => p.split(path.sep).join('/');

async function walkFolder(root: string, dir: string, out: FileEntry[]): Promise<void> {
  const entries = await fs.readdir(dir, { withFileTypes: true });
  for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (e.name.startsWith('.')) continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) await walkFolder(root, p, out);
    else if ((e.isFile() || e.isSymbolicLink()) && isImage(e.name)) out.push({ id: posix(path.relative(root, p)), path: p });
  }
}

/** The image files under `roots` (folders, files, or @lists), each id once: a later root's duplicate id is an error. */
export async function listImages(roots: readonly string[]): Promise<FileEntry[]> {
  const out: FileEntry[] = [];
  for (const r of roots) {
    if (r.startsWith('@')) {
      const list = path.resolve(r.slice(1));
      const base = path.dirname(list);
      for (const line of (await fs.readFile(list, 'utf8')).split(/\r?\n/)) {
        const rel = line.trim();
        if (rel && !rel.startsWith('#')) out.push({ id: posix(path.normalize(rel)), path: path.resolve(base, rel) });
      }
      continue;
    }
    const abs = path.resolve(r);
    const st = await fs.stat(abs);
    if (st.isDirectory()) await walkFolder(abs, abs, out);
    else out.push({ id: path.basename(abs), path: abs });
  }
  const seen = new Set<string>();
  for (const f of out) {
    if (seen.has(f.id)) throw new Error(`two files would get the id "${f.id}" (the second: ${f.path}); index the roots into different collections`);
    seen.add(f.id);
  }
  return out;
}
