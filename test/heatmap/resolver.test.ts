/**
 * SimilarityMatrix.heatmap through a real type-graphql schema, without a model: a stub query
 * returns a fixed SimilarityMatrix (images with bytes made by sharp), the field resolver draws it.
 */
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { graphql, type GraphQLSchema } from 'graphql';
import sharp from 'sharp';
import { Arg, Int, Query, Resolver, buildSchema } from 'type-graphql';
import { DEFAULT_LIMITS } from '../../src/input/limits';
import { ErrorMiddleware } from '../../src/schema/errors';
import { HeatmapResolver } from '../../src/schema/resolvers/heatmap.resolver';
import { BackendStatus, Caption, Image, ModelInfo, SimilarityMatrix } from '../../src/schema/types';
import { parseHeatmapSvg } from './svg-parse';

/** When set, the last image's bytes are not an image. */
let brokenImage = false;

async function matrix(rows: number, cols: number, randomWeights: boolean): Promise<SimilarityMatrix> {
  const png = await sharp({ create: { width: 40, height: 30, channels: 3, background: { r: 200, g: 40, b: 40 } } }).png().toBuffer();
  return Object.assign(new SimilarityMatrix(), {
    images: Array.from({ length: cols }, (_, j) => Object.assign(new Image(), { id: `image-${j}`, ref: { bytes: brokenImage && j === cols - 1 ? Buffer.from('not an image') : png } })),
    captions: Array.from({ length: rows }, (_, i) => Object.assign(new Caption(), { id: `caption-${i}`, text: `It is <thing> #${i}` })),
    scores: Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => 0.1 + 0.01 * ((i * 7 + j * 3) % 11))),
    model: Object.assign(new ModelInfo(), { name: 'tiny-clip-336', randomWeights }),
    backend: Object.assign(new BackendStatus(), { name: 'onnx', device: 'cpu' }),
  });
}

@Resolver()
class StubMatrixResolver {
  @Query(() => SimilarityMatrix)
  stubMatrix(@Arg('rows', () => Int) rows: number, @Arg('cols', () => Int) cols: number): Promise<SimilarityMatrix> {
    return matrix(rows, cols, true);
  }
}

let schema: Promise<GraphQLSchema> | undefined;
async function run(query: string) {
  schema ??= buildSchema({ resolvers: [StubMatrixResolver, HeatmapResolver], globalMiddlewares: [ErrorMiddleware], validate: false });
  return graphql({ schema: await schema, source: query, contextValue: { limits: DEFAULT_LIMITS } });
}

function dataUrlBytes(url: string, mime: string): Buffer {
  const prefix = `data:${mime};base64,`;
  assert.ok(url.startsWith(prefix), url.slice(0, 40));
  return Buffer.from(url.slice(prefix.length), 'base64');
}

describe('SimilarityMatrix.heatmap', () => {
  it('returns the SVG figure by default, titled with the model and backend', async () => {
    const r = await run('{ stubMatrix(rows: 3, cols: 2) { heatmap { format mime width height dataUrl } } }');
    assert.equal(r.errors, undefined, JSON.stringify(r.errors));
    const h = (r.data as any).stubMatrix.heatmap;
    assert.equal(h.format, 'SVG');
    assert.equal(h.mime, 'image/svg+xml');
    const svg = dataUrlBytes(h.dataUrl, 'image/svg+xml').toString('utf8');
    const p = parseHeatmapSvg(svg);
    assert.equal(p.cells.length, 6);
    assert.deepEqual([p.width, p.height], [h.width, h.height]);
    assert.match(svg, /Cosine similarity between text and image features — tiny-clip-336 on onnx \(cpu\)/);
    assert.match(svg, /Random weights \(test model\)/);
    assert.deepEqual(p.captions, ['It is <thing> #0', 'It is <thing> #1', 'It is <thing> #2']);
    assert.equal(p.hrefs.length, 2);
    for (const href of p.hrefs) assert.match(href, /^data:image\/jpeg;base64,/);
  });

  it('returns a PNG of the requested width', async () => {
    const r = await run('{ stubMatrix(rows: 2, cols: 2) { heatmap(format: PNG, width: 480) { format mime width height dataUrl } } }');
    assert.equal(r.errors, undefined, JSON.stringify(r.errors));
    const h = (r.data as any).stubMatrix.heatmap;
    assert.deepEqual([h.format, h.mime, h.width], ['PNG', 'image/png', 480]);
    const meta = await sharp(dataUrlBytes(h.dataUrl, 'image/png')).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ['png', 480, h.height]);
  });

  it('draws a placeholder when a thumbnail cannot be made, instead of failing', async () => {
    brokenImage = true;
    try {
      const r = await run('{ stubMatrix(rows: 1, cols: 2) { heatmap { dataUrl } } }');
      assert.equal(r.errors, undefined, JSON.stringify(r.errors));
      const svg = dataUrlBytes((r.data as any).stubMatrix.heatmap.dataUrl, 'image/svg+xml').toString('utf8');
      assert.equal(parseHeatmapSvg(svg).hrefs.length, 1);
      assert.match(svg, /class="thumb-missing" data-col="1"/);
    } finally {
      brokenImage = false;
    }
  });

  it('clamps the width and refuses matrices over 64 × 64 with TOO_MANY_INPUTS', async () => {
    const small = await run('{ stubMatrix(rows: 1, cols: 1) { heatmap(width: 5) { width } } }');
    assert.equal((small.data as any).stubMatrix.heatmap.width, 200);
    const big = await run('{ stubMatrix(rows: 65, cols: 1) { heatmap { width } } }');
    assert.equal(big.errors?.length, 1);
    assert.equal(big.errors![0].extensions.code, 'TOO_MANY_INPUTS');
    assert.match(big.errors![0].message, /at most 64 captions × 64 images, got 65 × 1/);
  });
});
