/**
 * A deliberate leak, for proving that the soak's memory check can fail: preloaded into the server
 * process (`node --require dist/test/load/leak.js`) when the soak runs with SOAK_LEAK_KB=N, it
 * keeps N KiB of native memory (a Buffer, filled so its pages are resident) per HTTP request for
 * the life of the process. Nothing in src/ knows about it.
 */
import http from 'node:http';

const kib = Number(process.env.SOAK_LEAK_KB ?? '0');
if (Number.isFinite(kib) && kib > 0) {
  const kept: Buffer[] = [];
  const emit = http.Server.prototype.emit;
  http.Server.prototype.emit = function (this: http.Server, event: string, ...args: unknown[]) {
    if (event === 'request') kept.push(Buffer.alloc(kib * 1024, 1));
    return (emit as (this: http.Server, ...a: unknown[]) => boolean).call(this, event, ...args);
  } as typeof emit;
}
