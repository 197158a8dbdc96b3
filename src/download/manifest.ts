/**
 * models/manifest.json: the CLIP models clipql knows how to fetch, where each file comes from, and
 * (once pinned) each file's size and sha256.
 *
 *   {
 *     "version": 1,
 *     "default": "ViT-L-14-336",                 // what `models download` and `npm start` use by default
 *     "models": {
 *       "ViT-L-14-336": {
 *         "description": "...",
 *         "aliases": ["ViT-L/14@336px"],         // other names `fetch` accepts (case-insensitive)
 *         "sources": {
 *           "hub":    { "type": "hf",  "repo": "Xenova/clip-vit-large-patch14-336", "revision": "main" },
 *           "openai": { "type": "url", "base": "https://openaipublic.azureedge.net/clip/models/<sha256>/" }
 *         },
 *         "files": [
 *           { "path": "onnx/vision_model.onnx", "source": "hub", "format": "onnx", "size": null, "sha256": null },
 *           { "path": "torch/model.pt", "source": "openai", "remote": "ViT-L-14-336px.pt", "format": "torch",
 *             "size": null, "sha256": "3035c9..." },
 *           { "path": "vocab.json", "source": "hub", "optional": true, "size": null, "sha256": null }
 *         ]
 *       }
 *     }
 *   }
 *
 * A file's URL: an "hf" source gives `${HF_ENDPOINT:-https://huggingface.co}/{repo}/resolve/{revision}/{remote}`,
 * a "url" source gives `{base}{remote}`; `remote` defaults to `path` (the file's place in the bundle).
 * `format` says which bundle variant needs the file: "onnx" (onnxruntime backend), "torch" (the
 * TorchScript checkpoint, or a Hugging Face model.safetensors, for the torch backend), or none (config
 * and tokenizer files, always fetched).
 * An `optional` file that the server does not have (HTTP 404) is skipped with a note instead of
 * failing the fetch. `size` and `sha256` are null until known; `models download NAME --pin` fills them
 * in from a verified download (and pins an "hf" revision to the commit the hub served).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ClipqlError, ErrorCode } from '../errors';

export const MANIFEST_VERSION = 1;
export const DEFAULT_HF_ENDPOINT = 'https://huggingface.co';

/** Which bundle variant a file belongs to; files without one are needed by every variant. */
export type FileFormat = 'onnx' | 'torch';
/** What `fetch --format` selects. */
export type FormatSelection = FileFormat | 'all';
export const FORMAT_SELECTIONS: readonly FormatSelection[] = ['onnx', 'torch', 'all'];

export type ModelSource =
  | { readonly type: 'hf'; readonly repo: string; readonly revision: string }
  | { readonly type: 'url'; readonly base: string };

export interface ManifestFile {
  /** Where the file goes inside the bundle folder (forward slashes, no `..`). */
  readonly path: string;
  /** A key of the model's `sources`. */
  readonly source: string;
  /** The file's path at the source, when it differs from `path`. */
  readonly remote?: string;
  readonly format?: FileFormat;
  readonly optional?: boolean;
  readonly size: number | null;
  /** Lower-case hex. */
  readonly sha256: string | null;
}

export interface ManifestModel {
  readonly description?: string;
  readonly aliases?: readonly string[];
  readonly sources: Readonly<Record<string, ModelSource>>;
  readonly files: readonly ManifestFile[];
}

export interface Manifest {
  readonly version: number;
  readonly default?: string;
  readonly models: Readonly<Record<string, ManifestModel>>;
}

/** A manifest model resolved by name, with its canonical name (the bundle folder's name). */
export interface ResolvedModel {
  readonly name: string;
  readonly model: ManifestModel;
}

/** A file with the URL it is fetched from. */
export interface PlannedFile extends ManifestFile {
  readonly url: string;
  /** The origin that gets HF_TOKEN (set for files of "hf" sources only). */
  readonly hubOrigin?: string;
}

