/**
 * `clipql index` on a folder (src/indexer, src/cli/index-command.ts), on the embedded store, with
 * the committed tiny model: nested folders, a corrupt file, a duplicate and a changed file; a
 * second run skips; --prune; and a run interrupted with SIGINT (a real child process) and
 * resumed, after which every file is stored exactly once. Expected ids, sha256s and counts are
 * written here or computed from the files with node:crypto, never read back from the indexer.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { main } from '../../src/cli/main';
import { ClipPipeline } from '../../src/pipeline';
import { REPO_ROOT, TINY_MODEL_DIR } from '../../src/paths';
import { PgliteDriver } from '../../src/store/pglite-driver';
import { CollectionStore } from '../../src/store/store';
import { patternImage } from '../helpers/images';
import { freshPgliteDir } from '../helpers/pglite';
import { runIndex, type IndexRun } from '../helpers/index-run';
import { BPE_VOCAB } from '../helpers/shared';

const CLI = path.join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

let tmp: string;
let store: string;
before(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'clipql-index-'));
  store = await freshPgliteDir('clipql-index-store-');
  process.env.CLIP_VOCAB = BPE_VOCAB();
});
after(() => {
  rmSync(tmp, { recursive: true, force: true });
  rmSync(store, { recursive: true, force: true });
});

const index = (...args: string[]) => runIndex(args, ['--store', store]);

async function stored(collection: string): Promise<Map<string, string>> {
  const s = await CollectionStore.open(new PgliteDriver(store));
  try {
    return await s.digests(collection);
  } finally {
    await s.close();
  }
}

describe('clipql index', { concurrency: false }, () => {
  test('a folder with nested folders, a corrupt file and a duplicate; run twice; a changed file; --prune', async () => {
    const root = path.join(tmp, 'library');
    const files: Record<string, Buffer> = {
      'a.png': await patternImage(1),
      'b.jpg': await patternImage(2, 'jpeg'),
      'trips/c.png': await patternImage(3),
      'trips/2024/d.webp': await patternImage(4, 'webp'),
      'trips/2024/e.png': await patternImage(5),
      'trips/2024/copy-of-a.png': await patternImage(1), // a duplicate: the same bytes under another name
    };
    for (const [rel, bytes] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
      writeFileSync(path.join(root, rel), bytes);
    }
    writeFileSync(path.join(root, 'trips', 'broken.jpg'), Buffer.from('not a jpeg at all'));
    writeFileSync(path.join(root, 'notes.txt'), 'not an image name: never read');

    const first = await index(root, '--collection', 'lib');
    assert.equal(first.code, 0, first.err);
    // Bulk work: two onnxruntime instances by default on a CPU with 2+ cores (a server keeps one).
    const instances = os.availableParallelism() >= 2 ? 2 : 1;
    assert.match(first.err, new RegExp(`encoding with onnx on cpu \\(${instances} onnxruntime instances of ${Math.floor(os.availableParallelism() / instances)} threads\\)`));
    assert.deepEqual([first.result.total, first.result.stored, first.result.skipped, first.result.bad], [7, 6, 0, 1]);
    assert.match(first.err, /bad file .*trips\/broken\.jpg: \[BAD_IMAGE\]/);
    const want = new Map(Object.entries(files).map(([rel, bytes]) => [rel, sha(bytes)]));
    assert.deepEqual(new Map([...(await stored('lib'))].sort()), new Map([...want].sort()), 'ids are paths relative to the root; sha256 of each file');

    const second = await index(root, '--collection', 'lib');
    assert.deepEqual([second.code, second.result.stored, second.result.skipped, second.result.bad], [0, 0, 6, 1], 'the second run skips every stored file');

    const changed = await patternImage(99);
    writeFileSync(path.join(root, 'trips', 'c.png'), changed);
    unlinkSync(path.join(root, 'b.jpg'));
    const third = await index(root, '--collection', 'lib');
    assert.deepEqual([third.result.stored, third.result.replaced, third.result.skipped, third.result.pruned], [1, 1, 4, 0], 'the changed file is replaced; without --prune the gone one stays');
    const afterThird = await stored('lib'); // one opening of the store for both checks (about 1.5 s of CPU each)
    assert.equal(afterThird.get('trips/c.png'), sha(changed));
    assert.equal(afterThird.has('b.jpg'), true);

    const pruned = await index(root, '--collection', 'lib', '--prune');
    assert.equal(pruned.result.pruned, 1);
    assert.deepEqual([...(await stored('lib')).keys()].sort(), ['a.png', 'trips/2024/copy-of-a.png', 'trips/2024/d.webp', 'trips/2024/e.png', 'trips/c.png']);
  });

  test('clipql search prints the top hits, best first: an exact scan of this small collection unless --approximate', async () => {
    const search = async (...args: string[]) => {
      let [out, err] = ['', ''];
      const code = await main(['search', ...args, '--store', store], undefined, { out: (x) => (out += x), err: (x) => (err += x), tty: false });
      return { code, out, err };
    };
    const caption = 'a photo of a pattern';
    const json = await search('lib', caption, '--json');
    assert.equal(json.code, 0, json.err);
    const answer = JSON.parse(json.out) as { exact: boolean; ef: number; hits: { id: string; score: number }[] };
    // The ranking, independently: the caption's embedding against each stored one, cosine in JS.
    const pipeline = await ClipPipeline.open({ modelDir: TINY_MODEL_DIR });
    const s = await CollectionStore.open(new PgliteDriver(store));
    try {
      const q = await pipeline.embedText(caption);
      const ids = [...(await s.digests('lib')).keys()];
      const cos = (a: Float32Array, b: Float32Array) => a.reduce((t, x, i) => t + x * b[i], 0) / (Math.hypot(...a) * Math.hypot(...b));
      const want = new Map(await Promise.all(ids.map(async (id) => [id, cos(q, (await s.embedding('lib', id))!)] as const)));
      // Every item once, each with its own cosine, best first (a.png and its copy tie: either order).
      assert.deepEqual(answer.hits.map((h) => h.id).sort(), [...want.keys()].sort());
      for (const h of answer.hits) assert.ok(Math.abs(h.score - want.get(h.id)!) < 1e-5, `${h.id}: ${h.score} against ${want.get(h.id)}`);
      answer.hits.forEach((h, i) => assert.ok(i === 0 || want.get(answer.hits[i - 1].id)! >= want.get(h.id)! - 1e-6, `ranked ${i + 1}: ${h.id}`));
    } finally {
      await s.close();
      await pipeline.close();
    }
    assert.equal(answer.exact, true, 'a small collection: an exact scan');
    const plain = await search('lib', caption, '--k', '2');
    assert.match(plain.out, new RegExp(`^exact search of lib for "${caption}":\n  1  ${answer.hits[0].score.toFixed(4).replace('.', '\\.')}  \\S+\n  2  \\d\\.\\d{4}  \\S+\n$`));
    const approx = await search('lib', caption, '--approximate', '--k', '2');
    assert.match(approx.out, /^approximate \(HNSW, ef 40\) search of lib/);
    const both = await search('lib', caption, '--exact', '--approximate');
    assert.deepEqual([both.code, /give --exact or --approximate, not both/.test(both.err)], [2, true]);
    const missing = await search('nothing-here', caption);
    assert.deepEqual([missing.code, /error \[COLLECTION_NOT_FOUND\]/.test(missing.err)], [1, true], missing.err);
  });

  test('usage errors exit 2, naming what is missing', async () => {
    const none = await index(tmp);
    assert.deepEqual([none.code, /--collection NAME is required/.test(none.err)], [2, true]);
    const noPath = await index('--collection', 'lib');
    assert.deepEqual([noPath.code, /no PATH given/.test(noPath.err)], [2, true]);
    const bad = await index(tmp, '--collection', 'lib', '--concurrency', 'many');
    assert.deepEqual([bad.code, /--concurrency must be a whole number/.test(bad.err)], [1, true]);
  });

  test('interrupted with SIGINT: stops cleanly with what it stored whole; resumed, every file stored once', { timeout: 120_000 }, async () => {
    const root = path.join(tmp, 'many');
    const n = 100;
    const want = new Map<string, string>();
    for (let i = 0; i < n; i++) {
      const rel = `d${i % 4}/img-${String(i).padStart(3, '0')}.png`;
      const bytes = await patternImage(1000 + i, 'png', 320, 240);
      mkdirSync(path.join(root, `d${i % 4}`), { recursive: true });
      writeFileSync(path.join(root, rel), bytes);
      want.set(rel, sha(bytes));
    }
    const child = spawn(process.execPath, [CLI, 'index', root, '--collection', 'many', '--store', store, '--concurrency', '2', '--progress-seconds', '0'], { env: { ...process.env, CLIP_PREPROCESS_THREADS: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    // Interrupted once it is encoding: at its first progress line after a chunk (64 items) was written.
    let sent = false;
    child.stderr.on('data', (d: Buffer) => {
      err += d;
      if (!sent && /: [1-9]\d* stored/.test(err)) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    assert.equal(sent, true, `the run was interrupted (it finished first: ${err})`);
    assert.equal(code, 130, err);
    assert.match(err, /interrupted: finishing the images being encoded/);
    const result = JSON.parse(out.trim()) as IndexRun['result'];
    assert.equal(result.interrupted, true);
    assert.ok(result.stored > 0 && result.stored < n, `stored ${result.stored} of ${n} before stopping`);
    const partial = await stored('many');
    assert.equal(partial.size, result.stored, 'what it reported stored is what the store holds: nothing half-written');
    for (const [id, digest] of partial) assert.equal(digest, want.get(id), id);

    const resumed = await index(root, '--collection', 'many');
    assert.equal(resumed.code, 0, resumed.err);
    assert.deepEqual([resumed.result.skipped, resumed.result.stored], [partial.size, n - partial.size]);
    const all = await stored('many');
    assert.deepEqual(new Map([...all].sort()), new Map([...want].sort()), 'every file stored once, with its bytes');
  });
});
