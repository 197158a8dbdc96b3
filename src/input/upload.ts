/**
 * Binary image uploads: the GraphQL multipart request spec
 * (github.com/jaydenseric/graphql-multipart-request-spec), the form Apollo Client's upload link,
 * urql and graphql-upload use. A multipart/form-data body carries
 *   operations  the GraphQL request as JSON, with null where each file goes
 *   map         JSON {"<part name>": ["variables.images.0.file", ...]}
 *   <part name> the file's bytes
 * so an image travels as its bytes: no base64 (a third larger) and no JSON parsing of megabytes on
 * the event loop (about 10 ms per MB of base64 JSON here, see BENCHMARKS.md).
 *
 * The body has already been read within the body limit (server/http.ts) and is split by
 * multipart.ts; each file is bounded by the image limit and the number of files by the image
 * count limit. Files are views into the body: no copies. Errors are ClipqlErrors with codes: BAD_USER_INPUT for a malformed request,
 * IMAGE_TOO_LARGE for a file over the limit, TOO_MANY_INPUTS for more files than images allowed.
 */
import { ClipqlError, ErrorCode } from '../errors';
import { MultipartError, splitFormData, type FormPart } from './multipart';

/** A file part of a multipart request; the value of the schema's `Upload` scalar. */
export class UploadedFile {
  constructor(
    readonly bytes: Buffer,
    readonly filename: string,
    readonly mimeType: string,
  ) {}

  /** Logs and error details show the name and size, never the bytes. */
  toJSON(): { filename: string; bytes: number } {
    return { filename: this.filename, bytes: this.bytes.length };
  }
}

export interface UploadLimits {
  /** Most file parts in one request (CLIP_MAX_IMAGES). */
  readonly maxFiles: number;
  /** Largest file (CLIP_MAX_IMAGE_BYTES). */
  readonly maxFileBytes: number;
}

const bad = (message: string) => new ClipqlError(ErrorCode.BAD_USER_INPUT, `multipart request: ${message}`);

/**
 * Parses a GraphQL multipart request body into the operations object (or batch array) with every
 * mapped path set to its UploadedFile. `contentType` is the request's header, boundary included.
 */
export function parseGraphQLMultipart(body: Buffer, contentType: string, limits: UploadLimits): unknown {
  let parts: FormPart[];
  try {
    // Operations, map and at most maxFiles files; a larger part is either a field over the body or
    // a file over the image limit: both are refused as the image limit.
    parts = splitFormData(body, contentType, { maxParts: limits.maxFiles + 2, maxPartBytes: limits.maxFileBytes });
  } catch (e) {
    if (!(e instanceof MultipartError)) throw e;
    if (e.kind === 'parts') throw new ClipqlError(ErrorCode.TOO_MANY_INPUTS, `more than ${limits.maxFiles} files in one request`, { details: { limit: limits.maxFiles } });
    if (e.kind === 'size') throw new ClipqlError(ErrorCode.IMAGE_TOO_LARGE, `multipart request: ${e.message}`, { details: { limit: limits.maxFileBytes } });
    throw bad(e.message);
  }
  const [first, second, ...rest] = parts;
  if (first?.name !== 'operations' || first.filename !== undefined) throw bad('the first part must be the operations field (then map, then the files)');
  if (second?.name !== 'map' || second.filename !== undefined) throw bad(second ? 'the operations field must be followed by the map field, then the files' : 'no map field');
  const operations = parseJson(first.data, 'operations');
  if (typeof operations !== 'object' || operations === null) throw bad('operations must be a JSON object or array');
  const map = readMap(parseJson(second.data, 'map'));
  const files = new Map<string, UploadedFile>();
  for (const part of rest) {
    if (part.name === 'operations' || part.name === 'map') throw bad(`a second ${part.name} field`);
    if (!map.has(part.name)) throw bad(`file part ${JSON.stringify(part.name)} is not in the map`);
    if (files.has(part.name)) throw bad(`two file parts named ${JSON.stringify(part.name)}`);
    files.set(part.name, new UploadedFile(part.data, part.filename ?? '', part.contentType ?? 'application/octet-stream'));
  }
  for (const [name, paths] of map) {
    const file = files.get(name);
    if (!file) throw bad(`the map names file part ${JSON.stringify(name)}, which the body does not have`);
    for (const p of paths) setAt(operations, p, file);
  }
  return operations;
}

function parseJson(data: Buffer, field: string): unknown {
  try {
    return JSON.parse(data.toString('utf8')) as unknown;
  } catch {
    throw bad(`the ${field} field is not valid JSON`);
  }
}

function readMap(value: unknown): Map<string, string[]> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad('map must be a JSON object {"<file part>": ["<path>", ...]}');
  const out = new Map<string, string[]>();
  for (const [name, paths] of Object.entries(value)) {
    if (!Array.isArray(paths) || paths.length === 0 || !paths.every((p) => typeof p === 'string')) throw bad(`map entry ${JSON.stringify(name)} must be a non-empty array of paths`);
    out.set(name, paths as string[]);
  }
  return out;
}

/**
 * Sets `operations.<path>` to the file. The path must lead, through the operations' own keys, to
 * a null placeholder under `variables` (as the spec has it): nothing else of the request can be
 * replaced, and no prototype is reachable ("__proto__" is never an own key of parsed JSON).
 */
function setAt(operations: unknown, path: string, file: UploadedFile): void {
  const keys = path.split('.');
  const where = `map path ${JSON.stringify(path)}`;
  const varsAt = Array.isArray(operations) ? 1 : 0; // batched: "0.variables.x"
  if (keys[varsAt] !== 'variables' || keys.length < varsAt + 2) throw bad(`${where} must point into variables`);
  let node: unknown = operations;
  for (let i = 0; i < keys.length; i++) {
    if (typeof node !== 'object' || node === null || !Object.prototype.hasOwnProperty.call(node, keys[i])) throw bad(`${where} does not exist in operations`);
    if (i === keys.length - 1) {
      if ((node as Record<string, unknown>)[keys[i]] !== null) throw bad(`${where} must hold null in operations (the file's placeholder)`);
      (node as Record<string, unknown>)[keys[i]] = file;
    } else {
      node = (node as Record<string, unknown>)[keys[i]];
    }
  }
}
