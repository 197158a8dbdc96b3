/**
 * Every setting of clipql, in one table: its variable, kind (type and bounds), default and one line
 * of doc. config.ts parses the environment against it once at start-up; README's configuration
 * table is generated from it (scripts/config-table.ts, checked by a test). A setting without a
 * default is `undefined` when unset; `defaultDoc` then says what happens instead.
 */
import { bool, custom, hostList, int, KindError, ms, oneOf, text, type Kind } from './kinds';

export interface Setting<V> {
  readonly kind: Kind<NonNullable<V>>;
  readonly default: V;
  /** How the default reads in the docs, when it is computed or absent. */
  readonly defaultDoc?: string;
  readonly doc: string;
  /** README section the setting is listed under. */
  readonly group: Group;
  /** Never echoed in messages or logs (tokens). */
  readonly secret?: boolean;
}

export type Group = 'server' | 'access' | 'model' | 'inputs' | 'batching' | 'preprocessing' | 'onnx' | 'torch' | 'store' | 'downloads';

function set<T>(group: Group, kind: Kind<T>, def: T, doc: string, defaultDoc?: string): Setting<T> {
  return { group, kind: kind as Kind<NonNullable<T>>, default: def, doc, defaultDoc };
}
function opt<T>(group: Group, kind: Kind<T>, doc: string, defaultDoc: string, secret = false): Setting<T | undefined> {
  return { group, kind: kind as Kind<NonNullable<T | undefined>>, default: undefined, doc, defaultDoc, secret };
}

const MIB = 1024 * 1024;

/** CLIP_TORCH_DEVICES: "cpu", "cpu,cpu", "0,1", "cuda:0"; CPU and GPUs not mixed. */
export const torchDevices = custom<readonly string[]>('cpu, cpu,cpu,... or GPU indices such as 0,1 (also cuda:0; repeats allowed)', (raw) => {
  const devices = raw.split(',').map((part) => {
    const p = part.trim().toLowerCase();
    if (p === 'cpu') return 'cpu';
    const m = /^(?:cuda:)?(\d+)$/.exec(p);
    if (!m) throw new KindError(`bad entry ${JSON.stringify(p)}; expected "cpu", "cpu,cpu" or GPU indices such as "0,1"`);
    return `cuda:${Number(m[1])}`;
  });
  if (devices.includes('cpu') && devices.some((d) => d !== 'cpu')) throw new KindError('mixes the CPU and GPUs: their precision and batch sizes differ; run one or the other');
  return devices;
});

/** CLIP_TORCH_CUDA_GRAPHS: off, on, or batch sizes; "on" is expanded against the max batch in torch/settings.ts. */
export const graphSizes = custom<readonly number[] | 'on'>('off, on, or batch sizes such as 8,16,32,64', (raw) => {
  const t = raw.trim().toLowerCase();
  if (t === 'off' || t === '0') return [];
  if (t === 'on' || t === '1') return 'on';
  const sizes = t.split(',').map((p) => Number(p.trim()));
  if (sizes.some((n) => !Number.isInteger(n) || n < 1)) throw new KindError('expected off, on, or positive batch sizes such as 8,16,32,64');
  return [...new Set(sizes)].sort((a, b) => a - b);
});

/** A cosine threshold: a number above 0 and at most 1. */
export const cosineThreshold = custom<number>('a number above 0 and at most 1', (raw) => {
  const t = raw.trim();
  const n = Number(t);
  if (!/^[0-9.eE+-]+$/.test(t) || !(n > 0 && n <= 1)) throw new KindError('expected a number above 0 and at most 1, such as 0.95');
  return n;
});

/** One entry of CLIP_MODELS: the name requests use (GraphQL's and /v1's `model`) and its bundle folder. */
export interface ModelSpec {
  readonly name: string;
  readonly dir: string;
}

const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$/;

/** CLIP_MODELS: "name=dir[,name=dir...]", names unique; the first is the default. */
export const modelList = custom<readonly ModelSpec[]>('name=dir[,name=dir...] (names: letters, digits and ._:/-, at most 64; unique)', (raw) => {
  const seen = new Set<string>();
  return raw.split(',').map((part) => {
    const eq = part.indexOf('=');
    const name = eq < 0 ? '' : part.slice(0, eq).trim();
    const dir = eq < 0 ? '' : part.slice(eq + 1).trim();
    if (eq < 0 || dir === '') throw new KindError(`bad entry ${JSON.stringify(part.trim())}; expected name=dir, such as large=models/ViT-L-14-336`);
    if (!MODEL_NAME.test(name)) throw new KindError(`bad model name ${JSON.stringify(name)}; use letters, digits and ._:/- (at most 64, starting with a letter or digit)`);
    if (seen.has(name)) throw new KindError(`the model name ${name} is given twice`);
    seen.add(name);
    return { name, dir };
  });
});

