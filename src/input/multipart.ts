/**
 * multipart/form-data (RFC 7578 over RFC 2046 §5.1.1) split into parts, for a body already read
 * into memory within the body limit (server/http.ts).
 *
 * Written here rather than taken from busboy, which it replaced: busboy streams through a
 * JavaScript Boyer-Moore-Horspool search and re-chunks file data, 0.5-4.3 ms per 0.8 MB upload on
 * these machines, on the event loop; with the whole body in hand, Buffer.indexOf (native memmem)
 * finds every delimiter in 0.14-0.18 ms for the same body, and a part's content is a view into
 * the body, never a copy (measured side by side, 100 runs each, 4 rounds). The grammar is small:
 *
 *   body      := preamble? ("--" boundary padding CRLF part CRLF)* "--" boundary "--" epilogue?
 *   part      := (header CRLF)* CRLF content        (content never contains CRLF "--" boundary)
 *
 * where padding is optional spaces and tabs. Headers are read for Content-Disposition (form-data;
 * name; filename) and Content-Type only; header names are case-insensitive, parameter values are
 * tokens or quoted strings (with backslash escapes, and the %22 %0D %0A that browsers write for
 * '"', CR and LF in names and filenames: the WHATWG form-data encoding), decoded as UTF-8.
 */
export interface FormPart {
  readonly name: string;
  /** Present (maybe '') when the part is a file. */
  readonly filename?: string;
  readonly contentType?: string;
  /** A view into the body. */
  readonly data: Buffer;
}

export class MultipartError extends Error {
  constructor(
    message: string,
    /** 'parts': more parts than allowed; 'size': a part larger than allowed; 'syntax': malformed. */
    readonly kind: 'syntax' | 'parts' | 'size',
  ) {
    super(message);
  }
}

const MAX_HEADER_BYTES = 8 * 1024;

/** The boundary parameter of a multipart/form-data content-type, or an error. */
export function boundaryOf(contentType: string): string {
  const m = /;\s*boundary=(?:"((?:[^"\\]|\\.){1,70})"|([^\s;"]{1,70}))\s*(?:;|$)/i.exec(contentType);
  if (!/^multipart\/form-data\s*(;|$)/i.test(contentType) || !m) throw new MultipartError('the content-type must be multipart/form-data with a boundary of 1 to 70 characters', 'syntax');
  return m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2];
}

/**
 * The parts in order. `maxParts` and `maxPartBytes` bound what a body may hold (checked as the
 * parts are found, before anything else is done with them).
 */
export function splitFormData(body: Buffer, contentType: string, limits: { maxParts: number; maxPartBytes: number }): FormPart[] {
  const boundary = boundaryOf(contentType);
  const dash = Buffer.from(`--${boundary}`, 'latin1');
  const delimiter = Buffer.from(`\r\n--${boundary}`, 'latin1');
  // The first boundary: at the very start, or after the preamble's CRLF.
  let at = body.subarray(0, dash.length).equals(dash) ? 0 : body.indexOf(delimiter) + 2;
  if (at < 2 && at !== 0) throw new MultipartError('no boundary line found in the body', 'syntax');
  const parts: FormPart[] = [];
  for (;;) {
    at += dash.length;
    if (body[at] === 0x2d && body[at + 1] === 0x2d) return parts; // "--": the close delimiter
    while (body[at] === 0x20 || body[at] === 0x09) at++; // transport padding
    if (body[at] !== 0x0d || body[at + 1] !== 0x0a) throw new MultipartError('a boundary line must end with CRLF', 'syntax');
    at += 2;
    const headersEnd = body.indexOf('\r\n\r\n', at - 2, 'latin1');
    if (headersEnd < 0 || headersEnd - at > MAX_HEADER_BYTES) throw new MultipartError(`a part's headers are missing their blank line or exceed ${MAX_HEADER_BYTES} bytes`, 'syntax');
    const headers = headersEnd < at ? '' : body.toString('utf8', at, headersEnd);
    const start = headersEnd + 4;
    const end = body.indexOf(delimiter, start);
    if (end < 0) throw new MultipartError('the body ends inside a part (no closing boundary)', 'syntax');
    if (parts.length === limits.maxParts) throw new MultipartError(`more than ${limits.maxParts} parts`, 'parts');
    const part = readHeaders(headers);
    const data = body.subarray(Math.min(start, end), end);
    if (data.length > limits.maxPartBytes) throw new MultipartError(`part ${JSON.stringify(part.name)} is larger than the limit of ${limits.maxPartBytes} bytes`, 'size');
    parts.push({ ...part, data });
    at = end + 2;
  }
}

function readHeaders(block: string): Omit<FormPart, 'data'> {
  let disposition: string | undefined;
  let contentType: string | undefined;
  for (const line of block.split('\r\n')) {
    if (line === '') continue;
    const colon = line.indexOf(':');
    if (colon <= 0) throw new MultipartError(`malformed part header ${JSON.stringify(line.slice(0, 80))}`, 'syntax');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'content-disposition') disposition = value;
    else if (name === 'content-type') contentType = value;
  }
  if (!disposition || !/^form-data\s*(;|$)/i.test(disposition)) throw new MultipartError('every part needs Content-Disposition: form-data', 'syntax');
  const params = dispositionParams(disposition);
  const name = params.get('name');
  if (name === undefined) throw new MultipartError('a part has no name in its Content-Disposition', 'syntax');
  return { name, filename: params.get('filename'), contentType };
}

/** `; key=token` or `; key="quoted \"string\""` parameters, keys lower-cased. */
function dispositionParams(value: string): Map<string, string> {
  const out = new Map<string, string>();
  const re = /;\s*([^\s=;]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s;"]*))/g;
  for (let m = re.exec(value); m; m = re.exec(value)) {
    const key = m[1].toLowerCase();
    if (!out.has(key)) out.set(key, m[2] !== undefined ? unescapeQuoted(m[2]) : m[3]);
  }
  return out;
}

function unescapeQuoted(v: string): string {
  return v.replace(/\\(.)/g, '$1').replace(/%(22|0D|0A)/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}
