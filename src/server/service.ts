/**
 * Composes the service: pipeline (model + backends), Apollo, HTTP, and the lifecycle:
 * load and warm the default backend before /healthz turns ready; on stop, refuse new requests,
 * let in-flight ones finish (up to a deadline), then stop Apollo, the batchers and the backends.
 */
import type { AddressInfo } from 'node:net';
import type http from 'node:http';
import { intSetting } from '../settings';
import { limitsFromEnv, type Limits } from '../input/limits';
import { ClipPipeline } from '../pipeline';
import { StoreHandle } from '../store/handle';
import { openStore, redact, storeLocation } from '../store/open';
import { createApollo } from './apollo';
import { createHttpServer } from './http';
import type { Logger } from './log';
import { Metrics } from './metrics';

export interface ServiceConfig {
  readonly modelDir: string;
  readonly backend: string;
  readonly port: number;
  readonly host: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly log: Logger;
  readonly routes?: Parameters<typeof createHttpServer>[0]['routes'];
}

export interface Service {
  readonly url: string;
  readonly port: number;
  readonly pipeline: ClipPipeline;
  readonly limits: Limits;
  readonly server: http.Server;
  readonly metrics: Metrics;
  /** The collection store (CLIP_STORE), opened on first use unless CLIP_STORE is set. */
  readonly store: StoreHandle;
  /** Graceful stop: drain in-flight requests (at most `timeoutMs`), then free everything. */
  stop(timeoutMs?: number): Promise<void>;
}

export async function startService(config: ServiceConfig): Promise<Service> {
  const { env, log } = config;
  const limits = limitsFromEnv(env);
  let pipelineRef: ClipPipeline | undefined;
  const metrics = new Metrics(() => pipelineRef);
  const pipeline = await ClipPipeline.open({
    modelDir: config.modelDir,
    backend: config.backend,
    env,
    log,
    preprocessMode: env.CLIP_PREPROCESS === 'fast' ? 'fast' : 'exact',
    decodeLimits: { maxBytes: limits.maxImageBytes, maxPixels: limits.maxPixels },
    embedder: {
      cacheSize: intSetting(env, 'CLIP_CACHE_SIZE', 10_000, 0),
      maxDelayMs: intSetting(env, 'CLIP_BATCH_DELAY_MS', 2, 0),
      maxQueue: intSetting(env, 'CLIP_QUEUE_MAX', 1024),
      onBatch: (e) => metrics.onBatch(e),
    },
  });
  pipelineRef = pipeline;
  const location = storeLocation(env);
  const store = new StoreHandle(async () => {
    const s = await openStore(env);
    log.info({ engine: location.engine, store: redact(location.target) }, 'collection store open');
    return s;
  });
  let ready = false;
  let draining = false;
  const apollo = createApollo({
    limits,
    development: env.NODE_ENV === 'development',
    onUnexpectedError: (e) => log.error({ err: e }, 'unexpected error'),
    plugins: [metrics.plugin()],
  });
  await apollo.start();
  const server = createHttpServer({
    apollo,
    pipeline,
    limits,
    store: () => store.get(),
    isReady: () => ready,
    isDraining: () => draining,
    routes: [metrics.route(), ...(config.routes ?? [])],
    onError: (e) => log.error({ err: e }, 'request failed'),
    onGraphQLRequest: () => log.debug({}, 'graphql request'),
    headersTimeoutMs: intSetting(env, 'CLIP_HTTP_HEADERS_TIMEOUT_MS', 10_000),
    receiveTimeoutMs: intSetting(env, 'CLIP_HTTP_RECEIVE_TIMEOUT_MS', 60_000),
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, resolve);
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  if (pipeline.bundle.randomWeights) {
    log.warn({ model: pipeline.bundle.name }, `THE MODEL HAS SEEDED RANDOM WEIGHTS (a test fixture): every similarity it returns is meaningless. For real CLIP run \`npm run models -- fetch ViT-L-14-336\` and start with CLIP_MODEL=models/ViT-L-14-336.`);
  }
  // Listening first (so /healthz/live answers during a slow model load), then load and warm.
  // A store named by CLIP_STORE is opened now, so that a wrong URL fails start-up; the default
  // embedded one waits for the first collection request (a server that never uses collections
  // writes nothing to disk).
  try {
    await pipeline.embedder();
    if (env.CLIP_STORE) await store.get();
  } catch (e) {
    server.close();
    await apollo.stop();
    await store.close();
    await pipeline.close();
    throw e;
  }
  ready = true;
  log.info({ url, model: pipeline.bundle.name, backend: config.backend, backendInfo: (await pipeline.embedder()).backend.describe() }, 'clipql ready');

  let stopping: Promise<void> | undefined;
  const stop = (timeoutMs = 30_000) =>
    (stopping ??= (async () => {
      draining = true;
      ready = false;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // A keep-alive connection turns idle when its last in-flight answer is sent; close it then,
      // rather than after keepAliveTimeout, so the drain ends with the last answer.
      server.closeIdleConnections();
      const sweep = setInterval(() => server.closeIdleConnections(), 100);
      const timer = setTimeout(() => server.closeAllConnections(), timeoutMs);
      await closed;
      clearInterval(sweep);
      clearTimeout(timer);
      await apollo.stop();
      await store.close();
      await pipeline.close();
    })());
  return { url, port, pipeline, limits, server, metrics, store, stop };
}
