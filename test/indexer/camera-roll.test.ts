/**
 * A phone's camera roll indexed by `clipql index` (issue 35), with the committed tiny model (a
 * 336-pixel input) on the embedded store. The folder is made at test time by Debian's PIL
 * (test/reference/camera_roll.py): a 1792 × 1344 photo, the same photo stored with EXIF
 * orientations 2 to 8 (its JPEG blocks turned losslessly by the inverse of the tag, as cameras store them), two HEIC
 * files made by heif-enc, an RGBA screenshot PNG and a small re-encoded copy. PIL's
 * ImageOps.exif_transpose of each oriented file is the independent reference for "upright".
 *
 * Checked: every file stored, none refused; one hash and one decode per file (counted with
 * preprocessing on this thread); each oriented photo embedded as its upright twin (cosine
 * ≥ 0.9999 in both modes), its crop equal to the crop of PIL's upright pixels, its thumbnail and
 * size upright; the reduced-scale decode ('shrink') against the exact one, cosine ≥ 0.9995 for
 * every file; and the API's path (PIL's Image.open, no orientation) left as it was: a sideways
 * photo stays sideways there.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { REPO_ROOT, TINY_MODEL_DIR } from '../../src/paths';
import { ClipPipeline } from '../../src/pipeline';
import { prepareImageItem } from '../../src/preprocess/image/image-item';
import { imageWorkCounts } from '../../src/preprocess/image/work-counts';
import { PgliteDriver } from '../../src/store/pglite-driver';
import { CollectionStore } from '../../src/store/store';
import { runIndex } from '../helpers/index-run';
import { cachedFixtureSync } from '../helpers/fixture-cache';
import { freshPgliteDir } from '../helpers/pglite';
import { DEBIAN_PYTHON } from '../helpers/python';
import { BPE_VOCAB } from '../helpers/shared';

const ORIENTED = [2, 3, 4, 5, 6, 7, 8].map((o) => `photo-1-o${o}.jpg`);
const cos = (a: Float32Array, b: Float32Array) => a.reduce((t, x, i) => t + x * b[i], 0) / (Math.hypot(...a) * Math.hypot(...b));

let dir: string;
let store: string;
let files: string[];
const saved: Record<string, string | undefined> = {};
const setEnv = (k: string, v: string) => {
  if (!(k in saved)) saved[k] = process.env[k];
  process.env[k] = v;
};

before(async () => {
  // Made once per content of the script and of the tools it runs (../helpers/fixture-cache.ts); read-only here.
  const tools = ['jpegtran', 'heif-enc'].map((t) => realpathSync(execFileSync('which', [t], { encoding: 'utf8' }).trim()));
  dir = cachedFixtureSync('camera-roll', { pythons: [DEBIAN_PYTHON], files: tools }, (tmp) => {
    mkdirSync(tmp);
    writeFileSync(path.join(tmp, 'files.json'), execFileSync(DEBIAN_PYTHON, [path.join(REPO_ROOT, 'test', 'reference', 'camera_roll.py'), tmp], { encoding: 'utf8' }));
  });
  files = (JSON.parse(readFileSync(path.join(dir, 'files.json'), 'utf8')) as { files: string[] }).files;
  store = await freshPgliteDir('clipql-roll-store-');
  setEnv('CLIP_VOCAB', BPE_VOCAB());
  setEnv('CLIP_PREPROCESS_THREADS', '0'); // on this thread, where the work is counted
});
after(() => {
  for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k];
  else process.env[k] = v;
  rmSync(store, { recursive: true, force: true });
});

/** Indexes the roll into `collection` under CLIP_COLLECTION_PREPROCESS=mode; the stored embeddings by id. */
async function indexRoll(collection: string, mode: 'shrink' | 'exact') {
  setEnv('CLIP_COLLECTION_PREPROCESS', mode);
  const before = imageWorkCounts();
  const run = await runIndex([path.join(dir, 'roll'), '--collection', collection], ['--store', store]);
  const work = imageWorkCounts();
  assert.equal(run.code, 0, run.err);
  const s = await CollectionStore.open(new PgliteDriver(store));
  try {
    const emb = new Map(await Promise.all(files.map(async (f) => [f, (await s.embedding(collection, f))!] as const)));
    const c = (await s.collection(collection))!;
    const hits = (await s.search(collection, { name: c.model, dim: c.dim, fingerprint: c.fingerprint ?? undefined }, emb.get('photo-1.jpg')!, { k: 50, exact: true })).hits;
    return { run, emb, hits, hashes: work.hashes - before.hashes, decodes: work.decodes - before.decodes };
  } finally {
    await s.close();
  }
}

