/**
 * int8 against fp32 on one bundle (onnx/*_int8.onnx from quantize.py): accuracy on the notebook
 * set (cosine of each image and caption embedding to fp32; whether every image's best caption and
 * every caption's best image are the same) and the image tower's speed, fp32 and int8 in
 * interleaved runs with the service's session options.
 *
 *   node dist/scripts/bench/backends/int8.js --model DIR [--batch 8] [--rounds 2] [--seconds 4]
 * Answers RESULT Int8Report (report.ts).
 */
import { defaultBpeVocab } from '../../../src/paths';
import { loadBundle } from '../../../src/bundle/bundle';
import fs from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { lowerThreadPriority, sessionOptions } from '../../../src/backends/onnx/session-options';
import { parsePreprocessorConfig, preprocessImage } from '../../../src/preprocess/image';
import { ClipTokenizer } from '../../../src/preprocess/text';
import { answer, args, median, notebookCaptions, notebookImages } from '../common';

const cosine = (a: Float32Array, b: Float32Array) => {
  let d = 0;
  let x = 0;
  let y = 0;
  for (let i = 0; i < a.length; i++) {
    d += a[i] * b[i];
    x += a[i] * a[i];
    y += b[i] * b[i];
  }
  return d / Math.sqrt(x * y);
};

async function main(): Promise<void> {
  const a = args();
  const dir = a.model;
  const batch = Number(a.batch ?? 8);
  const rounds = Number(a.rounds ?? 2);
  const seconds = Number(a.seconds ?? 4);
  lowerThreadPriority(Number(process.env.CLIP_ONNX_NICE ?? 10));
  const open = (f: string) => ort.InferenceSession.create(path.join(dir, 'onnx', f), sessionOptions({ executionProvider: 'cpu', intraOpThreads: Number(process.env.CLIP_ONNX_THREADS ?? 2), spin: false }));
  const cfgFile = path.join(dir, 'preprocessor_config.json');
  const cfg = parsePreprocessorConfig(JSON.parse(fs.readFileSync(cfgFile, 'utf8')), cfgFile);
  const s = cfg.cropHeight;
  const images = notebookImages();
  const pixels = new Float32Array(images.length * 3 * s * s);
  for (let i = 0; i < images.length; i++) pixels.set((await preprocessImage(images[i].bytes, cfg, { mode: 'exact' })).tensor, i * 3 * s * s);
  const tokenizer = await ClipTokenizer.fromBundle((await loadBundle(dir, { bpeVocab: defaultBpeVocab(process.env), cacheDir: process.env.CLIP_CACHE_DIR || undefined })).files.tokenizerDir);
  const captions = notebookCaptions();
  const ids = new BigInt64Array(captions.length * 77);
  captions.forEach((c, i) => tokenizer.tokenize(c, 77).forEach((v, k) => (ids[i * 77 + k] = BigInt(v))));

  const embed = async (variant: '' | '_int8') => {
    const vision = await open(`vision_model${variant}.onnx`);
    const text = await open(`text_model${variant}.onnx`);
    const img = (await vision.run({ pixel_values: new ort.Tensor('float32', pixels, [images.length, 3, s, s]) })).image_embeds.data as Float32Array;
    const txt = (await text.run({ input_ids: new ort.Tensor('int64', ids, [captions.length, 77]) })).text_embeds.data as Float32Array;
    await text.release();
    return { vision, img, txt };
  };
  const fp = await embed('');
  const q = await embed('_int8');
  const D = fp.img.length / images.length;
  const rows = (e: Float32Array, n: number) => Array.from({ length: n }, (_, i) => e.subarray(i * D, (i + 1) * D));
  const cos = [...rows(fp.img, images.length).map((r, i) => cosine(r, rows(q.img, images.length)[i])), ...rows(fp.txt, captions.length).map((r, i) => cosine(r, rows(q.txt, captions.length)[i]))];
  const best = (img: Float32Array, txt: Float32Array) => {
    const I = rows(img, images.length);
    const T = rows(txt, captions.length);
    const perImage = I.map((x) => T.map((t) => cosine(x, t)).reduce((b, v, j, arr) => (v > arr[b] ? j : b), 0));
    const perCaption = T.map((t) => I.map((x) => cosine(x, t)).reduce((b, v, j, arr) => (v > arr[b] ? j : b), 0));
    return [...perImage, ...perCaption];
  };
  const bf = best(fp.img, fp.txt);
  const bq = best(q.img, q.txt);
  const agree = bf.filter((v, i) => v === bq[i]).length;

  // Speed: the image tower, fp32 and int8 alternately.
  const input = new ort.Tensor('float32', new Float32Array(batch * 3 * s * s).map(() => Math.random() * 4 - 2), [batch, 3, s, s]);
  const rate = async (session: ort.InferenceSession) => {
    await session.run({ pixel_values: input });
    const times: number[] = [];
    const start = performance.now();
    while (times.length < 2 || performance.now() - start < seconds * 1000) {
      const t = performance.now();
      await session.run({ pixel_values: input });
      times.push(performance.now() - t);
    }
    return (batch * 1000) / median(times);
  };
  const fpRates: number[] = [];
  const qRates: number[] = [];
  for (let r = 0; r < rounds; r++) {
    fpRates.push(await rate(fp.vision));
    qRates.push(await rate(q.vision));
    process.stderr.write(`int8 round ${r + 1}: fp32 ${fpRates[r].toFixed(2)}/s, int8 ${qRates[r].toFixed(2)}/s\n`);
  }
  const raw = (xs: number[]) => ({ tower: 'image', threads: 2, spin: false, results: [{ batch, runs: xs.length, msPerRun: (batch * 1000) / median(xs), itemsPerSecond: median(xs) }] });
  const minCosine = Math.min(...cos);
  answer({
    rawImage: raw(qRates),
    fp32Image: raw(fpRates),
    speedups: qRates.map((x, i) => x / fpRates[i]),
    minCosine,
    meanCosine: cos.reduce((x, y) => x + y, 0) / cos.length,
    bestMatchAgreement: `${agree} of ${bf.length} (8 images' best captions, 8 captions' best images)`,
    kept: minCosine >= 0.99,
  });
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
