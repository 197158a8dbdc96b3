/**
 * One file over HTTP(S), the way large model files need it:
 *
 * - Resumable. Bytes go to `<dest>.part`; `<dest>.part.json` remembers the URL and the validator
 *   (a strong ETag, else Last-Modified) and the total size. A later attempt, in this run or the
 *   next, asks for `Range: bytes=<have>-` with `If-Range: <validator>`. A 206 whose Content-Range
 *   starts where we are continues the file; a 200 means the server ignored the range or the file
 *   changed, so the download starts over; a 416 with a complete part means the bytes are all there.
 * - Verified. The size and sha256 come from the manifest when pinned, else from the hub itself
 *   (X-Linked-Size / X-Linked-Etag, which the Hugging Face hub sends for LFS files), else the size
 *   from Content-Length. A mismatch deletes the part and fails: it is never retried into place.
 *   Only a verified file is renamed to `dest`.
 * - Patient, within bounds. A stall watchdog aborts a request that delivers no byte (headers
 *   included) for `stallTimeoutMs`; stalls, dropped connections, 408, 429 and 5xx are retried with
 *   exponential backoff, `retries` times after the first attempt (an attempt that made progress
 *   resets the count). DNS failures and refused connections fail at once: that is being offline,
 *   and waiting does not help.
 * - Careful with credentials. Redirects are followed by hand (the hub answers LFS files with a
 *   302 to its CDN): `Authorization: Bearer $HF_TOKEN` goes only to requests whose origin is the
 *   hub's, never to a redirect target elsewhere; an https → http redirect is refused.
 *
 * Longer than the usual ~300 lines on purpose: resuming, retrying, following redirects, checking and
 * naming the failures of one transfer share its state (the .part file, the validator, the
 * attempt), and split apart each piece would need all of it.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, promises as fs, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { ClipqlError, ErrorCode } from '../errors';
import type { Progress } from './progress';
import type { Dispatchers, Env } from './proxy';

export interface DownloadSpec {
  readonly url: string;
  /** The file's path in the bundle, for messages and progress. */
  readonly label: string;
  /** Final path; the file appears there only once verified. */
  readonly dest: string;
  readonly expectedSize?: number | null;
  readonly expectedSha256?: string | null;
  /** The hub's origin: requests to it (and only to it) carry HF_TOKEN. */
  readonly hubOrigin?: string;
}

export interface DownloadOptions {
  readonly env: Env;
  readonly dispatchers: Dispatchers;
  /** No byte for this long → abort the request (and retry). */
  readonly stallTimeoutMs: number;
  /** Retries after the first attempt. */
  readonly retries: number;
  /** First backoff; doubles on each retry, capped at 30 s. */
  readonly retryDelayMs: number;
  readonly maxRedirects?: number;
  readonly progress: Progress;
  /** Position in the fetch, for the progress display. */
  readonly index?: number;
  readonly count?: number;
  readonly userAgent?: string;
}

export interface DownloadResult {
  readonly size: number;
  readonly sha256: string;
  /** How the file was checked: "manifest" (pinned values), "hub" (X-Linked-*), "size" (length only). */
  readonly verifiedBy: 'manifest' | 'hub' | 'size';
  /** X-Repo-Commit from the hub, when it said. */
  readonly commit?: string;
  /** True when some bytes came from an earlier, interrupted transfer. */
  readonly resumed: boolean;
}

interface PartMeta {
  url: string;
  validator?: string;
  total?: number;
}

/** Connection errors that mean "cannot reach the host" rather than "the transfer broke". */
const OFFLINE = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'EAI_FAIL', 'ECONNREFUSED', 'ENETUNREACH', 'EHOSTUNREACH', 'ENETDOWN', 'EHOSTDOWN', 'UND_ERR_CONNECT_TIMEOUT']);
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const DEFAULT_UA = 'clipql-models/1 (+https://github.com/openai/CLIP models download)';

/** A failure worth another attempt (stall, dropped connection, 5xx). */
class Transient extends Error {}
/** The bytes on disk are not a prefix of the file: discard them and start at 0, without waiting. */
class StartOver extends Error {}