export const SETTINGS = {
  // ---- server
  PORT: set('server', int(0, 65535), 4000, 'where to listen (0: any free port)'),
  HOST: set('server', text, '0.0.0.0', 'the address to listen on'),
  LOG_LEVEL: set('server', oneOf('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'), 'info', 'pino log level (JSON logs on stdout)'),
  NODE_ENV: set('server', oneOf('production', 'development', 'test'), 'production', 'development shows unknown errors\' messages and stack traces'),
  CLIP_HTTP_HEADERS_TIMEOUT_MS: set('server', ms(), 10_000, 'a client must send its headers within this (slowloris), else 408'),
  CLIP_HTTP_RECEIVE_TIMEOUT_MS: set('server', ms(), 60_000, 'a client must send its whole request within this, else 408'),
  CLIP_SHUTDOWN_TIMEOUT_MS: set('server', ms(0), 30_000, 'how long SIGTERM waits for in-flight requests before closing them'),
  // ---- access (README: Serving in production)
  CLIP_TRUSTED_DOCUMENTS: opt('access', text, 'path of a trusted-documents manifest (client/gql/persisted-documents.json): /graphql runs only its operations', 'off'),
  CLIP_API_KEYS_FILE: opt('access', text, 'path of a keys file (name:sha256-hex[:requests=N,images=N,actions=...,collections=...,expires=...] a line: docs/production.md): /graphql and /v1 need Authorization: Bearer <key>; reloaded on SIGHUP and when it changes', 'off'),
  CLIP_RATE_REQUESTS_PER_MINUTE: set('access', int(0), 0, "with API keys: requests per minute per key, a token bucket holding one minute's worth (0: unlimited); a key's requests=N overrides it"),
  CLIP_RATE_IMAGES_PER_MINUTE: set('access', int(0), 0, "with API keys: images per minute per key, on GraphQL and /v1 alike (0: unlimited); a key's images=N overrides it"),
  CLIP_PAGE_KEY_FILE: opt('access', text, 'with API keys: a file holding the key the web page at / sends (public: give it actions=read); the page hides the forms its key may not use', 'the page sends no key'),
  CLIP_METRICS_REQUIRE_KEY: set('access', bool, true, 'with API keys: GET /metrics needs a key with the metrics or admin action (false: /metrics stays open, for a scraper on a private network)'),
  // ---- model
  CLIP_MODEL: opt('model', text, 'model bundle folder (README: Model bundles)', "the manifest's default model, else the tiny test model"),
  CLIP_MODELS: opt('model', modelList, 'several models in one server: name=dir[,name=dir...], the first the default; requests choose with `model` (README: Several models). Not with CLIP_MODEL', 'one model (CLIP_MODEL)'),
  CLIP_AUTO_FETCH: set('model', bool, true, "without CLIP_MODEL, fetch the manifest's default model when it is missing"),
  CLIP_BACKEND: set('model', oneOf('onnx', 'torch'), 'onnx', 'default backend'),
  CLIP_VOCAB: opt('model', text, "OpenAI's bpe_simple_vocab_16e6.txt.gz, to build vocab.json/merges.txt for bundles that lack them (the tiny one)", '../shared/clip/bpe_simple_vocab_16e6.txt.gz'),
  CLIPQL_SHARED: opt('model', text, 'the workplace\'s shared folder (vocabulary, notebook images), for tests and the default CLIP_VOCAB', '../shared'),
  CLIP_CACHE_DIR: opt('model', text, 'where derived files go (vocab.json/merges.txt built from CLIP_VOCAB); never the model folder', '$XDG_CACHE_HOME/clipql or ~/.cache/clipql'),
  XDG_CACHE_HOME: opt('model', text, 'the user\'s cache folder (XDG), under which CLIP_CACHE_DIR defaults', '~/.cache'),
  // ---- inputs
  CLIP_MAX_IMAGES: set('inputs', int(1), 64, 'images per request (TOO_MANY_INPUTS)'),
  CLIP_MAX_CAPTIONS: set('inputs', int(1), 256, 'captions (or labels) per request (TOO_MANY_INPUTS)'),
  CLIP_MAX_CAPTION_CHARS: set('inputs', int(1), 2000, 'characters per caption'),
  CLIP_MAX_IMAGE_BYTES: set('inputs', int(1), 20 * MIB, 'bytes per encoded image (IMAGE_TOO_LARGE)', '20 MiB'),
  CLIP_MAX_PIXELS: set('inputs', int(1), 40_000_000, 'declared width × height, checked before decoding (decompression bombs)'),
  CLIP_MAX_BODY_BYTES: set('inputs', int(1), 64 * MIB, 'bytes per HTTP request body (413)', '64 MiB'),
  CLIP_MAX_QUERY_DEPTH: set('inputs', int(1), 8, 'GraphQL operation depth, fragments expanded'),
  CLIP_MAX_FIELDS: set('inputs', int(1), 200, 'GraphQL fields per operation, aliases and fragments expanded'),
  CLIP_FETCH_TIMEOUT_MS: set('inputs', ms(), 10_000, 'whole-transfer time of a URL input'),
  CLIP_FETCH_MAX_REDIRECTS: set('inputs', int(0, 20), 3, 'redirects a URL input may follow'),
  CLIP_ALLOW_PRIVATE_URLS: set('inputs', bool, false, 'let URL inputs reach private, loopback and link-local addresses (trusted deployments)'),
  CLIP_FETCH_ALLOW_HOSTS: set('inputs', hostList, [] as readonly string[], 'host[:port] entries trusted even on private addresses (an internal image store)', 'none'),
  CLIP_REQUEST_TIMEOUT_MS: set('inputs', ms(), 60_000, "a request's deadline for model work (TIMEOUT)"),
  // ---- batching
  CLIP_BATCH_DELAY_MS: set('batching', ms(0), 2, 'longest wait for a fuller batch'),
  CLIP_QUEUE_MAX: set('batching', int(1), 1024, 'items waiting per batch queue; beyond it OVERLOADED (HTTP 429)'),
  CLIP_CACHE_SIZE: set('batching', int(0), 10_000, 'cached embeddings per tower (0: off)'),
  // ---- preprocessing
  CLIP_PREPROCESS: set('preprocessing', oneOf('exact', 'fast'), 'exact', "queries (GraphQL, /v1): exact: PIL-identical pixels; fast: sharp's resize, not identical"),
  CLIP_COLLECTION_PREPROCESS: set('preprocessing', oneOf('shrink', 'exact'), 'shrink', 'stored items (addImages, clipql index), EXIF orientation applied: shrink: large photos decoded at a reduced scale, then the exact resize (embedding cosine to exact ≥ 0.9995, BENCHMARKS.md); exact: PIL-identical resize of the upright image'),
  CLIP_PREPROCESS_THREADS: opt('preprocessing', int(0, 256), 'image preprocessing threads (0: on the main thread)', 'the cores inference leaves, less one, at least 1'),
  CLIP_PREPROCESS_QUEUE_MAX: set('preprocessing', int(0), 256, 'images waiting for a preprocessing thread; beyond it OVERLOADED (HTTP 429)'),
  // ---- onnx
  CLIP_ONNX_EP: set('onnx', oneOf('cpu', 'webgpu', 'cuda'), 'cpu', 'onnxruntime execution provider; one that cannot start is an error, never a silent CPU fall back'),
  CLIP_ONNX_INSTANCES: opt('onnx', int(1, 64), 'onnxruntime sessions per tower, each on a thread of its own, running batches side by side: more images/s under load, a lone batch on fewer threads (BENCHMARKS.md)', '1; clipql index: 2 on a CPU with 2 or more cores'),
  CLIP_ONNX_THREADS: opt('onnx', int(1, 1024), 'onnxruntime intra-op threads of each instance', 'the cores / the instances'),
  CLIP_ONNX_MAX_BATCH: set('onnx', int(1), 16, 'largest image batch (text: 4 ×)'),
  CLIP_ONNX_BATCH_BYTES: set('onnx', int(1), 32 * MIB, "CPU only: a batch is also capped so that its largest layer activation fits in this (batch-size.ts)", '32 MiB'),
  CLIP_ONNX_SPIN: set('onnx', bool, false, 'let idle onnxruntime threads spin (off: they sleep and leave the cores to preprocessing)'),
  CLIP_ONNX_NICE: set('onnx', int(0, 19), 10, 'niceness of the inference threads (Linux); 0 keeps the process\'s'),
  CLIP_ONNX_DTYPE: set('onnx', oneOf('float32', 'int8'), 'float32', "int8 serves the bundle's onnx/*_int8.onnx towers (scripts/bench/backends/quantize.py)"),
  // ---- torch
  CLIP_TORCH_DEVICES: set('torch', torchDevices, ['cpu'] as readonly string[], 'one worker process per entry: cpu, cpu,cpu, or GPU indices 0,1 (an MI250 is two GPUs); repeats: several workers on one GPU', 'cpu'),
  CLIP_TORCH_THREADS: opt('torch', int(1, 1024), "torch's intra-op threads per worker", 'on the CPU the cores divided among the workers; on a GPU 2'),
  CLIP_TORCH_IN_FLIGHT: set('torch', int(1, 64), 2, 'batches in flight per worker (2: one computing, one arriving)'),
  CLIP_TORCH_DTYPE: opt('torch', oneOf('float32', 'float16', 'bfloat16'), 'precision: on the CPU float32 or bfloat16 (oneDNN: about 1.5 × float32 there, cosine to float32 0.9999; BENCHMARKS.md), float16 on GPUs only', 'float16 on GPUs, float32 on the CPU'),
  CLIP_TORCH_MAX_BATCH: opt('torch', int(1, 4096), 'largest image batch per worker call (text 4 ×); larger calls are split across workers', '64 on GPUs, 32 on the CPU'),
  CLIP_TORCH_IMPL: set('torch', oneOf('eager', 'torchscript'), 'eager', "eager: CLIP in eager PyTorch from the file's weights (SDPA); torchscript: the file's own graphs"),
  CLIP_TORCH_ATTENTION: set('torch', oneOf('auto', 'sdpa', 'math'), 'auto', 'eager model: fused SDPA where torch has it (2.0+), or the plain formula'),
  CLIP_TORCH_CUDA_GRAPHS: set('torch', graphSizes, [] as readonly number[] | 'on', 'image batch sizes captured as CUDA graphs (hipGraph on ROCm): off, on (powers of two), or a list; GPUs only', 'off'),
  CLIP_TORCH_NICE: opt('torch', int(0, 19), 'niceness of the torch worker processes (Linux), as CLIP_ONNX_NICE for the onnx backend: on the CPU the server\'s decoding and resizing then keep the model fed', '10 when the workers run on the CPU, 0 on GPUs'),
  CLIP_TORCH_COMPILE: set('torch', bool, false, 'torch.compile the eager towers (torch 2)'),
  CLIP_TORCH_PYTHON: opt('torch', text, 'the interpreter that has torch', "the project's .venv/bin/python (scripts/install-python.sh) if present, else /usr/bin/python3 if present, else python3"),
  CLIP_TORCH_MODEL: opt('torch', text, "weights to serve instead of the bundle's: TorchScript, a state_dict, model.safetensors or pytorch_model.bin", '<bundle>/torch/model.pt, else <bundle>/model.safetensors, else <bundle>/pytorch_model.bin'),
  CLIP_TORCH_FORK_SERVER: set('torch', bool, true, "start the workers by forking a process that imported torch once (fork_server.py): a worker's start or restart skips Python's and torch's (seconds of CPU), and the workers share torch's memory; 0 starts each as its own python"),
  CLIP_TORCH_WORKER: opt('torch', text, 'path of worker.py', 'src/backends/torch/worker.py'),
  CLIP_TORCH_START_TIMEOUT_MS: set('torch', ms(), 120_000, 'time a worker has to load and warm up (graph capture included)'),
  CLIP_TORCH_CALL_TIMEOUT_MS: set('torch', ms(), 60_000, 'per-call deadline; past it TIMEOUT, and the worker is killed and restarted'),
  // ---- store (README: Collections and search)
  CLIP_STORE: opt('store', text, 'the collection store: a folder (or file:PATH) for the embedded PGlite store, or postgres://... for a PostgreSQL server with pgvector (replicas share it)', './data/store (embedded, opened on first use)'),
  CLIP_STORE_POOL: set('store', int(1, 1000), 8, 'connections to the PostgreSQL server per process'),
  CLIP_STORE_EF_SEARCH: set('store', int(1, 1000), 40, "HNSW ef_search of a search (pgvector's default 40; higher: better recall, slower)"),
  CLIP_DUPLICATE_THRESHOLD: set('store', cosineThreshold, 0.95, "default cosine at or above which `duplicates` groups two items; it depends on the model (docs/collections.md#near-duplicates: measured with the committed random-weights model; measure yours with scripts/bench/collections/duplicate-threshold.ts)"),
  // ---- downloads (npm run models, and CLIP_AUTO_FETCH)
  HF_ENDPOINT: opt('downloads', text, 'a Hugging Face hub mirror', 'https://huggingface.co'),
  HF_TOKEN: opt('downloads', text, 'token for private or gated repositories (sent to the hub only)', 'none', true),
  HUGGING_FACE_HUB_TOKEN: opt('downloads', text, 'older name of HF_TOKEN', 'none', true),
  HTTPS_PROXY: opt('downloads', text, 'proxy for https downloads (https_proxy also read)', 'none'),
  https_proxy: opt('downloads', text, 'lower-case form of HTTPS_PROXY (curl reads both)', 'none'),
  HTTP_PROXY: opt('downloads', text, 'proxy for http downloads (http_proxy also read)', 'none'),
  http_proxy: opt('downloads', text, 'lower-case form of HTTP_PROXY', 'none'),
  NO_PROXY: opt('downloads', text, 'hosts that bypass the proxy (no_proxy also read)', 'none'),
  no_proxy: opt('downloads', text, 'lower-case form of NO_PROXY', 'none'),
} as const;

export type SettingName = keyof typeof SETTINGS;
