/**
 * Composes the service: pipeline (model + backends), Apollo, HTTP, and the lifecycle:
 * load and warm the default backend before /healthz turns ready; on stop, refuse new requests,
 * let in-flight ones finish (up to a deadline), then stop Apollo, the batchers and the backends.
 */
import type { AddressInfo } from 'node:net';
import type http from 'node:http';
import { Access } from '../access/access';
import { TrustedDocuments } from '../access/trusted-documents';
import type { Config } from '../config/config';
import { limitsFromConfig, type Limits } from '../input/limits';
import { ClipPipeline } from '../pipeline';
import { createApollo } from './apollo';
import { createHttpServer } from './http';
import type { Logger } from './log';
import { Metrics } from './metrics';

export interface ServiceConfig {
  readonly modelDir: string;
  readonly backend: string;
  readonly port: number;
  readonly host: string;
  readonly config: Config;
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
  /** Graceful stop: drain in-flight requests (at most `timeoutMs`), then free everything. */
  stop(timeoutMs?: number): Promise<void>;
}

export async function startService(config: ServiceConfig): Promise<Service> {
  const { log } = config;
  const c = config.config;
  const limits = limitsFromConfig(c);
  // Both read and checked before the model loads: a bad file fails the start at once.
  const trusted = c.CLIP_TRUSTED_DOCUMENTS ? TrustedDocuments.fromFile(c.CLIP_TRUSTED_DOCUMENTS) : undefined;
  let pipelineRef: ClipPipeline | undefined;
  const metrics = new Metrics(() => pipelineRef);
  const access = Access.fromConfig(c, (e) => metrics.onAccess(e));
  const pipeline = await ClipPipeline.open({
    modelDir: config.modelDir,
    backend: config.backend,
    config: c,
    log,
    decodeLimits: { maxBytes: limits.maxImageBytes, maxPixels: limits.maxPixels },
    embedder: {
      cacheSize: c.CLIP_CACHE_SIZE,
      maxDelayMs: c.CLIP_BATCH_DELAY_MS,
      maxQueue: c.CLIP_QUEUE_MAX,
      onBatch: (e) => metrics.onBatch(e),
    },
  });
  pipelineRef = pipeline;
  let ready = false;
  let draining = false;
  const apollo = createApollo({
    limits,
    development: c.NODE_ENV === 'development',
    onUnexpectedError: (e) => log.error({ err: e }, 'unexpected error'),
    plugins: [metrics.plugin()],
    trustedDocuments: trusted !== undefined,
  });
  await apollo.start();
  const server = createHttpServer({
    apollo,
    pipeline,
    limits,
    isReady: () => ready,
    isDraining: () => draining,
    routes: [metrics.route(), ...(config.routes ?? [])],
    onError: (e) => log.error({ err: e }, 'request failed'),
    onGraphQLRequest: () => log.debug({}, 'graphql request'),
    headersTimeoutMs: c.CLIP_HTTP_HEADERS_TIMEOUT_MS,
    receiveTimeoutMs: c.CLIP_HTTP_RECEIVE_TIMEOUT_MS,
    access,
    trusted,
    onOpenAIAnswer: (route, outcome) => metrics.openaiRequests.inc({ route, outcome }),
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
  try {
    await pipeline.embedder();
  } catch (e) {
    server.close();
    await apollo.stop();
    await pipeline.close();
    throw e;
  }
  ready = true;
  log.info({ url, model: pipeline.bundle.name, backend: config.backend, backendInfo: (await pipeline.embedder()).backend.describe(), trustedDocuments: trusted?.size ?? 'off', apiKeys: access ? { keys: access.keyCount, requestsPerMinute: access.options.requestsPerMinute, imagesPerMinute: access.options.imagesPerMinute } : 'off' }, 'clipql ready');

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
      await pipeline.close();
    })());
  return { url, port, pipeline, limits, server, metrics, stop };
}