/** Folder names (and so model names) are plain: no path separators, no leading dot. */
export const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const SHA256 = /^[0-9a-f]{64}$/;

function invalid(file: string, what: string): ClipqlError {
  return new ClipqlError(ErrorCode.BAD_MODEL, `${file}: ${what}`, { details: { file } });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Reads and validates a manifest; every problem is a BAD_MODEL error naming the file and the entry. */
export async function loadManifest(file: string): Promise<Manifest> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    throw invalid(file, `cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw invalid(file, `is not valid JSON (${(e as Error).message})`);
  }
  return parseManifest(value, file);
}

export function parseManifest(value: unknown, file = 'manifest'): Manifest {
  if (!isObject(value)) throw invalid(file, 'must hold a JSON object');
  if (value.version !== MANIFEST_VERSION) throw invalid(file, `"version" must be ${MANIFEST_VERSION}, got ${JSON.stringify(value.version)}`);
  if (!isObject(value.models)) throw invalid(file, '"models" must be an object of model name → model');
  const models: Record<string, ManifestModel> = {};
  for (const [name, m] of Object.entries(value.models)) models[name] = parseModel(name, m, file);
  if (value.default !== undefined && (typeof value.default !== 'string' || !(value.default in models))) {
    throw invalid(file, `"default" must name one of the models (${Object.keys(models).join(', ')}), got ${JSON.stringify(value.default)}`);
  }
  return { version: MANIFEST_VERSION, default: value.default as string | undefined, models };
}

function parseModel(name: string, m: unknown, file: string): ManifestModel {
  const at = `models.${name}`;
  if (!MODEL_NAME.test(name)) throw invalid(file, `${at}: a model name must match ${MODEL_NAME} (it becomes a folder name)`);
  if (!isObject(m)) throw invalid(file, `${at} must be an object`);
  if (m.description !== undefined && typeof m.description !== 'string') throw invalid(file, `${at}.description must be a string`);
  if (m.aliases !== undefined && !(Array.isArray(m.aliases) && m.aliases.every((a) => typeof a === 'string'))) {
    throw invalid(file, `${at}.aliases must be an array of strings`);
  }
  if (!isObject(m.sources)) throw invalid(file, `${at}.sources must be an object of source name → source`);
  const sources: Record<string, ModelSource> = {};
  for (const [key, s] of Object.entries(m.sources)) {
    const sat = `${at}.sources.${key}`;
    if (!isObject(s)) throw invalid(file, `${sat} must be an object`);
    if (s.type === 'hf') {
      if (typeof s.repo !== 'string' || !/^[\w.-]+\/[\w.-]+$/.test(s.repo)) throw invalid(file, `${sat}.repo must be "owner/name", got ${JSON.stringify(s.repo)}`);
      if (typeof s.revision !== 'string' || s.revision === '' || /[\s?#]/.test(s.revision)) throw invalid(file, `${sat}.revision must be a branch, tag or commit, got ${JSON.stringify(s.revision)}`);
      sources[key] = { type: 'hf', repo: s.repo, revision: s.revision };
    } else if (s.type === 'url') {
      if (typeof s.base !== 'string' || !/^https?:\/\/.+\/$/.test(s.base)) throw invalid(file, `${sat}.base must be an http(s) URL ending in "/", got ${JSON.stringify(s.base)}`);
      sources[key] = { type: 'url', base: s.base };
    } else {
      throw invalid(file, `${sat}.type must be "hf" or "url", got ${JSON.stringify(s.type)}`);
    }
  }
  if (!Array.isArray(m.files) || m.files.length === 0) throw invalid(file, `${at}.files must be a non-empty array`);
  const seen = new Set<string>();
  const files = m.files.map((f, i): ManifestFile => {
    const fat = `${at}.files[${i}]`;
    if (!isObject(f)) throw invalid(file, `${fat} must be an object`);
    if (typeof f.path !== 'string' || !safeRelative(f.path)) throw invalid(file, `${fat}.path must be a relative path inside the bundle (no "..", no leading "/" or "."), got ${JSON.stringify(f.path)}`);
    if (seen.has(f.path)) throw invalid(file, `${fat}.path ${f.path} is listed twice`);
    seen.add(f.path);
    if (typeof f.source !== 'string' || !(f.source in sources)) throw invalid(file, `${fat}.source must name one of ${at}.sources (${Object.keys(sources).join(', ')}), got ${JSON.stringify(f.source)}`);
    if (f.remote !== undefined && (typeof f.remote !== 'string' || !safeRelative(f.remote))) throw invalid(file, `${fat}.remote must be a relative path at the source, got ${JSON.stringify(f.remote)}`);
    if (f.format !== undefined && f.format !== 'onnx' && f.format !== 'torch') throw invalid(file, `${fat}.format must be "onnx" or "torch" (or absent), got ${JSON.stringify(f.format)}`);
    if (f.optional !== undefined && typeof f.optional !== 'boolean') throw invalid(file, `${fat}.optional must be a boolean`);
    if (f.size !== null && !(typeof f.size === 'number' && Number.isSafeInteger(f.size) && f.size >= 0)) throw invalid(file, `${fat}.size must be a byte count or null, got ${JSON.stringify(f.size)}`);
    if (f.sha256 !== null && !(typeof f.sha256 === 'string' && SHA256.test(f.sha256))) throw invalid(file, `${fat}.sha256 must be 64 lower-case hex digits or null, got ${JSON.stringify(f.sha256)}`);
    return {
      path: f.path,
      source: f.source,
      ...(f.remote !== undefined && { remote: f.remote as string }),
      ...(f.format !== undefined && { format: f.format as FileFormat }),
      ...(f.optional !== undefined && { optional: f.optional as boolean }),
      size: f.size as number | null,
      sha256: f.sha256 as string | null,
    };
  });
  return {
    ...(m.description !== undefined && { description: m.description as string }),
    ...(m.aliases !== undefined && { aliases: m.aliases as string[] }),
    sources,
    files,
  };
}

function safeRelative(p: string): boolean {
  if (p === '' || p.startsWith('/') || p.startsWith('.') || p.includes('\\')) return false;
  return p.split('/').every((seg) => seg !== '' && seg !== '.' && seg !== '..');
}

/** Finds a model by its name or an alias (case-insensitive); undefined name = the default. */
export function resolveModel(manifest: Manifest, name: string | undefined, manifestFile = 'the manifest'): ResolvedModel {
  const known = Object.keys(manifest.models);
  if (name === undefined) {
    if (!manifest.default) throw new ClipqlError(ErrorCode.BAD_USER_INPUT, `no model named and ${manifestFile} has no "default"; known models: ${known.join(', ')}`, { details: { usage: true } });
    name = manifest.default;
  }
  const wanted = name.toLowerCase();
  for (const [key, model] of Object.entries(manifest.models)) {
    if (key.toLowerCase() === wanted || model.aliases?.some((a) => a.toLowerCase() === wanted)) return { name: key, model };
  }
  throw new ClipqlError(ErrorCode.BAD_USER_INPUT, `unknown model ${JSON.stringify(name)}; known models: ${known.join(', ')} (see ${manifestFile})`, { details: { name, usage: true } });
}

/** The hub's origin: $HF_ENDPOINT (a mirror) or https://huggingface.co. */
export function hubEndpoint(env: Readonly<Record<string, string | undefined>>): string {
  const raw = env.HF_ENDPOINT?.trim() || DEFAULT_HF_ENDPOINT;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ClipqlError(ErrorCode.BAD_USER_INPUT, `HF_ENDPOINT must be an http(s) URL, got ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ClipqlError(ErrorCode.BAD_USER_INPUT, `HF_ENDPOINT must be an http(s) URL, got ${JSON.stringify(raw)}`);
  return raw.replace(/\/+$/, '');
}

/** The files `fetch --format` selects, with their URLs; BAD_USER_INPUT when it has other formats but not this one. */
export function planFiles(resolved: ResolvedModel, format: FormatSelection, env: Readonly<Record<string, string | undefined>>): PlannedFile[] {
  const endpoint = hubEndpoint(env);
  const formats = [...new Set(resolved.model.files.flatMap((f) => (f.format ? [f.format] : [])))];
  if (format !== 'all' && formats.length && !formats.includes(format)) {
    throw new ClipqlError(ErrorCode.BAD_USER_INPUT, `${resolved.name} has no ${format} files; its format${formats.length > 1 ? 's are' : ' is'} ${formats.join(', ')}: fetch it with --format ${formats[0]}`, {
      details: { name: resolved.name, format, formats, usage: true },
    });
  }
  return resolved.model.files
    .filter((f) => f.format === undefined || format === 'all' || f.format === format)
    .map((f) => {
      const source = resolved.model.sources[f.source]!;
      const remote = (f.remote ?? f.path).split('/').map(encodeURIComponent).join('/');
      if (source.type === 'hf') {
        return { ...f, url: `${endpoint}/${source.repo}/resolve/${encodeURIComponent(source.revision)}/${remote}`, hubOrigin: new URL(endpoint).origin };
      }
      return { ...f, url: new URL(remote, source.base).href };
    });
}

/** What a verified download learnt about one file, for `--pin`. */
export interface PinnedFile {
  readonly path: string;
  readonly size: number;
  readonly sha256: string;
  /** The commit the hub served (X-Repo-Commit), for files of "hf" sources. */
  readonly commit?: string;
}

/**
 * Writes sizes, checksums and hub commits of `pins` into the manifest file (atomically: a temporary
 * file renamed over it). Returns one line per change; an empty list when nothing changed.
 * A hub source's revision is pinned only when every pinned file of that source came from the same
 * commit.
 */
export async function pinManifest(file: string, modelName: string, pins: readonly PinnedFile[]): Promise<string[]> {
  const raw = JSON.parse(await fs.readFile(file, 'utf8')) as Record<string, unknown>;
  const manifest = parseManifest(raw, file); // validate before touching it
  const model = manifest.models[modelName];
  if (!model) throw invalid(file, `no model ${modelName} to pin`);
  const rawModel = (raw.models as Record<string, Record<string, unknown>>)[modelName]!;
  const rawFiles = rawModel.files as Array<Record<string, unknown>>;
  const rawSources = rawModel.sources as Record<string, Record<string, unknown>>;
  const changes: string[] = [];
  const commits = new Map<string, Set<string | undefined>>();
  for (const pin of pins) {
    const entry = rawFiles.find((f) => f.path === pin.path);
    if (!entry) continue;
    if (entry.size !== pin.size) {
      changes.push(`${modelName} ${pin.path}: size ${String(entry.size)} → ${pin.size}`);
      entry.size = pin.size;
    }
    if (entry.sha256 !== pin.sha256) {
      changes.push(`${modelName} ${pin.path}: sha256 ${String(entry.sha256)} → ${pin.sha256}`);
      entry.sha256 = pin.sha256;
    }
    const source = entry.source as string;
    if (model.sources[source]?.type === 'hf') {
      if (!commits.has(source)) commits.set(source, new Set());
      commits.get(source)!.add(pin.commit);
    }
  }
  for (const [source, set] of commits) {
    const [commit] = [...set];
    if (set.size !== 1 || !commit || !/^[0-9a-f]{40}$/.test(commit)) continue;
    if (rawSources[source]!.revision !== commit) {
      changes.push(`${modelName} sources.${source}.revision: ${String(rawSources[source]!.revision)} → ${commit}`);
      rawSources[source]!.revision = commit;
    }
  }
  if (changes.length) {
    const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
    await fs.writeFile(tmp, `${JSON.stringify(raw, null, 2)}\n`);
    await fs.rename(tmp, file);
  }
  return changes;
}
