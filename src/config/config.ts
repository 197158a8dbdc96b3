/**
 * The configuration: the environment parsed once, at start-up, against the table in settings.ts,
 * into one typed, frozen object that the rest of the code receives (nothing else reads
 * process.env: `loadConfig` is the one place that does).
 *
 * Error policy: a bad value (wrong type, out of bounds, unknown enum value, empty) is a
 * BAD_CONFIG error listing every bad variable, one line each, with the value given (secrets
 * hidden) and what is allowed; the server and the CLIs exit with status 2 on it. Configuration
 * errors never reach API clients: everything is checked before the server listens. An unknown
 * CLIP_* variable is a warning naming the nearest known one.
 */
import { ClipqlError, ErrorCode } from '../errors';
import { KindError } from './kinds';
import { SETTINGS, type Setting, type SettingName } from './settings';

type ValueOf<S> = S extends Setting<infer V> ? V : never;

export type Config = { readonly [K in SettingName]: ValueOf<(typeof SETTINGS)[K]> } & {
  /** The environment it was parsed from (frozen), for child processes such as the torch workers. */
  readonly environment: Readonly<Record<string, string | undefined>>;
};

export interface ParsedConfig {
  readonly config: Config;
  /** Unknown CLIP_* variables, each with the nearest known name. */
  readonly warnings: readonly string[];
}

export type Env = Readonly<Record<string, string | undefined>>;

/** Parses `env`; throws BAD_CONFIG naming every bad variable. */
export function parseConfig(env: Env): ParsedConfig {
  const problems: string[] = [];
  const out: Record<string, unknown> = {};
  for (const [name, s] of Object.entries(SETTINGS) as [SettingName, Setting<unknown>][]) {
    const raw = env[name];
    if (raw === undefined) {
      out[name] = s.default;
      continue;
    }
    const shown = s.secret ? '<hidden>' : JSON.stringify(raw);
    if (raw.trim() === '') {
      problems.push(`${name}=${shown}: empty; unset it for the default (${s.defaultDoc ?? JSON.stringify(s.default)}), or give ${s.kind.allowed}`);
      continue;
    }
    try {
      out[name] = s.kind.parse(raw);
    } catch (e) {
      if (!(e instanceof KindError)) throw e;
      problems.push(`${name}=${shown}: ${e.message}`);
    }
  }
  if (problems.length === 0) problems.push(...crossChecks(out as Config));
  if (problems.length > 0) {
    throw new ClipqlError(ErrorCode.BAD_CONFIG, `bad configuration:\n  ${problems.join('\n  ')}`, { details: { problems } });
  }
  out.environment = Object.freeze({ ...env });
  return { config: Object.freeze(out) as Config, warnings: unknownVariables(env) };
}

/** The process's configuration: the one read of process.env. */
export function loadConfig(): ParsedConfig {
  return parseConfig(process.env);
}

/**
 * Makes NODE_ENV's default (production) the process's own when it is unset, for the libraries
 * that read it themselves when they load (graphql-js: see node-env.ts). A set value is kept.
 */
export function defaultNodeEnv(): void {
  process.env.NODE_ENV ??= SETTINGS.NODE_ENV.default;
}

/** Constraints between settings, each message naming the variables involved. */
function crossChecks(c: Config): string[] {
  const out: string[] = [];
  if (c.CLIP_MODEL !== undefined && c.CLIP_MODELS !== undefined) {
    out.push('CLIP_MODEL and CLIP_MODELS are both set: set CLIP_MODEL for one model, or CLIP_MODELS=name=dir[,name=dir...] for several (the first the default), not both');
  }
  const onCpu = c.CLIP_TORCH_DEVICES[0] === 'cpu';
  // bfloat16 runs on the CPU through oneDNN (BENCHMARKS.md: ViT-B/32 about 1.4 x onnxruntime
  // float32 here, cosine to float32 0.9999); float16 has no fast CPU kernels (and no convolution
  // before torch 2), so it is a GPU dtype.
  if (onCpu && c.CLIP_TORCH_DTYPE === 'float16') {
    out.push('CLIP_TORCH_DTYPE=float16 needs a GPU (PyTorch has no fast float16 CPU kernels): use bfloat16 or float32 with CLIP_TORCH_DEVICES=cpu, or name GPUs in CLIP_TORCH_DEVICES');
  }
  const graphs = c.CLIP_TORCH_CUDA_GRAPHS;
  if (onCpu && (graphs === 'on' || graphs.length > 0)) out.push('CLIP_TORCH_CUDA_GRAPHS needs GPUs in CLIP_TORCH_DEVICES (CUDA graphs, hipGraph on ROCm)');
  const max = c.CLIP_TORCH_MAX_BATCH ?? (onCpu ? 32 : 64);
  if (graphs !== 'on' && graphs.some((b) => b > max)) out.push(`CLIP_TORCH_CUDA_GRAPHS=${graphs.join(',')}: batch sizes must be from 1 to CLIP_TORCH_MAX_BATCH (${max})`);
  return out;
}

function unknownVariables(env: Env): string[] {
  const known = Object.keys(SETTINGS);
  return Object.keys(env)
    .filter((k) => /^CLIP(QL)?_/.test(k) && !(k in SETTINGS))
    .sort()
    .map((k) => {
      const near = known.reduce((best, n) => (distance(k, n) < distance(k, best) ? n : best));
      return `unknown setting ${k} (ignored): did you mean ${near}?`;
    });
}

/** Levenshtein distance (small strings). */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length];
}

/** The string settings of one group as an environment-like record (the downloader reads HF_ENDPOINT, HF_TOKEN and the proxies so). */
export function groupEnv(c: Config, group: Setting<unknown>['group']): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [name, s] of Object.entries(SETTINGS) as [SettingName, Setting<unknown>][]) {
    if (s.group === group) out[name] = c[name] === undefined ? undefined : String(c[name]);
  }
  return out;
}

/** README's configuration table, generated from the settings (scripts/config-table.ts writes it). */
export function configTable(): string {
  const rows = (Object.entries(SETTINGS) as [SettingName, Setting<unknown>][]).map(([name, s]) => {
    const def = s.defaultDoc ?? (typeof s.default === 'boolean' ? (s.default ? '1' : '0') : String(s.default));
    return `| \`${name}\` | ${s.group} | ${def.replace(/\|/g, '\\|')} | ${s.kind.allowed.replace(/\|/g, '\\|')} | ${s.doc.replace(/\|/g, '\\|')} |`;
  });
  return ['| variable | group | default | allowed | meaning |', '| --- | --- | --- | --- | --- |', ...rows].join('\n');
}
