/**
 * Benchmark (not a test): what one GraphQL request costs in clipql, layer by layer, beside the
 * same request to Apollo Server alone and to a bare node:http server, all measured in one run.
 *
 *   node dist/scripts/bench/serving/request-path.js [--rounds 5] [--requests 300] [--n 20000] [--no-search]
 *        [--model-dir DIR] [--only LAYER,LAYER...]
 *
 * --only measures just those layers (for a CPU profile of one of them: `node --cpu-prof ...`; the
 * servers run in this process).
 *
 * Empty query (`{ __typename }`, POST JSON), one keep-alive connection, sequential; every server
 * below lives in this process, the client in a child process (so no server shares its thread with
 * the client), and the rounds are interleaved (each round visits every layer, in a rotated order):
 *   bare-http        node:http answering a fixed JSON body (the floor: HTTP on loopback)
 *   apollo-alone     Apollo Server 5, a one-field schema, the smallest node:http glue
 *                    (read, JSON.parse, executeHTTPGraphQLRequest)
 *   apollo+schema    the same with clipql's type-graphql schema
 *   clipql-apollo    the same with clipql's Apollo (server/apollo.ts: validation rule, error
 *                    masking, plugins: metrics) and a request context per request
 *   clipql-service   clipql's whole service (server/service.ts: its HTTP transport, lifecycle,
 *                    access gate, trusted documents, the drain plugin), the tiny model
 * Collection search by a cached caption (unless --no-search): --n random unit vectors of D = 768
 * bulk-loaded into a PostgreSQL collection (a throwaway database, HNSW), served with
 * models/generate.py's tiny-d768 model (as scripts/bench/store.ts does):
 *   store.search     CollectionStore.search in this process, sequential (the store's own rate)
 *   graphql-search   `search(collection, text, k: 10) { hits { id score } }` through the service
 *   graphql-search+thumbnail   the same asking for each hit's thumbnail too
 * Prints a table (p50 and mean per call, the median over rounds; each layer's p50 ratio to
 * apollo-alone and each search's rate ratio to store.search, by p50 and by mean, with the
 * per-round ratios), the CPU time this process (the servers, not the client) spent per request
 * with its ratio to apollo-alone's, and one JSON line. On a shared machine the means carry the
 * scheduler's stalls, the p50s less, the CPU per request least.
 */
import http from 'node:http';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { ApolloServer, HeaderMap } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { parseConfig } from '../../../src/config/config';
import { limitsFromConfig } from '../../../src/input/limits';
import { REPO_ROOT, TINY_MODEL_DIR } from '../../../src/paths';
import { createApollo } from '../../../src/server/apollo';
import { Lifecycle } from '../../../src/server/lifecycle';
import { Metrics } from '../../../src/server/metrics';
import { createContext, type RequestContext } from '../../../src/schema/context';
import { buildClipSchema } from '../../../src/schema/build';
import { CollectionStore } from '../../../src/store/store';
import { createDriver } from '../../../src/store/open';
import { createTestDatabase } from '../../../test/helpers/postgres';
import { BPE_VOCAB, SHARED } from '../../../test/helpers/shared';
import { startTestService } from '../../../test/helpers/server';
import { rng } from '../../hostile/bytes';
import { args, log, median, quantile, randomUnit } from '../common';

const EMPTY = JSON.stringify({ query: '{ __typename }' });

interface Timing {
  readonly p50: number;
  readonly mean: number;
  /** CPU time of this process (the servers) per request, µs: steadier than wall time on a busy machine. */
  cpuUs?: number;
}

// ---------------------------------------------------------------- the client (child process)

/** `--client`: reads "url body-base64 count" lines, answers each with the timing of `count` sequential POSTs. */
async function client(): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const post = (url: URL, body: Buffer) =>
    new Promise<void>((resolve, reject) => {
      const req = http.request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': body.length } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => (res.statusCode === 200 && !text.includes('"errors"') ? resolve() : reject(new Error(`HTTP ${res.statusCode}: ${text.slice(0, 300)}`))));
      });
      req.on('error', reject);
      req.end(body);
    });
  for await (const line of readline.createInterface({ input: process.stdin })) {
    const [u, b64, n] = line.split(' ');
    const url = new URL(u);
    const body = Buffer.from(b64, 'base64');
    for (let i = 0; i < 30; i++) await post(url, body); // warm this connection and the server's path
    const ms: number[] = [];
    const t0 = performance.now();
    for (let i = 0; i < Number(n); i++) {
      const t = performance.now();
      await post(url, body);
      ms.push(performance.now() - t);
    }
    const total = performance.now() - t0;
    ms.sort((a, b) => a - b);
    process.stdout.write(`${JSON.stringify({ p50: quantile(ms, 0.5), mean: total / Number(n) })}\n`);
  }
}

