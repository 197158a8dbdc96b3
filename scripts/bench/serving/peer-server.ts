/**
 * The peer: Transformers.js (@huggingface/transformers) serving CLIP embeddings the way its users
 * write it: a small node:http server whose handler runs the processor and the model for each
 * request (no batching, no worker thread; Transformers.js's own defaults for threads), from the
 * same bundle folder as clipql, with remote models off.
 *
 *   POST /image {"image": base64}  → {"embedding": [...]}   (L2-normalised, as clipql answers)
 *   POST /image <the image's bytes> (any content-type but JSON) → the same
 *   POST /text  {"text": "..."}    → {"embedding": [...]}
 *   GET  /healthz/live
 *   GET  /loop                     → {"p99": ms}: monitorEventLoopDelay's p99 since the previous call (as clipql's /metrics)
 *
 *   node dist/scripts/bench/serving/peer-server.js --model DIR
 * Prints `listening PORT` on stdout once the models are loaded and checked.
 */
import { defaultBpeVocab } from '../../../src/paths';
import { loadBundle } from '../../../src/bundle/bundle';
import http from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import path from 'node:path';
import { AutoProcessor, AutoTokenizer, CLIPTextModelWithProjection, CLIPVisionModelWithProjection, RawImage, env, type Tensor } from '@huggingface/transformers';
import { ClipTokenizer } from '../../../src/preprocess/text';
import { EVENT_LOOP_RESOLUTION_MS } from '../../../src/server/metrics';
import { args, notebookCaptions } from '../common';

async function main(): Promise<void> {
  const dir = path.resolve(args().model);
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = path.dirname(dir) + path.sep;
  const id = path.basename(dir);
  const opts = { device: 'cpu', dtype: 'fp32' } as const;
  const [processor, tokenizer, vision, text] = await Promise.all([
    AutoProcessor.from_pretrained(id),
    AutoTokenizer.from_pretrained(id),
    CLIPVisionModelWithProjection.from_pretrained(id, opts),
    CLIPTextModelWithProjection.from_pretrained(id, opts),
  ]);

  // Same inputs, same ids: the peer must tokenise as clipql does, or captions/s compare nothing.
  const ours = await ClipTokenizer.fromBundle((await loadBundle(dir, { bpeVocab: defaultBpeVocab(process.env), cacheDir: process.env.CLIP_CACHE_DIR || undefined })).files.tokenizerDir);
  for (const c of notebookCaptions()) {
    const theirs = Array.from((tokenizer(c).input_ids as Tensor).data as BigInt64Array, Number);
    const mine = Array.from(ours.tokenize(c, 77)).filter((x) => x !== 0);
    if (theirs.join(',') !== mine.join(',')) throw new Error(`tokenizer.json disagrees with clipql on ${JSON.stringify(c)}: ${theirs} vs ${mine}`);
  }

  const normalised = (t: Tensor): number[] => {
    const v = Array.from(t.data as Float32Array);
    const n = Math.hypot(...v);
    return v.map((x) => x / n);
  };
  const embedImage = async (bytes: Buffer) => {
    const image = await RawImage.fromBlob(new Blob([new Uint8Array(bytes)]));
    const inputs = await processor(image);
    const { image_embeds } = await vision(inputs);
    return normalised(image_embeds as Tensor);
  };
  const embedText = async (s: string) => {
    const inputs = tokenizer([s], { padding: 'max_length', max_length: 77, truncation: true });
    const { text_embeds } = await text(inputs);
    return normalised(text_embeds as Tensor);
  };

  const delay = monitorEventLoopDelay({ resolution: EVENT_LOOP_RESOLUTION_MS });
  delay.enable();
  const server = http.createServer((req, res) => {
    if (req.url === '/healthz/live') {
      res.end('{"status":"live"}');
      return;
    }
    if (req.url === '/loop') {
      res.end(JSON.stringify({ p99: delay.percentile(99) / 1e6 }));
      delay.reset();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        try {
          const raw = Buffer.concat(chunks);
          const json = String(req.headers['content-type']).startsWith('application/json');
          const body = json ? (JSON.parse(raw.toString('utf8')) as { image?: string; text?: string }) : {};
          const embedding = req.url === '/image' ? await embedImage(json ? Buffer.from(body.image ?? '', 'base64') : raw) : await embedText(body.text ?? '');
          res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify({ embedding }));
        } catch (e) {
          res.statusCode = 500;
          res.end(JSON.stringify({ errors: [{ message: (e as Error).message }] }));
        }
      })();
    });
  });
  server.keepAliveTimeout = 600_000;
  server.listen(0, '127.0.0.1', () => {
    const addr = server.address() as { port: number };
    process.stdout.write(`listening ${addr.port}\n`);
  });
  process.on('SIGTERM', () => process.exit(0));
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
