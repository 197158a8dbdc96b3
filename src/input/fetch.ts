/**
 * Fetching URL inputs safely on behalf of untrusted clients.
 * - http and https only; at most `maxRedirects` redirects, each target checked again.
 * - SSRF: unless `allowPrivate`, every address the host resolves to must be public. The check
 *   runs in the socket's own `lookup`, so the address checked is the address connected to (no
 *   DNS-rebinding window); IP literals, which skip lookup, are checked up front.
 * - Bounded: one deadline for the whole transfer (a server that trickles or never ends is cut
 *   off), a byte cap enforced while streaming and from Content-Length before it.
 * Every failure is FETCH_FAILED (IMAGE_TOO_LARGE for the cap) with a message that says why.
 */
import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { ClipqlError, ErrorCode } from '../errors';

export interface FetchOptions {
  readonly timeoutMs: number;
  readonly maxBytes: number;
  readonly maxRedirects: number;
  readonly allowPrivate: boolean;
  /** host[:port] values (URL.host) trusted even on private addresses. */
  readonly allowHosts?: readonly string[];
  readonly signal?: AbortSignal;
}

/** Private, loopback, link-local, CGNAT, multicast, reserved: never reachable from a URL input by default. */
const BLOCKED = (() => {
  const b = new net.BlockList();
  for (const [a, p] of [['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12], ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24], ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4]] as const) {
    b.addSubnet(a, p, 'ipv4');
  }
  for (const [a, p] of [['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8], ['64:ff9b::', 96], ['2001:db8::', 32]] as const) {
    b.addSubnet(a, p, 'ipv6');
  }
  return b;
})();

export function isPrivateAddress(address: string): boolean {
  const family = net.isIP(address);
  if (family === 4) return BLOCKED.check(address, 'ipv4');
  if (family === 6) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    if (mapped) return BLOCKED.check(mapped[1], 'ipv4');
    return BLOCKED.check(address, 'ipv6');
  }
  return true; // not an IP: refuse rather than guess
}

const fail = (message: string, details: Record<string, unknown> = {}) => new ClipqlError(ErrorCode.FETCH_FAILED, message, { details });

export async function fetchImage(rawUrl: string, opts: FetchOptions): Promise<Uint8Array> {
  // Not AbortSignal.timeout(): inside AbortSignal.any() Node 20 holds it weakly, and a garbage
  // collection before it fires drops it (a trickling server then has no deadline). The timer
  // below holds its controller strongly until it fires or the fetch ends.
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(new DOMException(`the fetch took longer than ${opts.timeoutMs} ms`, 'TimeoutError')), opts.timeoutMs);
  const signal = opts.signal ? AbortSignal.any([deadline.signal, opts.signal]) : deadline.signal;
  try {
    let url = parseUrl(rawUrl);
    for (let hop = 0; ; hop++) {
      const res = await get(url, opts, signal);
      if (res.redirect) {
        if (hop >= opts.maxRedirects) throw fail(`too many redirects (more than ${opts.maxRedirects}) fetching ${rawUrl}`);
        url = parseUrl(new URL(res.redirect, url).toString());
        continue;
      }
      return res.body!;
    }
  } finally {
    clearTimeout(timer);
  }
}

function parseUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ClipqlError(ErrorCode.BAD_USER_INPUT, `not a valid URL: ${JSON.stringify(raw.slice(0, 200))}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ClipqlError(ErrorCode.BAD_USER_INPUT, `only http and https URLs are accepted, got ${url.protocol.replace(':', '')}`);
  }
  if (url.username || url.password) throw new ClipqlError(ErrorCode.BAD_USER_INPUT, 'URLs with credentials are not accepted');
  return url;
}

function get(url: URL, opts: FetchOptions, signal: AbortSignal): Promise<{ redirect?: string; body?: Uint8Array }> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const trusted = opts.allowPrivate || (opts.allowHosts ?? []).includes(url.host.toLowerCase());
  if (!trusted && net.isIP(host) && isPrivateAddress(host)) {
    return Promise.reject(fail(`refused to fetch ${url.origin}: ${host} is a private, loopback or link-local address`, { address: host }));
  }
  const lookup: net.LookupFunction = (hostname, options, cb) => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return cb(err, '', 0);
      const list = addresses as dns.LookupAddress[];
      const bad = trusted ? undefined : list.find((a) => isPrivateAddress(a.address));
      if (bad) return cb(Object.assign(new Error(`${hostname} resolves to ${bad.address}, a private, loopback or link-local address`), { code: 'EPRIVATE' }), '', 0);
      if ((options as { all?: boolean }).all) return (cb as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, list);
      cb(null, list[0].address, list[0].family);
    });
  };
  const lib = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.get(url, { lookup, signal, headers: { 'user-agent': 'clipql', accept: 'image/*' } }, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location) {
        res.resume();
        resolve({ redirect: res.headers.location });
        return;
      }
      if (status < 200 || status >= 300) {
        res.resume();
        reject(fail(`fetching ${url.origin}${url.pathname} failed: HTTP ${status}`, { status }));
        return;
      }
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > opts.maxBytes) {
        res.destroy();
        reject(tooLarge(opts.maxBytes, declared));
        return;
      }
      const chunks: Buffer[] = [];
      let total = 0;
      res.on('data', (c: Buffer) => {
        total += c.length;
        if (total > opts.maxBytes) {
          res.destroy();
          reject(tooLarge(opts.maxBytes, total));
          return;
        }
        chunks.push(c);
      });
      res.on('end', () => resolve({ body: Buffer.concat(chunks) }));
      res.on('error', (e) => reject(explain(e, url, signal, opts)));
    });
    req.on('error', (e) => reject(explain(e, url, signal, opts)));
  });
}

function tooLarge(limit: number, got: number): ClipqlError {
  return new ClipqlError(ErrorCode.IMAGE_TOO_LARGE, `the image at the URL is larger than the limit of ${limit} bytes (at least ${got} bytes)`, { details: { limit } });
}

function explain(e: Error & { code?: string }, url: URL, signal: AbortSignal, opts: FetchOptions): ClipqlError {
  if (e instanceof ClipqlError) return e;
  if (signal.aborted) {
    const r: unknown = signal.reason;
    if (r instanceof ClipqlError) return r;
    if (r instanceof Error && r.name === 'TimeoutError') return fail(`fetching ${url.origin} took longer than ${opts.timeoutMs} ms`);
    return fail(`fetching ${url.origin} was cancelled`);
  }
  if (e.code === 'EPRIVATE') return fail(`refused to fetch ${url.origin}: ${e.message}`);
  if (e.code === 'ENOTFOUND') return fail(`fetching ${url.origin} failed: host not found`);
  return fail(`fetching ${url.origin} failed: ${e.code ?? e.message}`);
}
