/**
 * Worker thread that owns the two onnxruntime sessions. onnxruntime-node runs `session.run` on the
 * calling thread's event loop (after a setImmediate: onnxruntime issues #19611, #26968), so running
 * it here keeps the server's event loop free during inference. One request at a time; the batcher
 * above decides what goes in a batch.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import type { TowerSignature } from '../../bundle/bundle';
import { toTensor } from '../../preprocess/image/tensor';
import type { WorkerConfig, WorkerMessage, WorkerRequest } from './protocol';
import { lowerThreadPriority, sessionOptions } from './session-options';

const config = workerData as WorkerConfig;
const port = parentPort!;
const post = (m: WorkerMessage, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

function signature(session: ort.InferenceSession): TowerSignature {
  const meta = (list: readonly ort.InferenceSession.ValueMetadata[]) =>
    list.map((m) => (m.isTensor ? { name: m.name, type: m.type, shape: m.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : null)) } : { name: m.name }));
  return { inputs: meta(session.inputMetadata), outputs: meta(session.outputMetadata) };
}

async function open(file: string): Promise<ort.InferenceSession> {
  try {
    return await ort.InferenceSession.create(file, sessionOptions({ executionProvider: config.executionProvider, intraOpThreads: config.intraOpThreads, spin: config.spin }));
  } catch (e) {
    const err = new Error(`${file}: onnxruntime could not load it with the ${config.executionProvider} execution provider: ${(e as Error).message}`);
    (err as Error & { file?: string }).file = file;
    throw err;
  }
}

async function main(): Promise<void> {
  lowerThreadPriority(config.nice);
  let vision: ort.InferenceSession;
  let text: ort.InferenceSession;
  try {
    vision = await open(config.visionPath);
    text = await open(config.textPath);
  } catch (e) {
    post({ type: 'init-error', message: (e as Error).message, file: (e as { file?: string }).file });
    return;
  }
  const textHasMask = text.inputNames.includes('attention_mask');
  const idsType = text.inputMetadata.find((m) => m.name === 'input_ids');
  const idsAreInt32 = idsType?.isTensor === true && idsType.type === 'int32';
  post({ type: 'ready', vision: signature(vision), text: signature(text), textHasMask });
  // checkTowers (main thread) refuses towers without one of these: the first present is used
  const imageOut = config.outputs.image.find((n) => vision.outputNames.includes(n)) ?? 'image_embeds';
  const textOut = config.outputs.text.find((n) => text.outputNames.includes(n)) ?? 'text_embeds';

  // The joined image batch: one buffer, grown to the largest batch seen and reused (no allocation
  // and page faults per batch), unless a run that uses it is still going. The crops are normalised
  // into it by toTensor itself, the function the tests hold to torchvision's values.
  let joined = new Float32Array(0);
  let joinedBusy = false;
  port.on('message', async (req: WorkerRequest) => {
    // Handled here, never inside a run: a run executes synchronously in its own callback.
    if (req.type === 'exit') process.exit(req.code); // in a worker: ends this thread only
    let usesJoined = false;
    try {
      let out: ort.Tensor;
      if (req.tower === 'image') {
        const s = config.imageSize;
        const per = 3 * s * s;
        const length = req.count * per;
        usesJoined = !joinedBusy;
        if (usesJoined && joined.length < length) joined = new Float32Array(length);
        const data = usesJoined ? joined.subarray(0, length) : new Float32Array(length);
        joinedBusy ||= usesJoined;
        req.buffers.forEach((b, i) => toTensor(new Uint8Array(b), config.transform, data, i * per));
        const pixels = new ort.Tensor('float32', data, [req.count, 3, s, s]);
        out = (await vision.run({ pixel_values: pixels }))[imageOut];
      } else {
        const n = config.contextLength;
        const ids = new BigInt64Array(req.buffers[0]);
        const feeds: Record<string, ort.Tensor> = {
          input_ids: idsAreInt32 ? new ort.Tensor('int32', Int32Array.from(ids, Number), [req.count, n]) : new ort.Tensor('int64', ids, [req.count, n]),
        };
        if (textHasMask) feeds.attention_mask = new ort.Tensor('int64', attentionMask(ids, req.count, n), [req.count, n]);
        out = (await text.run(feeds))[textOut];
      }
      const data = out.data as Float32Array;
      const dim = out.dims[1];
      // Copy into a buffer we own exactly, so it can be transferred without dragging ORT's memory.
      const copy = new Float32Array(data);
      post({ type: 'result', id: req.id, buffer: copy.buffer as ArrayBuffer, count: req.count, dim }, [copy.buffer as ArrayBuffer]);
    } catch (e) {
      post({ type: 'run-error', id: req.id, message: (e as Error).message });
    } finally {
      if (usesJoined) joinedBusy = false;
    }
  });
}

/** 1 up to and including the first end-of-text token (49407), 0 after: what HF exports expect. */
function attentionMask(ids: BigInt64Array, count: number, n: number): BigInt64Array {
  const mask = new BigInt64Array(count * n);
  for (let r = 0; r < count; r++) {
    for (let i = 0; i < n; i++) {
      mask[r * n + i] = 1n;
      if (ids[r * n + i] === 49407n) break;
    }
  }
  return mask;
}

void main();
