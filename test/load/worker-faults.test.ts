/**
 * Worker faults in the torch backend itself (real worker processes on the CPU, Debian's
 * python3-torch), kept with the load and fault tests (npm run test:load) because they wait on
 * kills, timeouts and restarts; test/load/torch-faults.test.ts does the same through a server.
 * One worker (CLIP_TORCH_MAX_BATCH=2, CLIP_TORCH_CALL_TIMEOUT_MS=3000): killed in the middle of a
 * batch, the call fails quickly and the worker is restarted; hung, the call times out and the
 * worker is killed and restarted. (One of two workers killed under load is in
 * test/backends/torch-workers.test.ts, part of npm test.)
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ImageBatch, TokenBatch } from '../../src/backends/backend';
import type { TorchBackend } from '../../src/backends/torch/torch-backend';
import { loadBundle, type ModelBundle } from '../../src/bundle/bundle';
import { ErrorCode } from '../../src/errors';
import { TINY_MODEL_DIR, defaultBpeVocab } from '../../src/paths';
import { TOKEN_ROWS, randomCrops, rejection, tokenBatch, torchBackend } from '../helpers/torch';
import { waitFor } from '../helpers/wait';

let bundle: ModelBundle;
before(async () => {
  bundle = await loadBundle(TINY_MODEL_DIR, { bpeVocab: defaultBpeVocab() });
});
const images = (count: number, seed: number): ImageBatch => randomCrops(bundle.imageSize, count, seed);
const texts = (): TokenBatch => tokenBatch(bundle.contextLength);

describe('one worker (CLIP_TORCH_MAX_BATCH=2, CLIP_TORCH_CALL_TIMEOUT_MS=3000)', () => {
  let b: TorchBackend;
  const detail = (key: string) => b.describe().details[`worker0.${key}`];
  /** Calls made right after a restart would spend their deadline waiting for it: wait here instead. */
  const ready = (restarts: number) => waitFor(`restart ${restarts}`, () => detail('state') === 'ready' && detail('restarts') === restarts);

  before(async () => {
    b = torchBackend(bundle, { CLIP_TORCH_MAX_BATCH: '2', CLIP_TORCH_CALL_TIMEOUT_MS: '3000' });
    await b.init();
  });
  after(() => b.dispose());

  test('a worker killed in the middle of a batch fails that call quickly; it is restarted and serves again', async () => {
    const pid = Number(detail('pid'));
    const reference = await b.encodeImages(images(2, 9));
    // Stopped first, so that the batch (16 worker calls, 43 MB) is surely in flight when the kill comes, however fast the machine.
    process.kill(pid, 'SIGSTOP');
    const call = b.encodeImages(images(32, 4));
    await sleep(20);
    const t0 = Date.now();
    process.kill(pid, 'SIGKILL');
    const e = await rejection(call, ErrorCode.BACKEND_UNAVAILABLE, 'the call in flight');
    assert.ok(Date.now() - t0 < 2000, `rejected ${Date.now() - t0} ms after the kill`);
    assert.match(e.message, /died/);
    assert.match(e.message, /SIGKILL/);
    assert.match(e.message, new RegExp(`pid ${pid}`));

    await ready(1);
    assert.notEqual(Number(detail('pid')), pid);
    const again = await b.encodeImages(images(2, 9));
    assert.deepEqual(again.data, reference.data);
  });

  test('a hung worker: the call fails with TIMEOUT, the worker is killed and restarted', async () => {
    const pid = Number(detail('pid'));
    process.kill(pid, 'SIGSTOP');
    try {
      const t0 = Date.now();
      const e = await rejection(b.encodeTexts(texts()), ErrorCode.TIMEOUT, 'a call to a stopped worker');
      const waited = Date.now() - t0;
      assert.ok(waited >= 2900 && waited < 8000, `timed out after ${waited} ms`);
      assert.match(e.message, /CLIP_TORCH_CALL_TIMEOUT_MS/);
      await ready(2);
      assert.throws(() => process.kill(pid, 0), 'the hung worker is gone');
      const out = await b.encodeTexts(texts());
      assert.equal(out.count, TOKEN_ROWS.length);
    } finally {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // already gone
      }
    }
  });
});
