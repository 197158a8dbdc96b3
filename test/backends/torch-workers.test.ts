/**
 * The torch backend's capacity and pipeline with real worker processes on the CPU (Debian's
 * python3-torch), as issue 14 asks for them here, without a GPU:
 * - two CPU workers (CLIP_TORCH_DEVICES=cpu,cpu, one torch thread each) compute at the same time,
 *   and each worker reads its next batch while it computes the current one: both shown by the
 *   workers' own clock readings (TIMING frames), not by wall clocks on this side;
 * - one of them killed under load fails only its own batches in flight (BACKEND_UNAVAILABLE),
 *   while the other serves on, and it is restarted;
 * - images travel as uint8 crops, and the tensor the worker builds from them on its device is
 *   byte-identical to toTensor's (what the onnx backend feeds its session).
 */
import { parseConfig } from '../../src/config/config';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { ImageBatch } from '../../src/backends/backend';
import { TorchBackend, type TracedBatch } from '../../src/backends/torch/torch-backend';
import { loadBundle, type ModelBundle } from '../../src/bundle/bundle';
import { TINY_MODEL_DIR, defaultBpeVocab } from '../../src/paths';
import { preprocessPixels } from '../../src/preprocess/image/transform';
import { toTensor } from '../../src/preprocess/image/tensor';
import { ClipqlError, ErrorCode } from '../../src/errors';
import { notebook } from '../helpers/shared';
import { waitFor } from '../helpers/wait';
import { randomCrops } from '../helpers/torch';

const CPU2 = { ...process.env, CLIP_TORCH_DEVICES: 'cpu,cpu', CLIP_TORCH_THREADS: '1', CLIP_TORCH_DTYPE: 'float32' };

let bundle: ModelBundle;
before(async () => {
  bundle = await loadBundle(TINY_MODEL_DIR, { bpeVocab: defaultBpeVocab() });
});

const crops = (count: number, seed: number): ImageBatch => randomCrops(bundle.imageSize, count, seed);

const overlaps = (a: TracedBatch, b: TracedBatch) => a.started < b.finished && b.started < a.finished;


