/**
 * Composes the service: pipeline (model + backends), Apollo, HTTP, metrics, and the lifecycle
 * (lifecycle.ts) on Apollo's hooks: listen first (so /healthz/live answers during a slow model
 * load), then Apollo's start loads and warms the default backend and the service turns ready; on
 * stop, Apollo drains (new requests refused, in-flight ones finish within
 * CLIP_SHUTDOWN_TIMEOUT_MS, then cut off) and disposes the batchers and backends.
 */
import type { AddressInfo } from 'node:net';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import type http from 'node:http';
import { Access } from '../access/access';
import { TrustedDocuments } from '../access/trusted-documents';
import type { Config } from '../config/config';
import { limitsFromConfig, type Limits } from '../input/limits';
import type { ModelSpec } from '../config/settings';
import type { ClipPipeline } from '../pipeline';
import type { ServedModels } from '../served-models';
import { StoreHandle } from '../store/handle';
import { openStore, redact, storeLocation } from '../store/open';
import { createApollo } from './apollo';
import { scopePlugin } from './gate';
import { createHttpServer } from './http';
import type { Logger } from './log';
import { Lifecycle } from './lifecycle';
import { Metrics } from './metrics';
import { openModels } from './open-models';

export interface ServiceConfig {
  /** The served models (CLIP_MODELS, or the one CLIP_MODEL as [{ name: '', dir }]: '' serves it under its folder's name), the first the default. */
  readonly models: readonly ModelSpec[];
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
  /** The default model's pipeline. */
  readonly pipeline: ClipPipeline;
  /** Every served model, by name (served-models.ts). */
  readonly models: ServedModels;
  readonly limits: Limits;
  readonly server: http.Server;
  readonly metrics: Metrics;
  readonly lifecycle: Lifecycle;
  /** The collection store (CLIP_STORE), opened on first use unless CLIP_STORE is set. */
  readonly store: StoreHandle;
  /**
   * Reads CLIP_API_KEYS_FILE again (SIGHUP; the file is also watched): the keys in it apply to
   * requests that arrive from now on, requests in flight finish with the key they came with. A
   * file that cannot be read or parsed keeps the keys in force; false then (the log says why).
   */
  reloadKeys(reason: string): boolean;
  /** Graceful stop: drain in-flight requests (at most CLIP_SHUTDOWN_TIMEOUT_MS), then free everything. */
  stop(): Promise<void>;
}

export async function startService(config: ServiceConfig): Promise<Service> {
  const { log } = config;
  const c = config.config;
  const limits = limitsFromConfig(c);
  // Both read and checked before the model loads: a bad file fails the start at once.
  const trusted = c.CLIP_TRUSTED_DOCUMENTS ? TrustedDocuments.fromFile(c.CLIP_TRUSTED_DOCUMENTS) : undefined;
  const lifecycle = new Lifecycle();
  // One pipeline per model (own backends, batchers, caches), one preprocessing pool for all.
  const opened = await openModels(config.models, {
    backend: config.backend,
    config: c,
    log,
  });
  const models = opened.models;
  const pipeline = models.default.pipeline;
  const metrics = new Metrics(models.list(), lifecycle);
  const access = Access.fromConfig(c, (e) => metrics.onAccess(e));
  for (const w of access?.warnings() ?? []) log.warn({}, w);
  const reloadKeys = (reason: string): boolean => {
    if (!access) {
      log.warn({ reason }, 'API keys: no CLIP_API_KEYS_FILE to reload');
      return false;
    }
    try {
      const r = access.reload();
      log.info({ reason, ...r }, 'API keys reloaded');
      for (const w of access.warnings()) log.warn({}, w);
      return true;
    } catch (e) {
      log.error({ reason, err: (e as Error).message }, 'API keys not reloaded: the keys in force stay');
      return false;
    }
  };
  const unwatchKeys = access?.watch(() => reloadKeys('file changed')) ?? (() => {});
  let apollo: ReturnType<typeof createApollo> | undefined;
  const location = storeLocation(c);
  const store = new StoreHandle(async () => {
    const s = await openStore(c);
    log.info({ engine: location.engine, store: redact(location.target) }, 'collection store open');
    return s;
  });
  const server = createHttpServer({
    apollo: () => apollo!,
    models,
    limits,
    lifecycle,
    store: () => store.get(),
    routes: [metrics.route(), ...(config.routes ?? [])],
    onError: (e) => log.error({ err: e }, 'request failed'),
    onGraphQLRequest: () => log.debug({}, 'graphql request'),
    headersTimeoutMs: c.CLIP_HTTP_HEADERS_TIMEOUT_MS,
    receiveTimeoutMs: c.CLIP_HTTP_RECEIVE_TIMEOUT_MS,
    access,
    trusted,
    onOpenAIAnswer: (route, outcome) => metrics.openaiRequests.inc({ route, outcome }),
  });
  apollo = createApollo({
    limits,
    development: c.NODE_ENV === 'development',
    onUnexpectedError: (e) => log.error({ err: e }, 'unexpected error'),
    trustedDocuments: trusted !== undefined,
    plugins: [
      metrics.plugin(),
      // Scopes per root field, before execution; no hook at all without API keys.
      ...(access ? [scopePlugin()] : []),
      // Before the drain plugin: its drainServer turns the state to draining first.
      // A store named by CLIP_STORE is opened at start-up, so that a wrong URL fails it; the
      // default embedded one waits for the first collection request (a server that never uses
      // collections writes nothing to disk).
      lifecycle.plugin({
        warm: async () => {
          await opened.warm();
          for (const m of models.list()) log.info({ model: m.name, bundle: m.pipeline.bundle.name, ...models.loadFigures(m.name) }, 'model loaded');
          if (c.CLIP_STORE) await store.get();
        },
        dispose: async () => {
          unwatchKeys();
          await store.close();
          await models.close();
        },
      }),
      ApolloServerPluginDrainHttpServer({ httpServer: server, stopGracePeriodMillis: c.CLIP_SHUTDOWN_TIMEOUT_MS }),
    ],
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, resolve);
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  for (const m of models.list().filter((x) => x.pipeline.bundle.randomWeights)) {
    log.warn({ model: m.name, bundle: m.pipeline.bundle.name }, `THE MODEL HAS SEEDED RANDOM WEIGHTS (a test fixture): every similarity it returns is meaningless. For real CLIP run \`npm run models -- download ViT-L-14-336\` and start with CLIP_MODEL=models/ViT-L-14-336.`);
  }
  try {
    await apollo.start(); // serverWillStart: the model loads and warms; then ready
  } catch (e) {
    unwatchKeys();
    server.close();
    await store.close();
    await models.close();
    throw e;
  }
  log.info({ url, model: models.default.name, models: models.list().map((m) => m.name), backend: config.backend, backendInfo: (await pipeline.embedder()).backend.describe(), trustedDocuments: trusted?.size ?? 'off', apiKeys: access ? { keys: access.keyCount, requestsPerMinute: access.options.requestsPerMinute, imagesPerMinute: access.options.imagesPerMinute } : 'off' }, 'clipql ready');

  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= apollo!.stop());
  return { url, port, pipeline, models, limits, server, metrics, lifecycle, store, reloadKeys, stop };
}
