/**
 * The load generator: autocannon, in a process of its own, against clipql's /graphql or the
 * Transformers.js peer server (peer-server.ts). One image or one caption per request, every
 * request distinct: images cycle through the variants made by inputs.ts (the notebook images with
 * a few pixels changed), captions are the notebook captions with a running number appended.
 *
 *   node dist/scripts/bench/serving/load.js --url http://127.0.0.1:PORT --target clipql|peer
 *        --kind image|text --concurrency N (--seconds S | --amount N) --variants DIR [--start K]
 *        [--transport upload|json]   how images travel (default upload): clipql gets a GraphQL
 *                         multipart upload (input/upload.ts), the peer the raw bytes as the body;
 *                         json: base64 inside JSON for both
 *        [--repeat-one]   (every request the same image or caption: the cache-hit figure)
 *        [--distinct N]   (only N different inputs, cycled)
 * Answers RESULT {kind, target, concurrency, ok, failed, seconds, itemsPerSecond, p50, p99, max}
 */
import fs from 'node:fs';
import path from 'node:path';
import autocannon from 'autocannon';
import { answer, args, notebookCaptions } from '../common';

const IMAGE_QUERY = 'query($i:[ImageInput!]!){embedImages(images:$i){embedding}}';
const TEXT_QUERY = 'query($c:[String!]!){embedCaptions(captions:$c){embedding}}';

const BOUNDARY = 'clipql-bench-3f9a1c';
const UPLOAD_TYPE = `multipart/form-data; boundary=${BOUNDARY}`;

/** A GraphQL multipart request (operations, map, one file part) for one image, as Apollo Client's upload link sends it. */
function uploadBody(bytes: Buffer): Buffer {
  const field = (name: string, value: string) => `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
  const head = field('operations', JSON.stringify({ query: IMAGE_QUERY, variables: { i: [{ file: null }] } })) + field('map', '{"0":["variables.i.0.file"]}');
  const file = `--${BOUNDARY}\r\nContent-Disposition: form-data; name="0"; filename="image"\r\nContent-Type: application/octet-stream\r\n\r\n`;
  return Buffer.concat([Buffer.from(head + file), bytes, Buffer.from(`\r\n--${BOUNDARY}--\r\n`)]);
}

function imageBodies(dir: string, target: string, transport: string): Array<string | Buffer> {
  return fs
    .readdirSync(dir)
    .filter((f) => /\.(png|jpe?g)$/i.test(f))
    .sort()
    .map((f) => {
      const bytes = fs.readFileSync(path.join(dir, f));
      if (transport === 'upload') return target === 'clipql' ? uploadBody(bytes) : bytes;
      const b64 = bytes.toString('base64');
      return target === 'clipql' ? JSON.stringify({ query: IMAGE_QUERY, variables: { i: [{ base64: b64 }] } }) : JSON.stringify({ image: b64 });
    });
}

async function main(): Promise<void> {
  const a = args();
  const target = a.target ?? 'clipql';
  const kind = a.kind === 'text' ? 'text' : 'image';
  const concurrency = Number(a.concurrency ?? 1);
  let next = Number(a.start ?? 0);
  const transport = kind === 'image' && a.transport !== 'json' ? 'upload' : 'json';
  const images = kind === 'image' ? imageBodies(a.variants, target, transport) : [];
  const captions = notebookCaptions();
  // Interleave the start so that concurrent clients do not all send the same image first.
  const repeatOne = a['repeat-one'] === '1';
  // --distinct N: only N different images or captions (the rest are repeats: cache hits).
  const distinct = Number(a.distinct ?? Infinity);
  const body = (): string | Buffer => {
    const n = repeatOne ? 0 : next++ % distinct;
    if (kind === 'image') return images[(n * 37) % images.length];
    const text = `${captions[n % captions.length]} number ${n}`;
    return target === 'clipql' ? JSON.stringify({ query: TEXT_QUERY, variables: { c: [text] } }) : JSON.stringify({ text });
  };
  let ok = 0;
  let failed = 0;
  let firstError = '';
  const latencies: number[] = [];
  const sentAt = new Map<unknown, number>();
  const opts: autocannon.Options = {
    url: a.url,
    connections: concurrency,
    pipelining: 1,
    timeout: Number(a.timeout ?? 600),
    ...(a.amount ? { amount: Number(a.amount) } : { duration: Number(a.seconds ?? 10) }),
    requests: [
      {
        method: 'POST',
        path: target === 'clipql' ? '/graphql' : kind === 'image' ? '/image' : '/text',
        // The upload's preflight header is what Apollo's CSRF prevention asks of multipart requests.
        headers: transport === 'json' ? { 'content-type': 'application/json' } : target === 'clipql' ? { 'content-type': UPLOAD_TYPE, 'apollo-require-preflight': 'true' } : { 'content-type': 'application/octet-stream' },
        setupRequest: (req: autocannon.Request, ctx: Record<string, unknown>) => {
          sentAt.set(ctx, performance.now());
          return { ...req, body: body() };
        },
        onResponse: (status: number, resBody: string, ctx: Record<string, unknown>) => {
          const t = sentAt.get(ctx);
          if (t !== undefined) latencies.push(performance.now() - t);
          if (status === 200 && !resBody.includes('"errors"')) ok++;
          else {
            failed++;
            firstError ||= `${status} ${resBody.slice(0, 300)}`;
          }
        },
      },
    ],
  };
  const started = performance.now();
  const result = await autocannon(opts);
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((x, y) => x - y);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.max(0, Math.ceil(p * latencies.length) - 1))] ?? NaN;
  const out = {
    kind,
    target,
    transport,
    concurrency,
    ok,
    failed,
    errors: result.errors + result.timeouts,
    firstError,
    seconds,
    itemsPerSecond: ok / seconds,
    p50: q(0.5),
    p99: q(0.99),
    max: latencies[latencies.length - 1] ?? NaN,
    autocannon: { p50: result.latency.p50, p99: result.latency.p99 },
  };
  process.stderr.write(`load ${target} ${kind} (${transport}) c=${concurrency}: ${out.itemsPerSecond.toFixed(2)}/s, p50 ${out.p50.toFixed(0)} ms, p99 ${out.p99.toFixed(0)} ms, ${ok} ok, ${failed} failed ${firstError}\n`);
  answer(out);
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
