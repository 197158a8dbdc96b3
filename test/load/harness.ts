/**
 * The load suite's tools: a bounded load loop over HTTP (count, concurrency and wall time all
 * capped), the check that an answer is well formed, latency figures, and the server's memory read
 * from /proc. Everything talks to a real server on loopback; nothing here reaches further.
 *
 * LOAD_LONG=1 selects the long form (`npm run test:load`); without it each scenario runs its
 * short form, small enough for `npm test`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCode } from '../../src/errors';

export const LONG = process.env.LOAD_LONG === '1';

/** Picks the short or the long value of a setting. */
export const pick = <T>(short: T, long: T): T => (LONG ? long : short);

/** Every code a client may see: ours and Apollo's request-level ones. */
export const KNOWN_CODES = new Set<string>([...Object.values(ErrorCode), 'GRAPHQL_PARSE_FAILED', 'GRAPHQL_VALIDATION_FAILED', 'BAD_REQUEST', 'PERSISTED_QUERY_NOT_FOUND', 'OPERATION_RESOLUTION_FAILURE']);

/** One answer, reduced to what the suite checks. `outcome` is "ok", an error code, or a transport failure. */
export interface Answer {
  readonly status: number;
  readonly outcome: string;
  readonly ms: number;
  /** Why the answer is not well formed (undefined when it is). */
  readonly malformed?: string;
  readonly body?: { data?: any; errors?: any[] };
}

// One agent for the suite: keep-alive, enough sockets for the highest concurrency used.
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

/** A raw HTTP request on loopback with a hard deadline; never rejects (failures become outcomes). */
export function request(url: string, init: { method?: string; path?: string; body?: string | Buffer; headers?: Record<string, string>; timeoutMs?: number } = {}): Promise<{ status: number; text: string; ms: number; error?: string; headers: http.IncomingHttpHeaders }> {
  const t0 = performance.now();
  const u = new URL(init.path ?? '/graphql', url);
  return new Promise((resolve) => {
    let done = false;
    const finish = (r: { status: number; text: string; error?: string; headers?: http.IncomingHttpHeaders }) => {
      if (done) return;
      done = true;
      resolve({ headers: {}, ...r, ms: performance.now() - t0 });
    };
    const req = http.request(
      { host: u.hostname, port: u.port, path: u.pathname + u.search, method: init.method ?? 'POST', agent, headers: { 'content-type': 'application/json', ...init.headers }, timeout: init.timeoutMs ?? 60_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => finish({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
        res.on('error', (e) => finish({ status: res.statusCode ?? 0, text: '', error: `response: ${e.message}` }));
      },
    );
    req.on('timeout', () => {
      req.destroy();
      finish({ status: 0, text: '', error: `no answer within ${init.timeoutMs ?? 60_000} ms` });
    });
    req.on('error', (e) => finish({ status: 0, text: '', error: `${(e as NodeJS.ErrnoException).code ?? ''} ${e.message}` }));
    req.end(init.body);
  });
}

/**
 * POSTs a GraphQL body (an object, or raw text for malformed cases) and checks the answer is well
 * formed: an HTTP status, a JSON body with `data` or `errors`, every error with a known code, and
 * a status that agrees with the outcome (200 for data, 429 for OVERLOADED, 4xx for bad requests).
 */
export async function graphql(url: string, body: unknown, timeoutMs = 60_000): Promise<Answer> {
  const r = await request(url, { body: typeof body === 'string' ? body : JSON.stringify(body), timeoutMs });
  if (r.error) return { status: r.status, outcome: `TRANSPORT(${r.error.trim()})`, ms: r.ms, malformed: r.error };
  let parsed: { data?: any; errors?: any[] };
  try {
    parsed = JSON.parse(r.text);
  } catch {
    return { status: r.status, outcome: `HTTP_${r.status}`, ms: r.ms, malformed: `not JSON: ${r.text.slice(0, 200)}` };
  }
  return { status: r.status, outcome: outcomeOf(r.status, parsed), ms: r.ms, malformed: malformation(r.status, parsed, String(r.headers['content-type'] ?? '')), body: parsed };
}

function outcomeOf(status: number, b: { data?: unknown; errors?: any[] }): string {
  if (Array.isArray(b?.errors) && b.errors.length) return String(b.errors[0]?.extensions?.code ?? 'NO_CODE');
  if (status === 200 && b?.data) return 'ok';
  return `HTTP_${status}`; // not a GraphQL answer: 503 while draining, 408 for a slow client...
}

function malformation(status: number, b: { data?: unknown; errors?: any[] }, contentType: string): string | undefined {
  if (!/json/.test(contentType)) return `content-type ${contentType}`;
  if (b === null || typeof b !== 'object') return 'body is not an object';
  if (!('data' in b) && !('errors' in b)) return 'neither data nor errors';
  if (b.errors !== undefined) {
    if (!Array.isArray(b.errors) || b.errors.length === 0) return 'errors is not a non-empty array';
    for (const e of b.errors) {
      if (typeof e?.message !== 'string') return `an error without a message: ${JSON.stringify(e)}`;
      const code = e?.extensions?.code;
      if (typeof code !== 'string' || !KNOWN_CODES.has(code)) return `an error with code ${JSON.stringify(code)}`;
      if (e.extensions.stacktrace !== undefined) return 'a stack trace in production mode';
      if (e.extensions.http !== undefined) return 'extensions.http leaked into the answer';
    }
  }
  const code = b.errors?.[0]?.extensions?.code;
  if (code === undefined && status !== 200) return `HTTP ${status} with data and no errors`;
  if (b.errors?.some((e) => e.extensions?.code === 'OVERLOADED') && status !== 429) return `OVERLOADED with HTTP ${status}, not 429`;
  if (status === 429 && !b.errors?.some((e) => e.extensions?.code === 'OVERLOADED')) return 'HTTP 429 without OVERLOADED';
  return undefined;
}

/** One request of a load run: what to send and what must come back. */
export interface Shot {
  readonly kind: string;
  readonly body: unknown;
  /** "ok" or the error code a correct server answers with. */
  readonly expect: string;
}

export interface RunResult {
  readonly answers: Array<Answer & { kind: string; expect: string; at: number }>;
  readonly wallMs: number;
  /** Requests not sent because the time cap was reached. */
  readonly skipped: number;
}

/**
 * Sends `count` shots (made on demand by `make(i)`) with `concurrency` in flight, stopping early
 * when `maxMs` passes. `at` is each answer's arrival time since the start. `onProgress` is called
 * after every answer (the soak samples memory there).
 */
export async function loadRun(url: string, o: { count: number; concurrency: number; maxMs: number; make: (i: number) => Shot | Promise<Shot>; requestTimeoutMs?: number; onProgress?: (done: number) => void | Promise<void> }): Promise<RunResult> {
  const answers: RunResult['answers'] = [];
  const t0 = performance.now();
  let next = 0;
  let skipped = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= o.count) return;
      if (performance.now() - t0 > o.maxMs) {
        skipped++;
        continue;
      }
      const shot = await o.make(i);
      const a = await graphql(url, shot.body, o.requestTimeoutMs);
      answers.push({ ...a, kind: shot.kind, expect: shot.expect, at: performance.now() - t0 });
      await o.onProgress?.(answers.length);
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, worker));
  return { answers, wallMs: performance.now() - t0, skipped };
}