describe('a camera roll indexed by clipql index', { concurrency: false }, () => {
  let shrink: Awaited<ReturnType<typeof indexRoll>>;
  let exact: Awaited<ReturnType<typeof indexRoll>>;

  test('every file stored (JPEG, HEIC, PNG), with one hash and one decode each, and the time by stage', async () => {
    assert.deepEqual(readdirSync(path.join(dir, 'roll')).sort(), [...files].sort());
    shrink = await indexRoll('roll', 'shrink');
    assert.deepEqual([shrink.run.result.total, shrink.run.result.stored, shrink.run.result.bad], [files.length, files.length, 0], shrink.run.err);
    assert.equal(shrink.hashes, files.length, 'one sha256 per file (the indexer\'s, given to the item)');
    assert.equal(shrink.decodes, files.length, 'one decode per file: crop and thumbnail from the same pixels');
    assert.match(shrink.run.err, /time by stage .*read \d+\.\d s, decode \d+\.\d s \(preprocessing threads\), encode \d+\.\d s \(model\), store \d+\.\d s/);
    exact = await indexRoll('roll-exact', 'exact');
    assert.deepEqual([exact.run.result.stored, exact.run.result.bad, exact.hashes, exact.decodes], [files.length, 0, files.length, files.length]);
  });

  // The twin is photo-1.jpg itself: each oriented file is photo-1.jpg's DCT blocks turned by
  // jpegtran (camera_roll.py), as a camera stores a turned photo, so what is left between a file
  // and its twin is the decoder's rounding: libjpeg's IDCT rounds rows and columns differently,
  // which this tiny random model turns into cosines of 0.99997 (exact) and 0.99991 (shrink: the
  // scaled IDCT) for the transposed files (5 to 8), 1.0 for the others. The crops' equality with PIL's upright pixels (last test) is the exact
  // check of the orientation.
  test('each photo stored sideways is embedded as its upright twin (cosine ≥ 0.9999 in both modes)', () => {
    for (const [mode, r] of [['exact', exact], ['shrink', shrink]] as const) {
      const upright = r.emb.get('photo-1.jpg')!;
      for (const f of ORIENTED) assert.ok(cos(r.emb.get(f)!, upright) >= 0.9999, `${mode} ${f}: cosine ${cos(r.emb.get(f)!, upright)} to photo-1.jpg`);
    }
  });

  test("sizes and thumbnails are upright: every photo's item is 1792 × 1344 with a landscape thumbnail", async () => {
    for (const f of ['photo-1.jpg', ...ORIENTED]) {
      const h = shrink.hits.find((x) => x.id === f)!;
      assert.deepEqual([h.width, h.height, h.format], [1792, 1344, 'jpeg'], f);
      const t = await sharp(h.thumbnail!.data).metadata();
      assert.deepEqual([t.width, t.height, h.thumbnail!.mime], [96, 72, 'image/jpeg'], `${f}'s thumbnail`);
    }
    const heic = shrink.hits.find((x) => x.id === 'IMG_0001.heic')!;
    assert.deepEqual([heic.width, heic.height, heic.format, heic.thumbnail?.mime], [640, 480, 'heic', 'image/jpeg']);
  });

  test("the reduced-scale decode ('shrink') against the exact one: cosine ≥ 0.9995 for every file", () => {
    for (const f of files) assert.ok(cos(shrink.emb.get(f)!, exact.emb.get(f)!) >= 0.9995, `${f}: cosine ${cos(shrink.emb.get(f)!, exact.emb.get(f)!)}`);
  });

  test("the exact upright crop is the crop of PIL's exif_transpose pixels; the API's path keeps PIL's Image.open (sideways)", async () => {
    const pipeline = await ClipPipeline.open({ modelDir: TINY_MODEL_DIR, preprocessThreads: 0 });
    try {
      const cfg = pipeline.bundle.image;
      for (const f of ORIENTED) {
        const ours = await prepareImageItem(readFileSync(path.join(dir, 'roll', f)), cfg, { mode: 'exact', orient: true });
        const pil = await prepareImageItem(readFileSync(path.join(dir, 'upright', f.replace('.jpg', '.png'))), cfg, { mode: 'exact', orient: false });
        assert.ok(Buffer.from(ours.pixels).equals(Buffer.from(pil.pixels)), `${f}: the upright crop differs from PIL's`);
      }
      // The query path (GraphQL, /v1) embeds what PIL's Image.open gives: a sideways photo as stored.
      const up = await pipeline.embedImage(readFileSync(path.join(dir, 'roll', 'photo-1.jpg')));
      const side = await pipeline.embedImage(readFileSync(path.join(dir, 'roll', 'photo-1-o6.jpg')));
      assert.ok(cos(up, side) < 0.999, `the API path turned the photo: cosine ${cos(up, side)}`);
    } finally {
      await pipeline.close();
    }
  });
});
