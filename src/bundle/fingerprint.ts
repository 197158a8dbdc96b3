/**
 * A model's identity: what its embeddings depend on, so that a collection is bound to weights,
 * not to a name. Two folders, or two served names, with the same weights and preprocessing are
 * the same model; other weights under the same name are another model.
 *
 * The fingerprint is the sha256 of a canonical JSON of:
 *   - the family (config.json's model_type; "clip" when it has none) and D;
 *   - the weights: the sha256 of each file of ONE source, the first the folder has of the fp32
 *     ONNX towers (onnx/vision_model.onnx + onnx/text_model.onnx), OpenAI's checkpoint
 *     (torch/model.pt), or Hugging Face weights (model.safetensors / pytorch_model.bin). One
 *     source, so that a folder that also gains another format (`models download --format torch`)
 *     or int8 towers keeps its identity; the backends serve that folder's formats as one model;
 *   - the preprocessing: the image transform (preprocessor_config.json as parsed), the context
 *     length, and the sha256 of the tokenizer files (tokenizer.json, or vocab.json + merges.txt).
 *
 * A file's sha256 comes from the download record (DOWNLOAD_RECORD_FILE, written by `models
 * download`, which verified it) when the record lists it at the file's current size; otherwise the
 * file is hashed once and the result cached OUTSIDE the model folder (a model folder is often a
 * read-only volume), keyed by the file's real path, size, inode and modification time.
 */
import { createHash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import path from 'node:path';
import type { ModelBundle } from './bundle';

/** The download record's file name in a model folder (src/download/model-folder.ts writes it). */
export const DOWNLOAD_RECORD_FILE = 'fetch-record.json';

export interface ModelIdentity {
  /** The name it is served or run under (a folder's name, or a CLIP_MODELS alias): for messages. */
  readonly name: string;
  /** The bundle folder's name (the name collections were bound to before fingerprints). */
  readonly folder: string;
  /** sha256 hex of the weights and preprocessing (file comment). */
  readonly fingerprint: string;
  readonly family: string;
  readonly dim: number;
}

/** The first 12 hex digits: what messages show. */
export const shortFingerprint = (f: string): string => f.slice(0, 12);

/** The bundle's family: config.json's model_type, "clip" when it states none. */
export function familyOf(bundle: ModelBundle): string {
  return typeof bundle.config.model_type === 'string' && bundle.config.model_type ? bundle.config.model_type : 'clip';
}

/**
 * The fingerprint of `bundle` serving embeddings of D = `dim` (file comment); `cacheDir` holds the
 * hashes of unrecorded files. `weights`: a file served instead of the folder's (CLIP_TORCH_MODEL
 * when the torch backend serves), which is then the one source of weights.
 */
export async function fingerprintBundle(bundle: ModelBundle, dim: number, cacheDir: string, weights?: string): Promise<string> {
  const f = bundle.files;
  const source = weights ? { torch: weights } : (await allExist([f.vision, f.text])) ? { vision: f.vision, text: f.text } : f.torch ? { torch: f.torch } : f.weights ? { weights: f.weights } : undefined;
  if (!source) throw new Error(`${bundle.dir}: no weights to fingerprint (onnx/*.onnx, torch/model.pt or Hugging Face weights)`);
  const record = await recordedHashes(bundle.dir);
  const hash = (file: string) => fileSha256(file, record, cacheDir);
  const hashes: Record<string, string> = {};
  for (const [role, file] of Object.entries(source)) hashes[role] = await hash(file);
  const tokenizer = f.tokenizerJson ? { json: await hash(f.tokenizerJson) } : { vocab: await hash(f.vocab!), merges: await hash(f.merges!) };
  const canonical = canonicalJson({ v: 1, family: familyOf(bundle), dim, weights: hashes, image: bundle.image, contextLength: bundle.contextLength, tokenizer });
  return createHash('sha256').update(canonical).digest('hex');
}

async function allExist(files: string[]): Promise<boolean> {
  for (const file of files) if (!(await fs.stat(file).then((s) => s.isFile(), () => false))) return false;
  return true;
}

/** JSON with every object's keys sorted, so the same values always hash the same. */
function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

/** path (absolute) → {size, sha256} from the folder's download record; empty when it has none or it cannot be read. */
async function recordedHashes(dir: string): Promise<Map<string, { size: number; sha256: string }>> {
  const out = new Map<string, { size: number; sha256: string }>();
  try {
    const record = JSON.parse(await fs.readFile(path.join(dir, DOWNLOAD_RECORD_FILE), 'utf8')) as { files?: Array<{ path?: unknown; size?: unknown; sha256?: unknown }> };
    for (const r of record.files ?? []) {
      if (typeof r.path === 'string' && typeof r.size === 'number' && typeof r.sha256 === 'string' && /^[0-9a-f]{64}$/.test(r.sha256)) out.set(path.join(dir, r.path), { size: r.size, sha256: r.sha256 });
    }
  } catch {
    // No record (a folder made by export or by hand): every file is hashed.
  }
  return out;
}

async function fileSha256(file: string, record: Map<string, { size: number; sha256: string }>, cacheDir: string): Promise<string> {
  const real = await fs.realpath(file);
  const st = await fs.stat(real);
  const recorded = record.get(file);
  if (recorded && recorded.size === st.size) return recorded.sha256;
  const key = createHash('sha256').update(JSON.stringify([real, st.size, st.ino, st.mtimeMs])).digest('hex');
  const cached = path.join(cacheDir, 'fingerprints', `${key}.sha256`);
  const known = await fs.readFile(cached, 'utf8').catch(() => '');
  if (/^[0-9a-f]{64}$/.test(known)) return known;
  const h = createHash('sha256');
  for await (const chunk of createReadStream(real, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  const sha = h.digest('hex');
  // Best effort: a cache that cannot be written only means hashing again next time.
  await fs
    .mkdir(path.dirname(cached), { recursive: true })
    .then(() => fs.writeFile(`${cached}.${process.pid}`, sha))
    .then(() => fs.rename(`${cached}.${process.pid}`, cached))
    .catch(() => undefined);
  return sha;
}
