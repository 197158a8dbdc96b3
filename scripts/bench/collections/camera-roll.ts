/**
 * Benchmark of issue 35 (not a test): a phone's camera roll indexed by `clipql index` beside the
 * bare vision tower, in the same run, on a full-size ViT-B/32 with random weights
 * (`npm run bench:models`).
 *
 *   node dist/scripts/bench/collections/camera-roll.js [--model models/bench-vit-b-32] [--dir /tmp/clipql-camera-roll]
 *        [--rounds 2] [--seconds 15] [--modes shrink,exact] [--nice 10] [--copies 5] [--instances 1,2]
 *
 * 1. The folder (test/reference/camera_roll.py --bench, made once, not timed): 24 JPEGs of
 *    4032 × 3024, every third stored sideways (EXIF orientation 6); four HEIC of 4032 × 3024
 *    made by heif-enc; an RGBA screenshot PNG; a small re-encoded copy.
 * 2. Rounds, interleaved so that drift on this shared machine hits each alike: the raw
 *    onnxruntime vision tower (raw.ts, batch 16: the batch the indexer fills); `clipql index` of
 *    the JPEG and PNG files (a fresh store each time) with CLIP_COLLECTION_PREPROCESS=shrink (the
 *    default) and =exact. Each index rate is stored files over the command's own seconds (from
 *    listing the folder to the last transaction: model loading excluded), and its ratio is to
 *    the raw rate of the same round.
 *    With --copies N (default 5) each round also indexes a run N times as long, the steady state
 *    of a real camera roll of thousands: N copies of each JPEG and PNG, each copy's bytes made
 *    distinct by a trailing comment after the image's end (the same pixels, decoded and encoded
 *    again: no cache answers for a copy); `--copies 0` leaves it out.
 *    With --instances 1,2 the long run is made once per CLIP_ONNX_INSTANCES value, in turn within
 *    each round (the service's default is 2 on this machine).
 * 3. HEIC: `clipql index` of the four HEIC files (its rate), and one 12 MP HEIC decoded by
 *    heic-decode (libheif 1.23 in WebAssembly, in this process, first time and warm) beside
 *    Debian's native heif-convert (libheif 1.15) writing Y4M, in turn (heic-decode.ts).
 * Embedding cosines of 'shrink' to 'exact' are scripts/bench/preprocess/shrink-cosine.ts. Prints RESULT {json}.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { answer, args, DIST, log, REPO, runNode } from '../common';
import { cameraRoll } from './camera-roll-folder';
import { heicTimes } from '../preprocess/heic-decode';

interface IndexSummary {
  stored: number;
  bad: number;
  seconds: number;
  stages: { read: number; decode?: number; encode?: number; store: number };
}

/** `copies` copies of each file of `list` in DIR/copies, byte-distinct (the file comment); made once. */
function copiesOf(dir: string, roll: string, list: { file: string }, copies: number): { file: string; n: number } {
  const out = path.join(dir, `copies-${copies}`);
  if (!fs.existsSync(path.join(out, '.complete'))) {
    fs.rmSync(out, { recursive: true, force: true });
    fs.mkdirSync(out, { recursive: true });
    for (const src of fs.readFileSync(list.file, 'utf8').trim().split('\n')) {
      for (let k = 1; k <= copies; k++) {
        // after JPEG's EOI or PNG's IEND, ignored by decoders
        fs.writeFileSync(path.join(out, `${k}-${path.basename(src)}`), Buffer.concat([fs.readFileSync(src), Buffer.from(`copy ${k}`)]));
      }
    }
    fs.writeFileSync(path.join(out, '.complete'), '');
  }
  return listFile(dir, out, `copies-${copies}`, (f) => /\.(jpe?g|png)$/i.test(f));
}

function listFile(dir: string, roll: string, name: string, keep: (f: string) => boolean): { file: string; n: number } {
  const files = fs.readdirSync(roll).filter(keep).sort();
  const file = path.join(dir, `${name}.txt`);
  fs.writeFileSync(file, files.map((f) => path.join(roll, f)).join('\n') + '\n');
  return { file, n: files.length };
}

/** `clipql index @LIST` into a fresh embedded store, as a child process; its summary. */
function index(list: string, model: string, mode: 'shrink' | 'exact', nice: string, extra: Record<string, string> = {}): Promise<IndexSummary> {
  const store = fs.mkdtempSync(path.join(os.tmpdir(), 'clipql-roll-bench-'));
  const env = { ...process.env, ...extra, CLIP_ONNX_NICE: nice, CLIP_MODEL: model, CLIP_COLLECTION_PREPROCESS: mode, CLIP_VOCAB: process.env.CLIP_VOCAB ?? path.join(REPO, '..', 'shared', 'clip', 'bpe_simple_vocab_16e6.txt.gz') };
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [path.join(DIST, 'src', 'cli', 'main.js'), 'index', `@${list}`, '--collection', 'roll', '--store', store], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    p.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    p.on('close', (code) => {
      fs.rmSync(store, { recursive: true, force: true });
      if (code !== 0) return reject(new Error(`clipql index failed (${code}): ${err.slice(-1500)}`));
      const s = JSON.parse(out.trim().split('\n').pop()!) as IndexSummary;
      log(`index ${mode}: ${s.stored} stored, ${s.bad} bad, ${(s.stored / s.seconds).toFixed(2)}/s; ${err.trim().split('\n').pop()}`);
      resolve(s);
    });
  });
}

