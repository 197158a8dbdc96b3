/**
 * `npm start`: serves GraphQL at /graphql on $PORT (default 4000).
 *   CLIP_MODEL    model bundle folder (default: see model-choice.ts: the manifest's default model,
 *                 fetched if missing; offline, the committed tiny test model with a loud warning)
 *   CLIP_BACKEND  onnx (default) | torch
 *   HOST          listen address (default 0.0.0.0)
 * See README "Configuration" for every variable. SIGTERM/SIGINT drain and stop.
 */
import { ClipqlError } from '../errors';
import { createLogger } from './log';
import { chooseModel } from './model-choice';
import { startService } from './service';
import { staticRoute } from './static';

async function main(): Promise<void> {
  const env = process.env;
  const log = createLogger(env);
  const port = Number(env.PORT ?? 4000);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT must be 0..65535, got ${env.PORT}`);
  const service = await startService({
    modelDir: await chooseModel(env, log),
    backend: env.CLIP_BACKEND ?? 'onnx',
    port,
    host: env.HOST ?? '0.0.0.0',
    env,
    log,
    // The page sends its operations by hash when the server runs trusted documents.
    routes: [staticRoute({ documents: env.CLIP_TRUSTED_DOCUMENTS ? 'id' : 'query' })],
  });
  // A line for humans and for tests that start the server as a child process.
  log.info({ url: `${service.url}/graphql`, port: service.port }, 'listening');
  const shutdown = (signal: string) => {
    log.info({ signal }, 'draining: new requests are refused, in-flight ones finish');
    service.stop(Number(env.CLIP_SHUTDOWN_TIMEOUT_MS ?? 30_000)).then(
      () => {
        log.info({}, 'stopped');
        process.exit(0);
      },
      (e) => {
        log.error({ err: e }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

main().catch((e: unknown) => {
  const msg = e instanceof ClipqlError ? `error [${e.code}]: ${e.message}` : `error: ${(e as Error).stack ?? String(e)}`;
  process.stderr.write(`${msg}\n`);
  process.exit(1);
});
