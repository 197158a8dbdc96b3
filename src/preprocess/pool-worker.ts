/** One preprocessing thread (see pool.ts): bytes in; the RGB crop, if any, out (transferred). */
import { parentPort } from 'node:worker_threads';
import { isClipqlError } from '../errors';
import { runTask, type PreprocessReply, type PreprocessTask } from './pool';

const port = parentPort!;
port.on('message', async (t: PreprocessTask) => {
  let reply: PreprocessReply;
  try {
    const result = await runTask(t);
    reply = { id: t.id, ok: true, result };
    port.postMessage(reply, 'pixels' in result && result.pixels ? [result.pixels.buffer as ArrayBuffer] : []);
    return;
  } catch (e) {
    reply = isClipqlError(e)
      ? { id: t.id, ok: false, code: e.code, message: e.message, details: e.details }
      : { id: t.id, ok: false, code: 'INTERNAL_SERVER_ERROR', message: `preprocessing failed: ${(e as Error).message}` };
  }
  port.postMessage(reply);
});
