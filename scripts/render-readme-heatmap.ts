/**
 * Renders the README's figure: the eight images of OpenAI's "Interacting with CLIP" notebook
 * against their descriptions prefixed "It is ", as the walkthrough does, through the project's own
 * pipeline and heatmap renderer, to docs/heatmap.png.
 *
 *   node dist/scripts/render-readme-heatmap.js [--model DIR] [--backend NAME] [--width PX] [--out FILE]
 *
 * Defaults: the model in $CLIP_MODEL or the committed tiny bundle (random weights: the figure then
 * says so), backend onnx, 1200 px, docs/heatmap.png. The images come from ../shared (or
 * $CLIPQL_SHARED), the vocabulary from $CLIP_VOCAB or ../shared (src/paths.ts).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { makeThumbnail, renderHeatmap, renderHeatmapPng } from '../src/heatmap';
import { REPO_ROOT, TINY_MODEL_DIR } from '../src/paths';
import { ClipPipeline } from '../src/pipeline';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string', default: process.env.CLIP_MODEL ?? TINY_MODEL_DIR },
      backend: { type: 'string', default: 'onnx' },
      width: { type: 'string', default: '1200' },
      out: { type: 'string', default: path.join(REPO_ROOT, 'docs', 'heatmap.png') },
    },
  });
  const shared = process.env.CLIPQL_SHARED ?? path.join(REPO_ROOT, '..', 'shared');
  const notebookDir = path.join(shared, 'images', 'notebook');
  const descriptions = JSON.parse(readFileSync(path.join(notebookDir, 'captions.json'), 'utf8')) as Record<string, string>;
  const files = Object.keys(descriptions);
  const images = files.map((f) => readFileSync(path.join(notebookDir, f)));
  const captions = files.map((f) => `It is ${descriptions[f]}`);

  const pipeline = await ClipPipeline.open({ modelDir: path.resolve(values.model), backend: values.backend });
  try {
    const result = await pipeline.similarity(images, captions, values.backend);
    const backend = (await pipeline.embedder(values.backend)).backend.describe();
    const thumbs = await Promise.all(images.map((b) => makeThumbnail(b)));
    const figure = renderHeatmap({
      scores: result.scores,
      captions,
      images: thumbs.map((t, j) => ({ thumbnail: t.data, mime: t.mime, label: path.parse(files[j]).name })),
      title: `Cosine similarity between text and image features — ${pipeline.bundle.name} on ${backend.name} (${backend.device})`,
      subtitle: pipeline.bundle.randomWeights ? 'Random weights (test model): these similarities are meaningless.' : undefined,
      width: Number(values.width),
    });
    const png = await renderHeatmapPng(figure.svg, figure.width);
    mkdirSync(path.dirname(path.resolve(values.out)), { recursive: true });
    writeFileSync(values.out, png);
    process.stdout.write(`wrote ${values.out} (${figure.width} × ${figure.height}, ${png.length} bytes) with ${pipeline.bundle.name} on ${backend.name}\n`);
  } finally {
    await pipeline.close();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
