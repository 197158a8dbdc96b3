/**
 * The Node half of the GPU benchmark's end-to-end part (scripts/gpu-bench/server.py starts the
 * server and runs this). Two modes, each answering one `RESULT {json}` line:
 *
 *   node dist/scripts/gpu-bench/e2e.js load --url URL --images DIR --concurrency N --seconds S
 *        [--warmup S | --warmup-amount N] [--amount N] [--per-request K]
 *     autocannon against clipql's /graphql: GraphQL multipart uploads (as scripts/bench/serving/load.ts
 *     sends them) of K JPEGs from DIR per request. Every image sent is distinct: a JPEG comment
 *     segment (COM, FF FE) carrying a per-run nonce and a running number goes in right after SOI,
 *     so the bytes (the cache's sha256 key, pipeline.ts) differ while the pixels stay the same
 *     and the server still decodes every image in full. The warm-up run is not counted.
 *     -> {ok, failed, images, seconds, imagesPerSecond, p50, p99, firstError}
 *
 *   node dist/scripts/gpu-bench/e2e.js preprocess --model BUNDLE --images DIR --seconds S
 *     the server's own preprocessing (preprocessImage, exact mode, the bundle's config) on one
 *     thread, one image at a time, on the same JPEGs: the per-thread rate whose multiple by
 *     CLIP_PREPROCESS_THREADS is the preprocessing ceiling. -> {imagesPerSecond, msPerImage}
 */
import fs from 'node:fs';
import path from 'node:path';
import autocannon from 'autocannon';
import { configureSharp, DEFAULT_SHARP_SETTINGS, parsePreprocessorConfig, preprocessImage } from '../../src/preprocess/image';
import { answer, args, median } from '../bench/common';

const BOUNDARY = 'clipql-gpu-bench-7d21';

function jpegs(dir: string): Buffer[] {
  const files = fs.readdirSync(dir).filter((f) => /\.jpe?g$/i.test(f)).sort();
  if (files.length === 0) throw new Error(`${dir}: no JPEG files`);
  return files.map((f) => fs.readFileSync(path.join(dir, f)));
}

/** The JPEG with a COM segment after its SOI marker: same pixels, different bytes. */
function distinct(jpeg: Buffer, tag: string): Buffer {
  const text = Buffer.from(tag, 'latin1');
  const seg = Buffer.alloc(4);
  seg.writeUInt16BE(0xfffe, 0);
  seg.writeUInt16BE(text.length + 2, 2); // the length counts its own two bytes
  return Buffer.concat([jpeg.subarray(0, 2), seg, text, jpeg.subarray(2)]);
}

function uploadBody(images: Buffer[]): Buffer {
  const k = images.length;
  const field = (name: string, value: string) => `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
  const query = 'query($i:[ImageInput!]!){embedImages(images:$i){embedding}}';
  const ops = JSON.stringify({ query, variables: { i: images.map(() => ({ file: null })) } });
  const map = JSON.stringify(Object.fromEntries(images.map((_, j) => [String(j), [`variables.i.${j}.file`]])));
  const parts: Buffer[] = [Buffer.from(field('operations', ops) + field('map', map))];
  for (let j = 0; j < k; j++) {
    parts.push(Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="${j}"; filename="image${j}.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`), images[j], Buffer.from('\r\n'));
  }
  parts.push(Buffer.from(`--${BOUNDARY}--\r\n`));
  return Buffer.concat(parts);
}

async function load(a: Record<string, string>): Promise<void> {
  const images = jpegs(a.images);
  const perRequest = Number(a['per-request'] ?? 1);
  const nonce = `${process.pid}-${Date.now()}`;
  let next = 0;
  // By --amount (exactly N requests, all answered: no request is left running into the next
  // measurement, which matters when one request takes seconds) or by --seconds.
  const run = async (seconds: number, amount: number) => {
    let ok = 0;
    let failed = 0;
    let firstError = '';
    const latencies: number[] = [];
    const sentAt = new Map<unknown, number>();
    const started = performance.now();
    const result = await autocannon({
      url: a.url,
      connections: Number(a.concurrency ?? 64),
      pipelining: 1,
      timeout: 120,
      ...(amount > 0 ? { amount } : { duration: seconds }),
      requests: [
        {
          method: 'POST',
          path: '/graphql',
          headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}`, 'apollo-require-preflight': 'true' },
          setupRequest: (req, ctx) => {
            sentAt.set(ctx, performance.now());
            const batch: Buffer[] = [];
            for (let j = 0; j < perRequest; j++, next++) batch.push(distinct(images[next % images.length], `clipql-gpu-bench ${nonce} ${next}`));
            return { ...req, body: uploadBody(batch) };
          },
          onResponse: (status, body, ctx) => {
            const t = sentAt.get(ctx);
            if (t !== undefined) latencies.push(performance.now() - t);
            if (status === 200 && !body.includes('"errors"')) ok++;
            else {
              failed++;
              firstError ||= `${status} ${body.slice(0, 300)}`;
            }
          },
        },
      ],
    });
    const elapsed = (performance.now() - started) / 1000;
    latencies.sort((x, y) => x - y);
    const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.max(0, Math.ceil(p * latencies.length) - 1))] ?? NaN;
    return { ok, failed, errors: result.errors + result.timeouts, images: ok * perRequest, seconds: elapsed, imagesPerSecond: (ok * perRequest) / elapsed, p50: q(0.5), p99: q(0.99), firstError };
  };
  const warmup = Number(a.warmup ?? 0);
  const warmupAmount = Number(a['warmup-amount'] ?? 0);
  if (warmup > 0 || warmupAmount > 0) await run(warmup, warmupAmount);
  const out = await run(Number(a.seconds ?? 10), Number(a.amount ?? 0));
  process.stderr.write(`e2e load c=${a.concurrency} x${perRequest}: ${out.imagesPerSecond.toFixed(1)} images/s, p50 ${out.p50.toFixed(0)} ms, p99 ${out.p99.toFixed(0)} ms, ${out.ok} ok, ${out.failed} failed ${out.firstError}\n`);
  answer({ ...out, concurrency: Number(a.concurrency ?? 64), perRequest });
}

async function preprocess(a: Record<string, string>): Promise<void> {
  configureSharp(DEFAULT_SHARP_SETTINGS); // one libvips thread per image, as the server's threads run it
  const file = path.join(a.model, 'preprocessor_config.json');
  const cfg = parsePreprocessorConfig(JSON.parse(fs.readFileSync(file, 'utf8')), file);
  const images = jpegs(a.images).slice(0, 16);
  for (const im of images) await preprocessImage(im, cfg, { mode: 'exact' }); // warm-up
  const rounds: number[] = [];
  const start = performance.now();
  while (rounds.length < 3 || performance.now() - start < Number(a.seconds ?? 4) * 1000) {
    const t = performance.now();
    for (const im of images) await preprocessImage(im, cfg, { mode: 'exact' });
    rounds.push((performance.now() - t) / images.length);
  }
  const ms = median(rounds);
  process.stderr.write(`e2e preprocess: ${(1000 / ms).toFixed(1)} images/s on one thread (${ms.toFixed(2)} ms an image)\n`);
  answer({ imagesPerSecond: 1000 / ms, msPerImage: ms, rounds: rounds.length });
}

const a = args(process.argv.slice(3));
(process.argv[2] === 'preprocess' ? preprocess(a) : process.argv[2] === 'load' ? load(a) : Promise.reject(new Error('usage: e2e.js load|preprocess --key value ...'))).catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
