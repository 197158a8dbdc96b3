/**
 * `npm start`: serves GraphQL at /graphql on $PORT (default 4000).
 *   CLIP_MODEL    model bundle folder (default: see model-choice.ts: the manifest's default model,
 *                 fetched if missing; offline, the committed tiny test model with a loud warning)
 *   CLIP_MODELS   several models instead: name=dir[,name=dir...], the first the default
 *   CLIP_BACKEND  onnx (default) | torch
 *   HOST          listen address (default 0.0.0.0)
 * See README "Configuration" for every variable (config/settings.ts); a bad value exits with status
 * 2 before anything starts. SIGTERM/SIGINT drain and stop; SIGHUP reloads CLIP_API_KEYS_FILE.
 */
import '../config/node-env'; // first: before graphql-js reads NODE_ENV
import { loadConfig } from '../config/config';
import { ClipqlError, ErrorCode } from '../errors';
import { createLogger } from './log';
import { pageKey } from './page-key';

async function main(): Promise<void> {
  const { config, warnings } = loadConfig();
  // The service's modules (Apollo, type-graphql, sharp, onnxruntime) load once the configuration
  // is known to be good: a bad value exits in 0.15 s of CPU instead of 0.65 s (measured here).
  const { stopSharedProcesses } = require('../backends/registry') as typeof import('../backends/registry');
  const { chooseModel } = require('./model-choice') as typeof import('./model-choice');
  const { startService } = require('./service') as typeof import('./service');
  const { staticRoute } = require('./static') as typeof import('./static');
  const log = createLogger(config.LOG_LEVEL);
  for (const w of warnings) log.warn({}, w);
  const page = pageKey(config);
  if (page?.warning) log.warn({}, page.warning);
  const service = await startService({
    // CLIP_MODELS names its folders; only the one-model form has a default to choose.
    models: config.CLIP_MODELS ?? [{ name: '', dir: await chooseModel(config, log) }],
    backend: config.CLIP_BACKEND,
    port: config.PORT,
    host: config.HOST,
    config,
    log,
    // The page sends its operations by hash when the server runs trusted documents.
    routes: [staticRoute({ documents: config.CLIP_TRUSTED_DOCUMENTS ? 'id' : 'query', key: page })],
  });
  // A line for humans and for tests that start the server as a child process.
  log.info({ url: `${service.url}/graphql`, port: service.port }, 'listening');
  const shutdown = (signal: string) => {
    log.info({ signal }, 'draining: new requests are refused, in-flight ones finish');
    // The fork servers last: every worker is stopped by then, and this process reaps them.
    service
      .stop()
      .then(() => stopSharedProcesses())
      .then(
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
  // Without a handler SIGHUP would end the process; here it reloads the keys file.
  process.on('SIGHUP', () => service.reloadKeys('SIGHUP'));
}

main().catch((e: unknown) => {
  const msg = e instanceof ClipqlError ? `error [${e.code}]: ${e.message}` : `error: ${(e as Error).stack ?? String(e)}`;
  process.stderr.write(`${msg}\n`);
  // Status 2: the configuration is wrong (nothing was started); 1: anything else.
  process.exit(e instanceof ClipqlError && e.code === ErrorCode.BAD_CONFIG ? 2 : 1);
});