export async function downloadFile(spec: DownloadSpec, options: DownloadOptions): Promise<DownloadResult> {
  const partFile = `${spec.dest}.part`;
  const metaFile = `${spec.dest}.part.json`;
  const host = new URL(spec.url).host;
  let attempt = 0;
  let startOvers = 0;
  let resumed = false;
  for (;;) {
    let progressed = false;
    try {
      const got = await attemptOnce(spec, options, partFile, metaFile, (n) => {
        if (n > 0) progressed = true;
      });
      resumed ||= got.resumed;
      return { ...got, resumed };
    } catch (e) {
      if (e instanceof StartOver) {
        await discard(partFile, metaFile);
        if (++startOvers > 3) throw new ClipqlError(ErrorCode.FETCH_FAILED, `${spec.label}: ${e.message}, again after starting over 3 times (${spec.url})`);
        options.progress.note(`${spec.label}: ${e.message}; starting over`);
        continue;
      }
      if (!(e instanceof Transient)) throw e;
      if (progressed) attempt = 0;
      if (attempt >= options.retries) {
        const n = options.retries + 1;
        const kept = (await fileSize(partFile)) > 0 ? ` The bytes received so far are kept in ${partFile}: run the same command again to resume.` : '';
        throw new ClipqlError(ErrorCode.FETCH_FAILED, `${spec.label}: ${e.message} (from ${host}); gave up after ${n} attempt${n === 1 ? '' : 's'}.${kept}`, { details: { file: spec.label, url: spec.url } });
      }
      const delay = Math.min(30_000, options.retryDelayMs * 2 ** attempt);
      attempt++;
      options.progress.note(`${spec.label}: ${e.message}; retrying in ${(delay / 1000).toFixed(1)} s (retry ${attempt} of ${options.retries})`);
      await sleep(delay);
    }
  }
}

async function attemptOnce(
  spec: DownloadSpec,
  options: DownloadOptions,
  partFile: string,
  metaFile: string,
  onBytes: (n: number) => void,
): Promise<Omit<DownloadResult, 'resumed'> & { resumed: boolean }> {
  const meta = await readMeta(metaFile);
  let have = meta && meta.url === spec.url ? await fileSize(partFile) : 0;
  if (have > 0 && meta?.total !== undefined && have > meta.total) have = 0;
  if (have === 0) await discard(partFile, metaFile);
  // Everything the body needs is ready before the request: once the response is there, the body
  // is read at once (a connection that drops while we prepare would lose what it delivered).
  let hash = createHash('sha256');
  if (have > 0) await hashPrefix(partFile, have, hash);
  const fh = await fs.open(partFile, 'a').catch((e: unknown) => {
    throw local(spec, partFile, e);
  });

  const watchdog = new Watchdog(options.stallTimeoutMs);
  const hop: Hop = { url: new URL(spec.url) };
  let complete: { size: number; hub: HubHeaders; offset: number } | undefined;
  try {
    const { res, hub, proxy } = await openResponse(spec, options, have, meta?.validator, watchdog, hop);
    const status = res.statusCode;
    watchdog.kick();
    let offset: number;
    let total: number | undefined;
    if (status === 206 && have > 0) {
      const range = parseContentRange(res.headers['content-range']);
      if (!range || range.start !== have) {
        await res.body.dump().catch(() => undefined);
        throw new StartOver(`the server answered the range request for bytes ${have}- with ${String(res.headers['content-range'])}`);
      }
      offset = have;
      total = range.total;
    } else if (status === 416 && have > 0) {
      await res.body.dump().catch(() => undefined);
      if (meta?.total !== have) throw new StartOver(`the server refused the range request (416) for a part of ${have} bytes`);
      offset = have;
      total = have;
      complete = { size: have, hub, offset }; // the part is the whole file, already hashed
    } else if (status === 200) {
      if (have > 0) {
        options.progress.note(`${spec.label}: the server sent the whole file instead of the rest (no range support, or the file changed); starting over`);
        await fh.truncate(0);
        hash = createHash('sha256');
      }
      offset = 0;
      const len = Number(res.headers['content-length']);
      total = Number.isSafeInteger(len) && len >= 0 ? len : undefined;
    } else {
      await res.body.dump().catch(() => undefined);
      throw httpError(spec, status, proxy);
    }

    const expectedSize = spec.expectedSize ?? hub.size;
    if (total !== undefined && expectedSize != null && total !== expectedSize) {
      await res.body.dump().catch(() => undefined);
      throw new ClipqlError(ErrorCode.BAD_MODEL, `${spec.label}: the server offers ${total} bytes but ${spec.expectedSize != null ? 'the manifest pins' : 'the hub announces'} ${expectedSize} (${spec.url}): the file changed at its source, or the manifest is wrong`, { details: { file: spec.label, url: spec.url } });
    }
    if (spec.expectedSha256 && hub.sha256 && hub.sha256 !== spec.expectedSha256) {
      await res.body.dump().catch(() => undefined);
      throw new ClipqlError(ErrorCode.BAD_MODEL, `${spec.label}: the hub serves a file with sha256 ${hub.sha256}, the manifest pins ${spec.expectedSha256} (${spec.url}): the file changed at this revision, or the manifest is wrong`, { details: { file: spec.label, url: spec.url } });
    }

    if (!complete) {
      const validator = strongValidator(res.headers.etag, res.headers['last-modified']);
      writeMeta(metaFile, { url: spec.url, ...(validator && { validator }), ...(total !== undefined && { total }) });
      options.progress.start({ label: spec.label, index: options.index ?? 1, count: options.count ?? 1, total: total ?? expectedSize ?? undefined, offset });
      let written = 0;
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        watchdog.kick();
        try {
          await fh.write(chunk);
        } catch (e) {
          throw local(spec, partFile, e);
        }
        hash.update(chunk);
        written += chunk.length;
        onBytes(written);
        options.progress.update(offset + written);
      }
      const size = offset + written;
      if (total !== undefined && size < total) throw new Transient(`the connection closed after ${size} of ${total} bytes`);
      if (total !== undefined && size > total) throw new StartOver(`received ${size} bytes, more than the announced ${total}`);
      complete = { size, hub, offset };
    }
  } catch (e) {
    if (watchdog.fired) throw new Transient(`no data for ${(options.stallTimeoutMs / 1000).toFixed(1)} s (stall timeout)`);
    if (e instanceof ClipqlError || e instanceof Transient || e instanceof StartOver) throw e;
    const codes = errorCodes(e);
    if (codes.some((c) => LOCAL_CODES.has(c))) throw local(spec, partFile, e);
    const offline = codes.find((c) => OFFLINE.has(c));
    if (offline) throw offlineError(spec, e, offline, hop);
    throw new Transient(describe(e));
  } finally {
    watchdog.stop();
    await fh.close().catch(() => undefined);
  }
  return finish(spec, partFile, metaFile, complete.size, hash, complete.hub, complete.offset > 0);
}

