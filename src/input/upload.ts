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
 * Parsing is busboy's (the parser multer and graphql-upload use); the body has already been read
 * within the body limit (server/http.ts), so everything here is bounded by it, and each file by
 * the image limit. Errors are ClipqlErrors with codes: BAD_USER_INPUT for a malformed request,
 * IMAGE_TOO_LARGE for a file over the limit, TOO_MANY_INPUTS for more files than images allowed.
 */
import busboy from 'busboy';
import { ClipqlError, ErrorCode } from '../errors';

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
export function parseGraphQLMultipart(body: Buffer, contentType: string, limits: UploadLimits): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({
        headers: { 'content-type': contentType },
        // Fields: operations and map, each at most the whole body. Parts: those two and the files.
        limits: { fields: 2, fieldSize: body.length, files: limits.maxFiles, fileSize: limits.maxFileBytes, parts: limits.maxFiles + 2 },
      });
    } catch (e) {
      reject(bad(`the content-type is not a usable multipart/form-data type (${(e as Error).message})`));
      return;
    }
    let operations: unknown;
    let map: Map<string, string[]> | undefined;
    const files = new Map<string, UploadedFile>();
    let failure: ClipqlError | undefined;
    const fail = (e: ClipqlError) => {
      failure ??= e;
    };

    parser.on('field', (name, value, info) => {
      if (info.valueTruncated) return fail(bad(`the ${name} field is truncated`));
      if (name === 'operations') {
        if (operations !== undefined) return fail(bad('two operations fields'));
        operations = parseJson(value, 'operations', fail);
        if (operations !== undefined && (typeof operations !== 'object' || operations === null)) fail(bad('operations must be a JSON object or array'));
      } else if (name === 'map') {
        if (operations === undefined) return fail(bad('the operations field must come first, then map, then the files'));
        if (map) return fail(bad('two map fields'));
        map = readMap(parseJson(value, 'map', fail), fail);
      } else {
        fail(bad(`unexpected field ${JSON.stringify(name)} (expected operations, map, then files)`));
      }
    });
    parser.on('file', (name, stream, info) => {
      const chunks: Buffer[] = [];
      if (!map) fail(bad('the map field must come before the files'));
      else if (!map.has(name)) fail(bad(`file part ${JSON.stringify(name)} is not in the map`));
      stream.on('data', (c: Buffer) => {
        if (!failure) chunks.push(c);
      });
      stream.on('limit', () => fail(new ClipqlError(ErrorCode.IMAGE_TOO_LARGE, `file part ${JSON.stringify(name)} is larger than the limit of ${limits.maxFileBytes} bytes`, { details: { limit: limits.maxFileBytes } })));
      stream.on('end', () => {
        if (!failure) files.set(name, new UploadedFile(Buffer.concat(chunks), info.filename ?? '', info.mimeType));
      });
    });
    const tooMany = () => fail(new ClipqlError(ErrorCode.TOO_MANY_INPUTS, `more than ${limits.maxFiles} files in one request`, { details: { limit: limits.maxFiles } }));
    parser.on('filesLimit', tooMany);
    parser.on('partsLimit', tooMany);
    parser.on('fieldsLimit', () => fail(bad('more fields than operations and map')));
    parser.on('error', (e: Error) => {
      fail(bad(`malformed body (${e.message})`));
      finish();
    });
    parser.on('close', finish);
    let finished = false;
    function finish(): void {
      if (finished) return;
      finished = true;
      if (failure) return reject(failure);
      if (operations === undefined) return reject(bad('no operations field'));
      if (!map) return reject(bad('no map field'));
      try {
        for (const [name, paths] of map) {
          const file = files.get(name);
          if (!file) throw bad(`the map names file part ${JSON.stringify(name)}, which the body does not have`);
          for (const p of paths) setAt(operations, p, file);
        }
      } catch (e) {
        return reject(e);
      }
      resolve(operations);
    }
    parser.end(body);
  });
}

function parseJson(text: string, field: string, fail: (e: ClipqlError) => void): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    fail(bad(`the ${field} field is not valid JSON`));
    return undefined;
  }
}

function readMap(value: unknown, fail: (e: ClipqlError) => void): Map<string, string[]> | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail(bad('map must be a JSON object {"<file part>": ["<path>", ...]}'));
    return undefined;
  }
  const out = new Map<string, string[]>();
  for (const [name, paths] of Object.entries(value)) {
    if (!Array.isArray(paths) || paths.length === 0 || !paths.every((p) => typeof p === 'string')) {
      fail(bad(`map entry ${JSON.stringify(name)} must be a non-empty array of paths`));
      return undefined;
    }
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
