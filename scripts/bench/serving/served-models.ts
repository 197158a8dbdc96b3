/**
 * Start-up time and memory of each served model (README "Several models"): starts the service
 * in-process on CLIP_MODELS=<argv[2]> (one model after the other, as the server does), prints
 * Query.models' figures and the process's RSS, then answers one 8 × 8 similarity per model and
 * prints the RSS again (the first batches' working memory).
 *
 *   npm run build && node dist/scripts/bench/serving/served-models.js tiny=models/tiny-clip-336,b32=models/bench-vit-b-32
 */
import { parseConfig } from '../../../src/config/config';
import { createLogger } from '../../../src/server/log';
import { startService } from '../../../src/server/service';
import { notebookCaptions, notebookImages, SHARED } from '../common';
import path from 'node:path';

const MIB = 1024 * 1024;

async function main(): Promise<void> {
  const spec = process.argv[2];
  if (!spec) throw new Error('usage: served-models.js name=dir[,name=dir...]');
  const rss0 = process.memoryUsage.rss();
  const { config } = parseConfig({ LOG_LEVEL: 'silent', CLIP_VOCAB: path.join(SHARED, 'clip', 'bpe_simple_vocab_16e6.txt.gz'), CLIP_MODELS: spec });
  const t0 = performance.now();
  const service = await startService({ models: config.CLIP_MODELS!, backend: config.CLIP_BACKEND, port: 0, host: '127.0.0.1', config, log: createLogger('silent') });
  const readyMs = performance.now() - t0;
  const post = async (query: string, variables: Record<string, unknown> = {}) => {
    const res = await fetch(`${service.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) });
    const body = (await res.json()) as { data?: any; errors?: unknown[] };
    if (body.errors) throw new Error(JSON.stringify(body.errors));
    return body.data;
  };
  const { models } = await post('{ models { name bundle embedDim imageSize startupMs memoryBytes fileBytes } }');
  const rssReady = process.memoryUsage.rss();
  const images = notebookImages().map((i) => ({ base64: i.bytes.toString('base64') }));
  const captions = notebookCaptions().map((c) => `It is ${c}`);
  for (const m of models) await post('query($i: [ImageInput!]!, $c: [String!]!, $m: String) { similarity(images: $i, captions: $c, model: $m) { scores } }', { i: images, c: captions, m: m.name });
  const rssAfter = process.memoryUsage.rss();
  const rows = models.map((m: any) => ({ model: m.name, bundle: m.bundle, D: m.embedDim, S: m.imageSize, startupMs: Math.round(m.startupMs), rssMiB: +(m.memoryBytes / MIB).toFixed(1), filesMiB: +(m.fileBytes / MIB).toFixed(1) }));
  console.table(rows);
  console.log(JSON.stringify({ readyMs: Math.round(readyMs), rssBeforeMiB: +(rss0 / MIB).toFixed(1), rssReadyMiB: +(rssReady / MIB).toFixed(1), rssAfterOneQueryEachMiB: +(rssAfter / MIB).toFixed(1), rows }));
  await service.stop();
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
