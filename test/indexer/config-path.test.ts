/**
 * One configuration path: `clipql index` builds its pipeline from the same Config as the server,
 * so an image-size limit set in the environment holds the same in both (src/pipeline.ts takes
 * the decoding limits from the Config; the settings table holds the one copy of each default).
 *   - CLIP_MAX_IMAGE_BYTES lowered: the CLI refuses the larger file with IMAGE_TOO_LARGE, the code
 *     the server gives the same bytes under the same setting.
 *   - raised above the default (20 MiB): a 21 MB file is indexed, where the CLI's probe once
 *     applied the default and refused it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, it } from 'node:test';
import sharp from 'sharp';
import { SETTINGS } from '../../src/config/settings';
import { patternImage } from '../helpers/images';
import { runIndex } from '../helpers/index-run';
import { freshPgliteDir } from '../helpers/pglite';
import { gql, startTestService } from '../helpers/server';
import { BPE_VOCAB } from '../helpers/shared';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'clipql-config-path-'));
let store: string;
before(async () => {
  process.env.CLIP_VOCAB = BPE_VOCAB();
  store = await freshPgliteDir('clipql-config-path-store-');
});
after(() => {
  delete process.env.CLIP_MAX_IMAGE_BYTES;
  rmSync(tmp, { recursive: true, force: true });
  rmSync(store, { recursive: true, force: true });
});

/** A PNG of random pixels, stored uncompressed: about 3 w h bytes. */
const noisePng = (w: number, h: number) => sharp(randomBytes(w * h * 3), { raw: { width: w, height: h, channels: 3 } }).png({ compressionLevel: 0 }).toBuffer();

it('CLIP_MAX_IMAGE_BYTES lowered: the CLI refuses the file over it with the code the server gives', async () => {
  const folder = path.join(tmp, 'lowered');
  mkdirSync(folder);
  const small = await patternImage(21);
  const big = await noisePng(120, 120);
  const limit = 20_000;
  assert.ok(small.length < limit && big.length > limit, `${small.length} < ${limit} < ${big.length}`);
  writeFileSync(path.join(folder, 'small.png'), small);
  writeFileSync(path.join(folder, 'big.png'), big);
  process.env.CLIP_MAX_IMAGE_BYTES = String(limit);
  const r = await runIndex([folder, '--collection', 'lowered'], ['--store', store]);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual([r.result.stored, r.result.bad], [1, 1], r.err);
  assert.match(r.err, /bad file .*big\.png: \[IMAGE_TOO_LARGE\]/);
  const service = await startTestService({ CLIP_MAX_IMAGE_BYTES: String(limit) });
  try {
    const { body } = await gql(service.url, 'query($i: [ImageInput!]!) { embedImages(images: $i) { embedding } }', { i: [{ base64: readFileSync(path.join(folder, 'big.png')).toString('base64') }] });
    assert.equal(body.errors?.[0]?.extensions?.code, 'IMAGE_TOO_LARGE', JSON.stringify(body));
  } finally {
    await service.stop();
  }
});

it('CLIP_MAX_IMAGE_BYTES raised above the default: a file larger than the default is indexed', async () => {
  const folder = path.join(tmp, 'raised');
  mkdirSync(folder);
  const big = await noisePng(2700, 2700);
  const fallback = SETTINGS.CLIP_MAX_IMAGE_BYTES.default;
  assert.ok(big.length > fallback, `${big.length} bytes > the default ${fallback}`);
  writeFileSync(path.join(folder, 'large.png'), big);
  process.env.CLIP_MAX_IMAGE_BYTES = String(32 * 1024 * 1024);
  const r = await runIndex([folder, '--collection', 'raised'], ['--store', store]);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual([r.result.stored, r.result.bad], [1, 0], r.err);
});
