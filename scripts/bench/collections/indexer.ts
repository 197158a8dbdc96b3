/**
 * Benchmark of `clipql index` (not a test): issue 22's target, "a folder of 2,000 generated
 * 640×480 JPEGs with the tiny model: rate within 0.8 × of addImages called directly with the same
 * images, and a second run over the same folder skips all 2,000 in under 10 % of the first run's
 * time".
 *
 *   node dist/scripts/bench/collections/indexer.js [--n 2000] [--concurrency 2] [--rounds 2]
 *
 * 1. `n` JPEGs (640×480, quality 85, seeded: a smooth colour field with noise, so that no two are
 *    alike and each compresses like a photo) in 20 nested folders; written once, not timed.
 * 2. addImages: a server as a child process (`node dist/src/server/main.js`, the tiny model, the
 *    embedded store in a fresh folder) and a client sending the images as GraphQL multipart
 *    requests of CLIP_MAX_IMAGES (64) files each, `concurrency` requests in flight, into a new
 *    collection: images over the time from the first request to the last answer.
 * 3. `clipql index` as a child process (`node dist/src/cli/main.js index`, the same model, a fresh
 *    embedded store): its own figure (seconds in its summary: from listing the folder to the
 *    last transaction, model loading excluded as the server's start is) and its wall time; then
 *    the same command again over the same folder (everything unchanged: skipped).
 * 4. `clipql index --server URL` into a server like 2's (a fresh one): the same folder sent
 *    through GraphQL by the command (its defaults: 32 images a request, 2 in flight), and again.
 * Rounds run 2, 3 and 4 in turn (`rounds` times) so that drift hits each. Prints one JSON line.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { REPO_ROOT, TINY_MODEL_DIR } from '../../../src/paths';
import { startChildServer } from '../../../test/helpers/server';
import { BPE_VOCAB } from '../../../test/helpers/shared';
import { rng } from '../../hostile/bytes';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

const log = (m: string) => process.stderr.write(`${m}\n`);

async function writeImages(dir: string, n: number): Promise<string[]> {
  const files: string[] = [];
  const W = 640, H = 480;
  for (let i = 0; i < n; i++) {
    const r = rng(1000 + i);
    const [a, b, c] = [r() * 255, r() * 255, r() * 255];
    const raw = Buffer.alloc(W * H * 3);
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        const o = (y * W + x) * 3;
        const noise = (r() - 0.5) * 40;
        raw[o] = Math.max(0, Math.min(255, a + (x / W) * 120 - 60 + noise));
        raw[o + 1] = Math.max(0, Math.min(255, b + (y / H) * 120 - 60 + noise));
        raw[o + 2] = Math.max(0, Math.min(255, c + Math.sin((x + y) / 40) * 50 + noise));
      }
    const sub = path.join(dir, `album-${String(i % 20).padStart(2, '0')}`, i % 3 === 0 ? 'raw' : '');
    fs.mkdirSync(sub, { recursive: true });
    const f = path.join(sub, `img-${String(i).padStart(5, '0')}.jpg`);
    fs.writeFileSync(f, await sharp(raw, { raw: { width: W, height: H, channels: 3 } }).jpeg({ quality: 85 }).toBuffer());
    files.push(f);
  }
  return files;
}

const ADD = 'mutation($c:String!,$i:[ImageInput!]!,$ids:[ID!]!){addImages(collection:$c,images:$i,ids:$ids){ids}}';

/** One GraphQL multipart request (the spec's operations, map and one part per file). */
function multipart(files: string[], root: string, boundary: string): Buffer {
  const field = (name: string, value: string) => `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
  const ids = files.map((f) => path.relative(root, f).split(path.sep).join('/'));
  const ops = { query: ADD, variables: { c: 'photos', i: files.map(() => ({ file: null })), ids } };
  const map = Object.fromEntries(files.map((_, k) => [String(k), [`variables.i.${k}.file`]]));
  const parts: Buffer[] = [Buffer.from(field('operations', JSON.stringify(ops)) + field('map', JSON.stringify(map)))];
  files.forEach((f, k) => {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${k}"; filename="${path.basename(f)}"\r\nContent-Type: image/jpeg\r\n\r\n`), fs.readFileSync(f), Buffer.from('\r\n'));
  });
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(parts);
}

async function viaAddImages(root: string, files: string[], concurrency: number, env: Record<string, string>): Promise<{ seconds: number; images: number }> {
  const store = fs.mkdtempSync(path.join(os.tmpdir(), 'clipql-bench-add-'));
  const server = await startChildServer({ ...env, CLIP_STORE: store }, 120_000);
  try {
    const post = async (body: string | Buffer, type: string) => {
      const res = await fetch(`${server.url}/graphql`, { method: 'POST', headers: { 'content-type': type, 'apollo-require-preflight': 'true' }, body: typeof body === 'string' ? body : new Uint8Array(body) });
      const j = (await res.json()) as { data?: unknown; errors?: unknown[] };
      if (j.errors) throw new Error(JSON.stringify(j.errors).slice(0, 500));
      return j.data as Record<string, { ids: string[] }>;
    };
    await post(JSON.stringify({ query: 'mutation { createCollection(name: "photos") { name } }' }), 'application/json');
    const boundary = 'clipql-bench-index-7d1e';
    const chunks: string[][] = [];
    for (let i = 0; i < files.length; i += 64) chunks.push(files.slice(i, i + 64));
    let next = 0, stored = 0;
    const t = performance.now();
    // The bodies are built (files read) inside the timed loop: the indexer reads its files too.
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (next < chunks.length) {
        const c = chunks[next++];
        const answer = await post(multipart(c, root, boundary), `multipart/form-data; boundary=${boundary}`);
        stored += answer.addImages.ids.length; // after the await: `stored +=` would read it before
      }
    }));
    const seconds = (performance.now() - t) / 1000;
    if (stored !== files.length) throw new Error(`addImages stored ${stored} of ${files.length}`);
    return { seconds, images: stored };
  } finally {
    await server.stop();
    fs.rmSync(store, { recursive: true, force: true });
  }
}