describe('two CPU workers (CLIP_TORCH_DEVICES=cpu,cpu, CLIP_TORCH_THREADS=1)', () => {
  let b: TorchBackend;
  before(async () => {
    b = new TorchBackend({ bundle, config: parseConfig({ ...CPU2, CLIP_TORCH_MAX_BATCH: '8', CLIP_TORCH_CALL_TIMEOUT_MS: '20000' }).config });
    await b.init();
  });
  after(() => b.dispose());

  test('capacity: two devices, two batches in flight on each, one torch thread each', () => {
    const info = b.describe();
    assert.deepEqual(info.capacity, { devices: 2, perDevice: 2, hostThreads: 2, imageBatchSizes: [] });
    assert.equal(info.details['worker0.device'], 'cpu');
    assert.equal(info.details['worker1.device'], 'cpu');
    assert.notEqual(info.details['worker0.pid'], info.details['worker1.pid']);
    assert.equal(info.details.threadsPerWorker, 1);
  });

  // On these workers (one more worker start would cost seconds of CPU): the normalisation is per worker.
  describe('uint8 transport: the worker normalises on its device to exactly toTensor\'s values', () => {
    test('the eight notebook images (PIL-exact crops) and random crops: the float32 tensors are byte-identical', async () => {
      const cfg = bundle.image;
      const s = bundle.imageSize;
      const notebookCrops = await Promise.all(notebook().map(async (item) => (await preprocessPixels(readFileSync(item.path), cfg)).pixels));
      const batch: ImageBatch = { pixels: [...notebookCrops, ...crops(4, 5).pixels], size: s };
      const expected = batch.pixels.map((p) => toTensor(p, cfg));
      const got = await b.normalise({ pixels: batch.pixels.map((p) => p.slice()), size: s });
      assert.equal(got.count, batch.pixels.length);
      assert.equal(got.dim, 3 * s * s);
      expected.forEach((want, i) => {
        const row = got.data.subarray(i * got.dim, (i + 1) * got.dim);
        const a = new Uint8Array(row.buffer, row.byteOffset, row.byteLength);
        const e = new Uint8Array(want.buffer, want.byteOffset, want.byteLength);
        const first = a.findIndex((v, k) => v !== e[k]);
        assert.equal(first, -1, `image ${i}: first differing byte ${first} (value ${Math.floor(first / 4)}: worker ${row[Math.floor(first / 4)]}, toTensor ${want[Math.floor(first / 4)]})`);
      });
      // The random crops cover every byte value in every channel, so the whole table was checked.
      for (let c = 0; c < 3; c++) {
        const seen = new Set<number>();
        for (const p of batch.pixels.slice(8)) for (let i = c; i < p.length; i += 3) seen.add(p[i]);
        assert.equal(seen.size, 256, `channel ${c}: every byte value appears`);
      }
    });
  });

  test('concurrent batches run on both workers at once, and each worker reads the next batch while it computes', async () => {
    const before = b.trace().length;
    await Promise.all(Array.from({ length: 8 }, (_, i) => b.encodeImages(crops(4, 100 + i))));
    const mine = b.trace().slice(before);
    assert.equal(mine.length, 8, 'every batch was timed');
    const w0 = mine.filter((t) => t.worker === 0);
    const w1 = mine.filter((t) => t.worker === 1);
    assert.ok(w0.length >= 2 && w1.length >= 2, `both workers got work: ${w0.length} and ${w1.length} batches`);
    const pairs = w0.flatMap((a) => w1.filter((c) => overlaps(a, c)));
    assert.ok(pairs.length > 0, `some batch of worker 0 overlaps one of worker 1 in the workers' own clocks: ${JSON.stringify(mine.map((t) => [t.worker, t.started, t.finished]))}`);
    // Pipelining inside one worker: a batch was read whole while the one before it still computed.
    const ahead = [w0, w1].some((w) => w.some((t, i) => i > 0 && t.received < w[i - 1].finished));
    assert.ok(ahead, `a worker received a batch before finishing the previous one: ${JSON.stringify(mine.map((t) => [t.worker, t.received, t.started, t.finished]))}`);
  });

  test('one worker killed under load: only its batches in flight fail (BACKEND_UNAVAILABLE), the other serves on, and it is restarted', async () => {
    const victim = Number(b.describe().details['worker0.pid']);
    const survivor = Number(b.describe().details['worker1.pid']);
    const outcomes: Array<'ok' | string> = [];
    let killedAt = 0;
    const load = (async () => {
      for (let round = 0; round < 6; round++) {
        const calls = Array.from({ length: 4 }, (_, i) => b.encodeImages(crops(2, round * 10 + i)));
        if (round === 2) {
          killedAt = Date.now();
          process.kill(victim, 'SIGKILL');
        }
        for (const r of await Promise.allSettled(calls)) {
          outcomes.push(r.status === 'fulfilled' ? 'ok' : r.reason instanceof ClipqlError ? r.reason.code : String(r.reason));
        }
      }
    })();
    await load;
    assert.ok(killedAt > 0);
    const failed = outcomes.filter((o) => o !== 'ok');
    assert.ok(failed.every((o) => o === ErrorCode.BACKEND_UNAVAILABLE), `failures are BACKEND_UNAVAILABLE: ${failed.join(', ')}`);
    // At most the victim's in-flight batches (2) fail; with 4 calls a round, no more than that.
    assert.ok(failed.length >= 1 && failed.length <= 2, `the victim's in-flight batches fail, no others: ${outcomes.join(' ')}`);
    assert.equal(outcomes.length, 24);
    assert.equal(Number(b.describe().details['worker1.pid']), survivor, 'the other worker was not touched');
    assert.equal(b.describe().details['worker1.restarts'], 0);
    const served = b.trace().filter((t) => t.pid === survivor && t.finished > killedAt);
    assert.ok(served.length > 0, 'the survivor served batches after the kill');
    await waitFor('the victim restarted', () => b.describe().details['worker0.state'] === 'ready' && b.describe().details['worker0.restarts'] === 1);
    assert.notEqual(Number(b.describe().details['worker0.pid']), victim);
    await b.encodeImages(crops(16, 7)); // both serve again
  });
});