/** What the hub says about a file besides its bytes. */
interface HubHeaders {
  /** X-Repo-Commit: the commit the revision resolved to. */
  commit?: string;
  /** X-Linked-Etag of an LFS file: its sha256. */
  sha256?: string;
  /** X-Linked-Size of an LFS file. */
  size?: number;
}

/** The request in flight: where it goes, and through which proxy. */
interface Hop {
  url: URL;
  proxy?: string;
}

/** Follows redirects by hand, so that the token stays with the hub and the hub's headers are seen. */
async function openResponse(spec: DownloadSpec, options: DownloadOptions, have: number, validator: string | undefined, watchdog: Watchdog, hop: Hop) {
  const token = options.env.HF_TOKEN?.trim() || options.env.HUGGING_FACE_HUB_TOKEN?.trim();
  const hub: HubHeaders = {};
  let url = new URL(spec.url);
  for (let hops = 0; ; hops++) {
    const headers: Record<string, string> = { 'user-agent': options.userAgent ?? DEFAULT_UA, 'accept-encoding': 'identity' };
    if (have > 0) {
      headers.range = `bytes=${have}-`;
      if (validator) headers['if-range'] = validator;
    }
    if (token && spec.hubOrigin && url.origin === spec.hubOrigin) headers.authorization = `Bearer ${token}`;
    const { dispatcher, proxy } = options.dispatchers.for(url);
    hop.url = url;
    hop.proxy = proxy;
    watchdog.kick();
    const res = await request(url, { method: 'GET', headers, dispatcher, signal: watchdog.signal });
    // The body may fail before it is read (the file is prepared first): without a listener that
    // would be an uncaught exception. Reading it later still throws the error.
    res.body.on('error', () => undefined);
    if (spec.hubOrigin && url.origin === spec.hubOrigin) {
      const commit = header(res.headers['x-repo-commit']);
      const linked = header(res.headers['x-linked-etag'])?.replace(/^W\//, '').replace(/"/g, '');
      const size = Number(header(res.headers['x-linked-size']));
      if (commit) hub.commit = commit;
      if (linked && /^[0-9a-f]{64}$/.test(linked)) hub.sha256 = linked;
      if (Number.isSafeInteger(size) && size >= 0 && header(res.headers['x-linked-size']) !== undefined) hub.size = size;
    }
    if (!REDIRECTS.has(res.statusCode)) return { res, hub, proxy };
    await res.body.dump().catch(() => undefined);
    const location = header(res.headers.location);
    if (!location) throw new ClipqlError(ErrorCode.FETCH_FAILED, `${spec.label}: HTTP ${res.statusCode} without a Location header from ${url.host} (${spec.url})`);
    const next = new URL(location, url);
    if (next.protocol !== 'https:' && next.protocol !== 'http:') throw new ClipqlError(ErrorCode.FETCH_FAILED, `${spec.label}: refusing a redirect to ${next.protocol} (${spec.url})`);
    if (url.protocol === 'https:' && next.protocol === 'http:') throw new ClipqlError(ErrorCode.FETCH_FAILED, `${spec.label}: refusing a redirect from https to plain http (${next.host}) (${spec.url})`);
    if (hops + 1 > (options.maxRedirects ?? 10)) throw new ClipqlError(ErrorCode.FETCH_FAILED, `${spec.label}: more than ${options.maxRedirects ?? 10} redirects (${spec.url})`);
    url = next;
  }
}

async function finish(
  spec: DownloadSpec,
  partFile: string,
  metaFile: string,
  size: number,
  hash: Hash,
  hub: HubHeaders,
  resumed: boolean,
) {
  const sha256 = hash.digest('hex');
  const wantSize = spec.expectedSize ?? hub.size;
  const wantSha = spec.expectedSha256 ?? hub.sha256;
  const by = spec.expectedSha256 ? 'the manifest' : 'the hub';
  if (wantSize != null && size !== wantSize) {
    await discard(partFile, metaFile);
    throw new ClipqlError(ErrorCode.BAD_MODEL, `${spec.label}: size mismatch: downloaded ${size} bytes, ${spec.expectedSize != null ? 'the manifest' : 'the hub'} says ${wantSize} (${spec.url}); the download was deleted`, { details: { file: spec.label, url: spec.url } });
  }
  if (wantSha && sha256 !== wantSha) {
    await discard(partFile, metaFile);
    throw new ClipqlError(ErrorCode.BAD_MODEL, `${spec.label}: checksum mismatch: sha256 ${sha256}, ${by} expects ${wantSha} (${spec.url}); the download was deleted. If the source changed on purpose, fix the manifest (or fetch with --pin after checking it).`, { details: { file: spec.label, url: spec.url, sha256, expected: wantSha } });
  }
  await fs.rename(partFile, spec.dest);
  await fs.rm(metaFile, { force: true });
  return {
    size,
    sha256,
    verifiedBy: spec.expectedSha256 ? ('manifest' as const) : hub.sha256 ? ('hub' as const) : ('size' as const),
    ...(hub.commit && { commit: hub.commit }),
    resumed,
  };
}

/** sha256 of a whole file, streamed. */
export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function hashPrefix(file: string, length: number, hash: Hash): Promise<void> {
  await fs.truncate(file, length);
  for await (const chunk of createReadStream(file, { start: 0, end: length - 1, highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
}

/** Resets on every sign of life; when it fires, the request is aborted. */
class Watchdog {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  fired = false;
  constructor(private readonly ms: number) {}
  get signal(): AbortSignal {
    return this.controller.signal;
  }
  kick(): void {
    if (this.fired) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.fired = true;
      this.controller.abort(new Error('stalled'));
    }, this.ms);
  }
  stop(): void {
    clearTimeout(this.timer);
  }
}

function httpError(spec: DownloadSpec, status: number, proxy: string | undefined): Error {
  const where = `${spec.url}${proxy ? ` through the proxy ${redact(proxy)}` : ''}`;
  if (status === 408 || status === 429 || status >= 500) return new Transient(`HTTP ${status}`);
  let hint = '';
  if (status === 401 || status === 403) {
    hint = spec.hubOrigin
      ? ' The repository may be private or gated: set HF_TOKEN to a Hugging Face access token that may read it.'
      : ' The server refused access.';
  } else if (status === 404) {
    hint = spec.hubOrigin ? ' Check the repository, revision and file name in the manifest (and HF_ENDPOINT, if set).' : ' Check the URL in the manifest.';
  } else if (status === 407) {
    hint = ' The proxy wants credentials: put them in the proxy URL (http://user:password@host:port).';
  }
  return new ClipqlError(ErrorCode.FETCH_FAILED, `${spec.label}: HTTP ${status} from ${where}.${hint}`, { details: { file: spec.label, url: spec.url, status } });
}

function offlineError(spec: DownloadSpec, e: unknown, code: string, hop: Hop): ClipqlError {
  const host = hop.proxy ? `the proxy ${redact(hop.proxy)} (for ${hop.url.host})` : hop.url.host;
  const message = e instanceof Error ? e.message : String(e);
  const why = code === 'ENOTFOUND' || code.startsWith('EAI_') ? 'the name does not resolve' : code === 'ECONNREFUSED' ? 'connection refused' : code === 'UND_ERR_CONNECT_TIMEOUT' ? 'connection timed out' : 'no route';
  return new ClipqlError(
    ErrorCode.FETCH_FAILED,
    `cannot reach ${host}: are you offline? (${why}: ${code}${message && !message.includes(code) ? `, ${message}` : ''}) while fetching ${spec.label} from ${spec.url}. Check the network connection, the proxy settings (HTTPS_PROXY, HTTP_PROXY, NO_PROXY) or HF_ENDPOINT.`,
    { details: { file: spec.label, url: spec.url, code }, cause: e },
  );
}

const LOCAL_CODES = new Set(['ENOSPC', 'EDQUOT', 'EACCES', 'EPERM', 'EROFS', 'EISDIR', 'ENOTDIR', 'EMFILE']);

function local(spec: DownloadSpec, file: string, e: unknown): ClipqlError {
  if (e instanceof ClipqlError) return e;
  const code = (e as NodeJS.ErrnoException).code ?? '';
  const what = code === 'ENOSPC' || code === 'EDQUOT' ? 'no space left on the disk' : code === 'EACCES' || code === 'EPERM' || code === 'EROFS' ? 'not allowed to write there' : describe(e);
  return new ClipqlError(ErrorCode.FETCH_FAILED, `${spec.label}: cannot write ${file}: ${what}${code ? ` (${code})` : ''}`, { details: { file: spec.label }, cause: e });
}

function errorCodes(e: unknown): string[] {
  const codes: string[] = [];
  for (let x: unknown = e, i = 0; x && i < 6; i++) {
    const c = (x as { code?: unknown }).code;
    if (typeof c === 'string') codes.push(c);
    if (x instanceof AggregateError) for (const inner of x.errors) codes.push(...errorCodes(inner));
    x = (x as { cause?: unknown }).cause;
  }
  return codes;
}

function describe(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const code = errorCodes(e)[0];
  return code && !e.message.includes(code) ? `${e.message} (${code})` : e.message;
}

function header(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function strongValidator(etag: string | string[] | undefined, lastModified: string | string[] | undefined): string | undefined {
  const e = header(etag);
  if (e && !e.startsWith('W/')) return e;
  return header(lastModified);
}

function parseContentRange(v: string | string[] | undefined): { start: number; end: number; total?: number } | undefined {
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(header(v)?.trim() ?? '');
  if (!m) return undefined;
  return { start: Number(m[1]), end: Number(m[2]), ...(m[3] !== '*' && { total: Number(m[3]) }) };
}

function redact(proxy: string): string {
  try {
    const u = new URL(proxy);
    if (u.username || u.password) {
      u.username = '***';
      u.password = '';
    }
    return u.href;
  } catch {
    return '(unparsable proxy URL)';
  }
}

async function readMeta(file: string): Promise<PartMeta | undefined> {
  try {
    const v = JSON.parse(await fs.readFile(file, 'utf8')) as PartMeta;
    return typeof v.url === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}

/** Synchronous on purpose: a few bytes, written between the response and the first body read. */
function writeMeta(file: string, meta: PartMeta): void {
  writeFileSync(file, JSON.stringify(meta));
}

async function fileSize(file: string): Promise<number> {
  return fs.stat(file).then((s) => s.size, () => 0);
}

async function discard(partFile: string, metaFile: string): Promise<void> {
  await fs.rm(partFile, { force: true });
  await fs.rm(metaFile, { force: true });
}
