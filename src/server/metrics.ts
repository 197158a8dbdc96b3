/**
 * Prometheus metrics (prom-client) on GET /metrics. One Registry per service instance (no
 * module-global default registry), so tests can run several servers in one process.
 * Beside ours (clipql_*) come prom-client's process and Node figures (clipql_process_*), among
 * them the event-loop delay, measured with perf_hooks.monitorEventLoopDelay over the interval since
 * the previous scrape: clipql_process_nodejs_eventloop_lag_{min,max,mean,p50,p90,p99}_seconds.
 */
import type http from 'node:http';
import type { ApolloServerPlugin } from '@apollo/server';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { AccessEvent } from '../access/access';
import type { BatchEvent } from '../batch/embedder';
import type { ClipPipeline } from '../pipeline';
import type { RequestContext } from '../schema/context';
import { LIFECYCLE_STATES, type Lifecycle } from './lifecycle';

const IMAGE_REJECTIONS = new Set(['BAD_IMAGE', 'UNSUPPORTED_FORMAT', 'IMAGE_TOO_LARGE', 'FETCH_FAILED']);

/**
 * The event-loop monitor's tick (ms). Its gauges record the time between ticks, so an idle loop
 * reads about this much: the delay is a reading minus it (the benchmark reports it so).
 */
export const EVENT_LOOP_RESOLUTION_MS = 10;