/** The child client, driven line by line. */
function startClient() {
  const child = require('node:child_process').spawn(process.execPath, [__filename, '--client'], { stdio: ['pipe', 'pipe', 'inherit'] }) as import('node:child_process').ChildProcessWithoutNullStreams;
  const lines = readline.createInterface({ input: child.stdout });
  const waiting: Array<(l: string) => void> = [];
  lines.on('line', (l) => waiting.shift()?.(l));
  return {
    run(url: string, body: string, n: number): Promise<Timing> {
      return new Promise((resolve) => {
        waiting.push((l) => resolve(JSON.parse(l) as Timing));
        child.stdin.write(`${url}/graphql ${Buffer.from(body).toString('base64')} ${n}\n`);
      });
    },
    stop: () => child.kill(),
  };
}

// ---------------------------------------------------------------- the servers

function listen(handler: http.RequestListener): Promise<{ url: string; server: http.Server }> {
  const server = http.createServer(handler);
  server.keepAliveTimeout = 60_000;
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, server })));
}

function readAll(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** The smallest node:http glue in front of an Apollo Server (what its docs' integrations do). */
function apolloHandler<C extends object>(apollo: ApolloServer<C>, context: () => Promise<C>): http.RequestListener {
  return (req, res) => {
    void (async () => {
      const body = JSON.parse((await readAll(req)).toString('utf8')) as unknown;
      const headers = new HeaderMap();
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers.set(k, v);
      const result = await apollo.executeHTTPGraphQLRequest({ httpGraphQLRequest: { method: req.method!, headers, search: '', body }, context });
      for (const [k, v] of result.headers) res.setHeader(k, v);
      res.statusCode = result.status ?? 200;
      res.end(result.body.kind === 'complete' ? result.body.string : '');
    })();
  };
}

async function main(): Promise<void> {
  if (process.argv.includes('--client')) return client();
  const a = args();
  const rounds = Number(a.rounds ?? 5);
  const requests = Number(a.requests ?? 300);
  const n = Number(a.n ?? 20_000);
  const withSearch = a['no-search'] === undefined;
  const started: Array<() => unknown> = [];
  const out: Record<string, unknown> = { date: new Date().toISOString(), node: process.version, rounds, requests };
  try {
    // The layers of the empty query.
    const bare = await listen((req, res) => {
      void readAll(req).then(() => {
        res.setHeader('content-type', 'application/json; charset=utf-8');
        res.end('{"data":{"__typename":"Query"}}\n');
      });
    });
    started.push(() => bare.server.close());
    const alone = new ApolloServer({ typeDefs: 'type Query { hello: String }', resolvers: { Query: { hello: () => 'world' } }, plugins: [ApolloServerPluginLandingPageDisabled()] });
    await alone.start();
    const aloneHttp = await listen(apolloHandler(alone, async () => ({})));
    started.push(() => aloneHttp.server.close(), () => alone.stop());
    const withSchema = new ApolloServer({ schema: buildClipSchema(), plugins: [ApolloServerPluginLandingPageDisabled()] });
    await withSchema.start();
    const withSchemaHttp = await listen(apolloHandler(withSchema, async () => ({})));
    started.push(() => withSchemaHttp.server.close(), () => withSchema.stop());

    // clipql's whole service on the tiny model; its Apollo options and context on their own too.
    const modelDir = withSearch ? (a['model-dir'] ?? tinyD768()) : TINY_MODEL_DIR;
    let db: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
    if (withSearch) {
      db = await createTestDatabase();
      started.push(() => db?.drop());
    }
    const service = await startTestService(db ? { CLIP_STORE: db.url } : {}, modelDir);
    started.push(() => service.stop());
    const { config } = parseConfig({ LOG_LEVEL: 'silent', CLIP_VOCAB: BPE_VOCAB() });
    const limits = limitsFromConfig(config);
    const metrics = new Metrics(service.models.list(), new Lifecycle());
    const clipApollo = createApollo({ limits, development: false, plugins: [metrics.plugin()] });
    await clipApollo.start();
    const signal = new AbortController().signal;
    const clipApolloHttp = await listen(apolloHandler<RequestContext>(clipApollo, async () => createContext(service.models, limits, signal)));
    started.push(() => clipApolloHttp.server.close(), () => clipApollo.stop());

    const targets: Array<{ name: string; run: () => Promise<Timing> }> = [];
    const c = startClient();
    started.push(() => c.stop());
    const viaClient = (name: string, url: string, body: string) => targets.push({ name, run: () => c.run(url, body, requests) });
    viaClient('bare-http', bare.url, EMPTY);
    viaClient('apollo-alone', aloneHttp.url, EMPTY);
    viaClient('apollo+schema', withSchemaHttp.url, EMPTY);
    viaClient('clipql-apollo', clipApolloHttp.url, EMPTY);
    viaClient('clipql-service', service.url, EMPTY);

    if (withSearch) {
      const store = await service.store.get();
      const model = { name: path.basename(modelDir), dim: 768 };
      await store.createCollection('bench', model);
      const r = rng(1);
      log(`bulk-loading ${n} random unit vectors of D = 768`);
      const items = Array.from({ length: n }, (_, i) => ({ id: `v${i}`, embedding: randomUnit(r, 768), metadata: null, sha256: '0'.repeat(64), width: 1, height: 1, format: 'png', thumbnail: null }));
      const loaded = await store.bulkLoad('bench', model, items, { chunk: 500 });
      log(`loaded; index built in ${loaded.indexSeconds.toFixed(1)} s`);
      const caption = 'It is a photo of a cat';
      const query = await service.pipeline.embedText(caption); // the caption is now cached
      // The store's own search: the same call the resolver makes, on a store of its own (same
      // database, same session settings as the service's).
      const own = await CollectionStore.open(createDriver({ engine: 'postgres', target: db!.url }, 8, store.driver.session), {});
      started.push(() => own.close());
      targets.push({
        name: 'store.search',
        run: async () => {
          for (let i = 0; i < 30; i++) await own.search('bench', model, query, { k: 10, lookahead: true });
          const ms: number[] = [];
          const t0 = performance.now();
          for (let i = 0; i < requests; i++) {
            const t = performance.now();
            await own.search('bench', model, query, { k: 10, lookahead: true });
            ms.push(performance.now() - t);
          }
          const total = performance.now() - t0;
          ms.sort((x, y) => x - y);
          return { p50: quantile(ms, 0.5), mean: total / requests };
        },
      });
      const search = (fields: string) => JSON.stringify({ query: `query($t: String) { search(collection: "bench", text: $t, k: 10) { hits { ${fields} } } }`, variables: { t: caption } });
      viaClient('graphql-search', service.url, search('id score'));
      viaClient('graphql-search+thumbnail', service.url, search('id score thumbnail'));
    }

    if (a.only) {
      const only = new Set(a.only.split(','));
      for (let i = targets.length - 1; i >= 0; i--) if (!only.has(targets[i].name)) targets.splice(i, 1);
    }
    // Interleaved rounds, each in a rotated order.
    const results = new Map<string, Timing[]>(targets.map((t) => [t.name, []]));
    for (let round = 0; round < rounds; round++) {
      for (let k = 0; k < targets.length; k++) {
        const t = targets[(k + round) % targets.length];
        const cpu = process.cpuUsage();
        const timing = await t.run();
        const used = process.cpuUsage(cpu);
        timing.cpuUs = (used.user + used.system) / (requests + 30); // with the 30 warm-up requests
        results.get(t.name)!.push(timing);
      }
      log(`round ${round + 1} of ${rounds}`);
    }
    // Ratios round by round (the layers of one round ran minutes apart at most), then their median.
    const perRound = (name: string, base: string, f: (x: Timing, b: Timing) => number) => (results.has(base) ? results.get(name)!.map((x, i) => +f(x, results.get(base)![i]).toFixed(2)) : undefined);
    const rows = targets.map(({ name }) => {
      const xs = results.get(name)!;
      const row: Record<string, unknown> = { layer: name, p50Ms: +median(xs.map((x) => x.p50)).toFixed(3), meanMs: +median(xs.map((x) => x.mean)).toFixed(3), serverCpuUs: Math.round(median(xs.map((x) => x.cpuUs!))) };
      if (!name.includes('search')) {
        row.p50ToApolloAlone = perRound(name, 'apollo-alone', (x, b) => x.p50 / b.p50);
        row.cpuToApolloAlone = perRound(name, 'apollo-alone', (x, b) => x.cpuUs! / b.cpuUs!);
      }
      else if (name !== 'store.search') {
        row.rateToStoreByP50 = perRound(name, 'store.search', (x, b) => b.p50 / x.p50);
        row.rateToStoreByMean = perRound(name, 'store.search', (x, b) => b.mean / x.mean);
      }
      return row;
    });
    out.layers = rows;
    const show = (xs: unknown) => (Array.isArray(xs) ? `${median(xs as number[]).toFixed(2)} (rounds ${xs.join(' ')})` : '');
    for (const r of rows) {
      const ratio = r.p50ToApolloAlone ? `${show(r.p50ToApolloAlone)} × apollo-alone's p50; server CPU ${show(r.cpuToApolloAlone)} × apollo-alone's` : r.rateToStoreByP50 ? `rate ${show(r.rateToStoreByP50)} × store.search's by p50, ${show(r.rateToStoreByMean)} by mean` : '';
      process.stderr.write(`${String(r.layer).padEnd(26)} p50 ${String(r.p50Ms).padStart(7)} ms  mean ${String(r.meanMs).padStart(7)} ms  server CPU ${String(r.serverCpuUs).padStart(5)} µs  ${ratio}\n`);
    }
  } finally {
    for (const stop of started.reverse()) await stop();
    process.stdout.write(`${JSON.stringify(out)}\n`);
  }
}

/** models/generate.py's tiny-d768 model (tiny towers, 768-wide projection), made in a temporary folder. */
function tinyD768(): string {
  const dir = path.join(mkdtempSync(path.join(os.tmpdir(), 'clipql-bench-d768-')), 'tiny-d768');
  log('making the tiny-d768 model (models/generate.py)');
  execFileSync('/usr/bin/python3', [path.join(REPO_ROOT, 'models', 'generate.py'), 'tiny-d768', '--out', dir, '--shared', SHARED, '--vocab', BPE_VOCAB(), '--no-torch', '--no-ort-check'], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 });
  process.on('exit', () => rmSync(path.dirname(dir), { recursive: true, force: true }));
  return dir;
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
