/** One preprocessing thread (see pool.ts): bytes in, the RGB crop out (transferred). */
import { parentPort } from 'node:worker_threads';
import { isClipqlError } from '../errors';
import { probeImage } from './image/probe';
import { preprocessPixels } from './image/transform';
import type { PreprocessReply, PreprocessTask } from './pool';

const port = parentPort!;
port.on('message', async (t: PreprocessTask) => {
  let reply: PreprocessReply;
  try {
    if (t.kind === 'probe') {
      reply = { id: t.id, ok: true, result: await probeImage(t.bytes, t.limits) };
      port.postMessage(reply);
      return;
    }
    const result = await preprocessPixels(t.bytes, t.cfg!, { mode: t.mode, limits: t.limits });
    reply = { id: t.id, ok: true, result };
    port.postMessage(reply, [result.pixels.buffer as ArrayBuffer]);
    return;
  } catch (e) {
    reply = isClipqlError(e)
      ? { id: t.id, ok: false, code: e.code, message: e.message, details: e.details }
      : { id: t.id, ok: false, code: 'INTERNAL_SERVER_ERROR', message: `preprocessing failed: ${(e as Error).message}` };
  }
  port.postMessage(reply);
});