export class Metrics {
  readonly registry = new Registry();
  readonly requests = new Counter({ name: 'clipql_requests_total', help: 'GraphQL operations by root field and outcome (ok or the first error code).', labelNames: ['operation', 'outcome'], registers: [this.registry] });
  readonly rejectedImages = new Counter({ name: 'clipql_images_rejected_total', help: 'Image inputs refused, by reason (error code).', labelNames: ['reason'], registers: [this.registry] });
  readonly batchSize = new Histogram({ name: 'clipql_batch_size', help: 'Items per backend batch.', labelNames: ['model', 'backend', 'tower'], buckets: [1, 2, 4, 8, 16, 32, 64, 128], registers: [this.registry] });
  readonly queueWait = new Histogram({ name: 'clipql_queue_wait_seconds', help: 'Time items waited in the batch queue.', labelNames: ['model', 'backend', 'tower'], buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], registers: [this.registry] });
  readonly compute = new Histogram({ name: 'clipql_backend_compute_seconds', help: 'Backend time per batch.', labelNames: ['model', 'backend', 'tower'], buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [this.registry] });
  readonly apiRequests = new Counter({ name: 'clipql_api_requests_total', help: 'Requests at the API-key gate by key name ("(none)" for a missing or unknown key; never the key) and outcome (admitted or the refusal code).', labelNames: ['key', 'outcome'], registers: [this.registry] });
  readonly apiImages = new Counter({ name: 'clipql_api_images_total', help: 'Images charged to API keys, by key name and outcome (admitted or the refusal code).', labelNames: ['key', 'outcome'], registers: [this.registry] });
  readonly openaiRequests = new Counter({ name: 'clipql_openai_requests_total', help: 'Answers of the OpenAI-compatible routes (/v1) by route and outcome (ok or the error code).', labelNames: ['route', 'outcome'], registers: [this.registry] });
  readonly batchFailures = new Counter({ name: 'clipql_batch_failures_total', help: 'Backend batches that failed.', labelNames: ['model', 'backend', 'tower'], registers: [this.registry] });

  /**
   * `models`: every served model (the default first), by the name requests give. Batches, queues,
   * cache hits and worker restarts carry a `model` label; the preprocessing threads are shared by
   * all models (server/open-models.ts), so their gauges have none.
   */
  constructor(private readonly models: readonly { readonly name: string; readonly pipeline: ClipPipeline }[], lifecycle: Lifecycle) {
    if (models.length === 0) throw new TypeError('Metrics needs at least one model');
    collectDefaultMetrics({ register: this.registry, prefix: 'clipql_process_', eventLoopMonitoringPrecision: EVENT_LOOP_RESOLUTION_MS });
    for (const m of models) m.pipeline.onBatch((e) => this.onBatch(m.name, e));
    const self = this;
    new Gauge({
      name: 'clipql_lifecycle_state',
      help: 'The service\'s lifecycle state (server/lifecycle.ts): 1 for the current one.',
      labelNames: ['state'],
      registers: [this.registry],
      collect() {
        for (const s of LIFECYCLE_STATES) this.set({ state: s }, lifecycle.state === s ? 1 : 0);
      },
    });
    new Gauge({
      name: 'clipql_queue_length',
      help: 'Items waiting in the batch queues.',
      labelNames: ['model', 'backend', 'tower'],
      registers: [this.registry],
      async collect() {
        for (const [model, name, e] of await self.embedders()) {
          const s = e.stats();
          this.set({ model, backend: name, tower: 'image' }, s.queued.image);
          this.set({ model, backend: name, tower: 'text' }, s.queued.text);
        }
      },
    });
    new Gauge({
      name: 'clipql_cache_hits',
      help: 'Embedding cache hits since start.',
      labelNames: ['model', 'backend', 'tower'],
      registers: [this.registry],
      async collect() {
        for (const [model, name, e] of await self.embedders()) {
          const s = e.stats();
          this.set({ model, backend: name, tower: 'image' }, s.imageCacheHits);
          this.set({ model, backend: name, tower: 'text' }, s.textCacheHits);
        }
      },
    });
    // The preprocessing threads' admission queue (preprocess/pool.ts), one for every model.
    const preprocess = () => self.models[0].pipeline.preprocessStats();
    new Gauge({
      name: 'clipql_preprocess_queue_length',
      help: 'Images waiting for a preprocessing thread (bounded by CLIP_PREPROCESS_QUEUE_MAX; beyond it, OVERLOADED).',
      registers: [this.registry],
      collect() {
        const s = preprocess();
        if (s) this.set(s.queued);
      },
    });
    new Gauge({
      name: 'clipql_preprocess_running',
      help: 'Images handed to the preprocessing threads (decoding, resizing) and not yet back.',
      registers: [this.registry],
      collect() {
        const s = preprocess();
        if (s) this.set(s.running);
      },
    });
    new Gauge({
      name: 'clipql_worker_restarts',
      help: 'Backend worker restarts since start (out-of-process backends).',
      labelNames: ['model', 'backend'],
      registers: [this.registry],
      collect() {
        for (const m of self.models) {
          for (const b of m.pipeline.registry.created()) {
            // "restarts", or one "workerN.restarts" per worker (the torch backend): their sum
            const counts = Object.entries(b.describe().details).filter(([k]) => /(^|\.)restarts$/.test(k)).map(([, v]) => Number(v));
            this.set({ model: m.name, backend: b.name }, counts.reduce((s, r) => s + (Number.isFinite(r) ? r : 0), 0));
          }
        }
      },
    });
  }

  /** [model, backend, embedder] of every backend started so far. */
  private async embedders() {
    const out = [];
    for (const m of this.models) {
      for (const b of m.pipeline.registry.created()) {
        try {
          out.push([m.name, b.name, await m.pipeline.embedder(b.name)] as const);
        } catch {
          // a backend that failed to start has no queue
        }
      }
    }
    return out;
  }

  private onBatch(model: string, info: BatchEvent): void {
    const labels = { model, backend: info.backend, tower: info.tower };
    this.batchSize.observe(labels, info.size);
    for (const w of info.queueWaitMs) this.queueWait.observe(labels, w / 1000);
    this.compute.observe(labels, info.durationMs / 1000);
    if (info.failed) this.batchFailures.inc(labels);
  }

  /** Access gate events (access/access.ts): counted by key name. */
  onAccess(e: AccessEvent): void {
    (e.kind === 'requests' ? this.apiRequests : this.apiImages).inc({ key: e.key, outcome: e.outcome }, e.count);
  }

  /** Apollo plugin: counts operations by root field and outcome, and rejected images by reason. */
  plugin(): ApolloServerPlugin<RequestContext> {
    const m = this;
    return {
      async requestDidStart() {
        return {
          async willSendResponse(rc) {
            const op = rc.operation?.selectionSet.selections.map((s) => (s.kind === 'Field' ? s.name.value : '?')).join(',') || 'unknown';
            const errors = rc.errors ?? (rc.response.body.kind === 'single' ? rc.response.body.singleResult.errors : undefined) ?? [];
            const first = errors[0] as { extensions?: { code?: unknown } } | undefined;
            m.requests.inc({ operation: op, outcome: first ? String(first.extensions?.code ?? 'INTERNAL_SERVER_ERROR') : 'ok' });
            for (const e of errors as ReadonlyArray<{ extensions?: { code?: unknown } }>) {
              const code = String(e.extensions?.code ?? '');
              if (IMAGE_REJECTIONS.has(code)) m.rejectedImages.inc({ reason: code });
            }
          },
        };
      },
    };
  }

  route() {
    return async (req: http.IncomingMessage, res: http.ServerResponse): Promise<boolean> => {
      if (req.url?.split('?')[0] !== '/metrics' || req.method !== 'GET') return false;
      const text = await this.registry.metrics();
      res.writeHead(200, { 'content-type': this.registry.contentType });
      res.end(text);
      return true;
    };
  }
}