async function rawRate(model: string, seconds: number, nice: string): Promise<number> {
  const r = await runNode<{ results: Array<{ itemsPerSecond: number; config: string }> }>('serving/raw', ['--model', model, '--tower', 'image', '--batches', '16', '--instances', '1,2', '--seconds', String(seconds), '--nice', nice]);
  log(`raw vision tower: ${r.results[0].itemsPerSecond.toFixed(2)}/s (${r.results[0].config}, the best raw configuration)`);
  return r.results[0].itemsPerSecond;
}

async function main(): Promise<void> {
  const a = args();
  const model = path.resolve(a.model ?? path.join(REPO, 'models', 'bench-vit-b-32'));
  const dir = a.dir ?? path.join(os.tmpdir(), 'clipql-camera-roll');
  const rounds = Number(a.rounds ?? 2);
  const seconds = Number(a.seconds ?? 15);
  const roll = cameraRoll(dir);
  const photos = listFile(dir, roll, 'jpeg-png', (f) => /\.(jpe?g|png)$/i.test(f));
  const heics = listFile(dir, roll, 'heic', (f) => /\.heic$/i.test(f));
  // inference niceness of both sides (the service's default, CLIP_ONNX_NICE, is 10)
  const nice = a.nice ?? '10';
  const modes = (a.modes ?? 'shrink,exact').split(',') as Array<'shrink' | 'exact'>;
  const copies = Number(a.copies ?? 5);
  const long = copies > 0 ? copiesOf(dir, roll, photos, copies) : undefined;
  const instances = a.instances ? a.instances.split(',') : [];
  const perRound: Array<{ raw: number; shrink?: IndexSummary; exact?: IndexSummary; long?: IndexSummary; byInstances?: Record<string, IndexSummary> }> = [];
  for (let r = 0; r < rounds; r++) {
    log(`round ${r + 1} of ${rounds}`);
    const raw = await rawRate(model, seconds, nice);
    const round: (typeof perRound)[number] = { raw };
    for (const m of modes) round[m] = await index(photos.file, model, m, nice);
    if (long) round.long = await index(long.file, model, 'shrink', nice);
    if (long && instances.length) {
      round.byInstances = {};
      for (const k of instances) round.byInstances[k] = await index(long.file, model, 'shrink', nice, { CLIP_ONNX_INSTANCES: k });
    }
    perRound.push(round);
  }
  const heicIndex = await index(heics.file, model, 'shrink', nice);
  const heic = await heicTimes(path.join(roll, fs.readdirSync(roll).find((f) => f.endsWith('.heic'))!), 3);
  const rate = (s: IndexSummary) => s.stored / s.seconds;
  const result = {
    model: path.relative(REPO, model),
    files: { jpegPng: photos.n, heic: heics.n },
    nice,
    rounds: perRound.map((p) => ({
      rawPerSecond: p.raw,
      ...Object.fromEntries(modes.map((m) => [m, { perSecond: rate(p[m]!), ratio: rate(p[m]!) / p.raw, stored: p[m]!.stored, bad: p[m]!.bad, stages: p[m]!.stages }])),
      ...(p.long && { [`shrink x${copies}`]: { perSecond: rate(p.long), ratio: rate(p.long) / p.raw, stored: p.long.stored, bad: p.long.bad, stages: p.long.stages } }),
      ...(p.byInstances && { byInstances: Object.fromEntries(Object.entries(p.byInstances).map(([k, v]) => [k, { perSecond: rate(v), ratio: rate(v) / p.raw }])) }),
    })),
    heic: { index: { perSecond: rate(heicIndex), stored: heicIndex.stored, bad: heicIndex.bad, stages: heicIndex.stages }, decode: heic },
  };
  for (const m of modes) log(`${m} ratios ${perRound.map((p) => (rate(p[m]!) / p.raw).toFixed(2)).join(', ')}`);
  if (long) log(`shrink x${copies} (${long.n} files) ratios ${perRound.map((p) => (rate(p.long!) / p.raw).toFixed(2)).join(', ')}`);
  for (const k of instances) log(`shrink x${copies}, CLIP_ONNX_INSTANCES=${k}: ratios ${perRound.map((p) => (rate(p.byInstances![k]) / p.raw).toFixed(2)).join(', ')}`);
  answer(result);
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