/** Latency figures in ms. */
export function latency(ms: readonly number[]): { n: number; p50: number; p90: number; p99: number; max: number } {
  const s = [...ms].sort((a, b) => a - b);
  const q = (p: number) => (s.length ? s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))] : NaN);
  return { n: s.length, p50: round(q(0.5)), p90: round(q(0.9)), p99: round(q(0.99)), max: round(s[s.length - 1] ?? NaN) };
}

const round = (x: number) => Math.round(x * 10) / 10;

/** Counts by a key, sorted by count. */
export function tally<T>(items: readonly T[], key: (t: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const it of items) out[key(it)] = (out[key(it)] ?? 0) + 1;
  return Object.fromEntries(Object.entries(out).sort((a, b) => b[1] - a[1]));
}

/** Resident memory of a process in MiB (VmRSS from /proc/PID/status). */
export function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Math.round(Number(m[1]) / 102.4) / 10;
}

/** Every descendant of a process (children, grandchildren...), from /proc. */
export function descendants(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      // /proc/PID/stat: "pid (comm) state ppid ..."; comm may contain spaces and parentheses.
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parent.set(Number(d), ppid);
    } catch {
      // the process ended while we looked
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const [c, pp] of parent) {
      if (pp === p) {
        out.push(c);
        walk(c);
      }
    }
  };
  walk(pid);
  return out;
}

/** True while a process exists (signal 0). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * A client that keeps asking one cheap, cached query while something else goes on, and records
 * its latencies: the measure of "the server stays responsive to other clients".
 */
export function probeClient(url: string, body: unknown, everyMs = 100): { stop(): Promise<Answer[]> } {
  let running = true;
  const answers: Answer[] = [];
  const loop = (async () => {
    while (running) {
      answers.push(await graphql(url, body, 30_000));
      await sleep(everyMs);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return answers;
    },
  };
}

/** A deterministic PRNG (mulberry32): the suite's inputs depend only on the seed. */
export { rng } from '../../scripts/hostile/bytes';

/** Reports a scenario's figures (the long form's figures in docs/testing.md are read from these lines). */
export function report(t: TestContext, name: string, figures: Record<string, unknown>): void {
  t.diagnostic(`load ${name}: ${JSON.stringify(figures)}`);
}