interface IndexRun { seconds: number; wall: number; stored: number; skipped: number; bad: number }

/** The command as a child process (spawned, not spawnSync: a child server's pipes keep draining meanwhile). */
async function viaIndex(root: string, where: string[], env: Record<string, string>): Promise<IndexRun> {
  const t = performance.now();
  const p = spawn(process.execPath, [path.join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js'), 'index', root, '--collection', 'photos', ...where], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  p.stdout.on('data', (d: Buffer) => (stdout += d));
  p.stderr.on('data', (d: Buffer) => (stderr += d));
  const status = await new Promise<number | null>((r) => p.on('exit', r));
  const wall = (performance.now() - t) / 1000;
  if (status !== 0) throw new Error(`clipql index exited ${status}: ${stderr.slice(-2000)}`);
  const r = JSON.parse(stdout.trim().split('\n').pop()!) as { seconds: number; stored: number; skipped: number; bad: number };
  return { seconds: r.seconds, wall, stored: r.stored, skipped: r.skipped, bad: r.bad };
}

async function viaServerIndex(root: string, env: Record<string, string>): Promise<{ first: IndexRun; second: IndexRun }> {
  const store = fs.mkdtempSync(path.join(os.tmpdir(), 'clipql-bench-remote-'));
  const server = await startChildServer({ ...env, CLIP_STORE: store }, 120_000);
  try {
    const first = await viaIndex(root, ['--server', server.url], env);
    return { first, second: await viaIndex(root, ['--server', server.url], env) };
  } finally {
    await server.stop();
    fs.rmSync(store, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const n = Number(arg('n', '2000'));
  const concurrency = Number(arg('concurrency', '2'));
  const rounds = Number(arg('rounds', '2'));
  const env = { CLIP_MODEL: TINY_MODEL_DIR, CLIP_VOCAB: BPE_VOCAB() };
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'clipql-bench-photos-'));
  const out: Record<string, unknown> = { n, concurrency, date: new Date().toISOString(), cores: os.cpus().length, rounds: [] as unknown[] };
  try {
    const t = performance.now();
    const files = await writeImages(root, n);
    const bytes = files.reduce((s, f) => s + fs.statSync(f).size, 0);
    log(`${n} JPEGs 640×480 written in ${((performance.now() - t) / 1000).toFixed(1)} s (${(bytes / n / 1024).toFixed(0)} KiB each)`);
    out.bytesPerImage = Math.round(bytes / n);
    for (let k = 0; k < rounds; k++) {
      const add = await viaAddImages(root, files, concurrency, env);
      const addRate = add.images / add.seconds;
      log(`round ${k + 1}: addImages ${addRate.toFixed(1)} images/s (${add.seconds.toFixed(1)} s)`);
      const store = fs.mkdtempSync(path.join(os.tmpdir(), 'clipql-bench-index-'));
      try {
        const first = await viaIndex(root, ['--store', store], env);
        const second = await viaIndex(root, ['--store', store], env);
        const indexRate = first.stored / first.seconds;
        log(`round ${k + 1}: clipql index ${indexRate.toFixed(1)} images/s (${first.seconds.toFixed(1)} s; wall ${first.wall.toFixed(1)} s), ${first.stored} stored, ${first.bad} bad; second run ${second.seconds.toFixed(2)} s (wall ${second.wall.toFixed(1)} s), ${second.skipped} skipped`);
        const remote = await viaServerIndex(root, env);
        const remoteRate = remote.first.stored / remote.first.seconds;
        log(`round ${k + 1}: clipql index --server ${remoteRate.toFixed(1)} images/s (${remote.first.seconds.toFixed(1)} s), ${remote.first.stored} stored; second run ${remote.second.seconds.toFixed(2)} s, ${remote.second.skipped} skipped`);
        (out.rounds as unknown[]).push({
          addImages: { imagesPerSecond: addRate, seconds: add.seconds },
          index: { imagesPerSecond: indexRate, ...first },
          second,
          ratio: indexRate / addRate,
          secondFraction: second.seconds / first.seconds,
          server: { imagesPerSecond: remoteRate, first: remote.first, second: remote.second, ratio: remoteRate / addRate, secondFraction: remote.second.seconds / remote.first.seconds },
        });
      } finally {
        fs.rmSync(store, { recursive: true, force: true });
      }
    }
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
  process.stdout.write(`RESULT ${JSON.stringify(out)}\n`);
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
