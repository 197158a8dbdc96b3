/**
 * A model bundle is a folder in the Hugging Face / Transformers.js CLIP layout, so that users can
 * point clipql at such a repository as it is:
 *
 *   onnx/vision_model.onnx     pixel_values float32 [batch, 3, S, S] -> image_embeds [batch, D]
 *   onnx/text_model.onnx       input_ids int64 [batch, 77] (+ optional attention_mask) -> text_embeds [batch, D]
 *   torch/model.pt             optional: TorchScript with encode_image / encode_text (torch backend)
 *   model.safetensors          optional: a Hugging Face CLIPModel's weights (or pytorch_model.bin), served
 *                              as they are by the torch backend (with config.json's architecture)
 *   preprocessor_config.json   CLIPImageProcessor settings
 *   config.json                CLIPConfig (projection_dim, vision_config.image_size...)
 *   tokenizer.json | vocab.json + merges.txt
 *
 * `loadBundle` checks what can be checked without running a model: files present, JSON valid,
 * preprocessor and config consistent. The tower signatures (input/output names, D, S) are checked
 * by `checkTowers` once a backend has opened the models. Every failure is a BAD_MODEL error that
 * names the file and what is wrong.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ClipqlError, ErrorCode } from '../errors';
import type { ImageTransformConfig } from '../preprocess/image/config';
import os from 'node:os';
import type { ModelFamily, ProbabilityRule } from '../families/family';
import { familyOf } from '../families/families';
import { fileExists } from '../families/files';

export interface BundleFiles {
  readonly vision: string;
  readonly text: string;
  readonly torch?: string;
  /** A Hugging Face CLIPModel's weights (model.safetensors, else pytorch_model.bin), which the torch backend serves as they are. */
  readonly weights?: string;
  readonly preprocessor: string;
  readonly config: string;
  readonly tokenizerJson?: string;
  readonly vocab?: string;
  readonly merges?: string;
  /** The folder the tokenizer files are read from: the bundle, or the cache folder they were built in. */
  readonly tokenizerDir: string;
}

export interface ModelBundle {
  /** Absolute path of the bundle folder. */
  readonly dir: string;
  /** The folder's name, used as the model's name in the API. */
  readonly name: string;
  readonly files: BundleFiles;
  /** The model family config.json names (families/families.ts): preprocessing, tokenizer, probabilities. */
  readonly family: ModelFamily;
  /** How the family makes probabilities of scores, with this checkpoint's numbers. */
  readonly probability: ProbabilityRule;
  readonly image: ImageTransformConfig;
  /** S: the square input the vision tower takes (crop size). */
  readonly imageSize: number;
  readonly contextLength: number;
  /** D from config.json (projection_dim), when the config states it. */
  readonly embedDim?: number;
  /** True for the generated test models (config.json "clipql.random_weights"): never silent. */
  readonly randomWeights: boolean;
  readonly config: Readonly<Record<string, unknown>>;
}

export interface LoadBundleOptions {
  /**
   * OpenAI's bpe_simple_vocab_16e6.txt.gz: when the bundle lacks tokenizer files, build
   * vocab.json + merges.txt from it (the committed tiny bundles ship without them, because the
   * vocabulary is not ours to commit). They are built in `cacheDir`, never in the bundle: a
   * model folder is often a read-only volume.
   */
  readonly bpeVocab?: string;
  /** Where derived files go (default: $XDG_CACHE_HOME/clipql or ~/.cache/clipql; the system's temporary folder when that cannot be written). */
  readonly cacheDir?: string;
  /** A Python with transformers, to derive tokenizer.json from a SigLIP folder's spiece.model (default: python3). */
  readonly python?: string;
}

/** The default cache folder for derived files (CLIP_CACHE_DIR overrides it): XDG's, else ~/.cache/clipql. */
export function defaultCacheDir(xdgCacheHome?: string): string {
  return path.join(xdgCacheHome || path.join(os.homedir(), '.cache'), 'clipql');
}

function bad(file: string, what: string): ClipqlError {
  return new ClipqlError(ErrorCode.BAD_MODEL, `${file}: ${what}`, { details: { file } });
}


async function readJson(file: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    throw bad(file, `cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw bad(file, `is not valid JSON (${(e as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad(file, 'must hold a JSON object');
  return value as Record<string, unknown>;
}

function positiveInt(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : undefined;
}

export async function loadBundle(dirArg: string, options: LoadBundleOptions = {}): Promise<ModelBundle> {
  const dir = path.resolve(dirArg);
  const stat = await fs.stat(dir).catch(() => undefined);
  if (!stat?.isDirectory()) throw bad(dir, 'model bundle folder does not exist');
  const f = (...p: string[]) => path.join(dir, ...p);

  // The towers are each backend's business (it checks its own files when it is created).
  for (const file of [f('preprocessor_config.json'), f('config.json')]) if (!(await fileExists(file))) throw bad(file, 'missing from the model bundle');

  const config = await readJson(f('config.json'));
  const family = familyOf(config, f('config.json'));
  const tokenizer = await family.locateTokenizer(dir, { bpeVocab: options.bpeVocab, cacheDir: options.cacheDir ?? defaultCacheDir(), python: options.python });
  const image = family.imageTransform(await readJson(f('preprocessor_config.json')), f('preprocessor_config.json'));
  if (image.cropHeight !== image.cropWidth) {
    throw bad(f('preprocessor_config.json'), `the model's input must be square (the vision tower's image_size), got ${image.cropHeight}x${image.cropWidth}`);
  }
  const vision = (config.vision_config ?? {}) as Record<string, unknown>;
  const configSize = positiveInt(vision.image_size);
  if (configSize !== undefined && configSize !== image.cropHeight) {
    throw bad(f('preprocessor_config.json'), `crop size ${image.cropHeight} differs from config.json vision_config.image_size ${configSize}`);
  }
  const clipql = (config.clipql ?? {}) as Record<string, unknown>;
  const weights = (await fileExists(f('model.safetensors'))) ? f('model.safetensors') : (await fileExists(f('pytorch_model.bin'))) ? f('pytorch_model.bin') : undefined;

  return {
    dir,
    name: path.basename(dir),
    files: {
      vision: f('onnx', 'vision_model.onnx'),
      text: f('onnx', 'text_model.onnx'),
      torch: (await fileExists(f('torch', 'model.pt'))) ? f('torch', 'model.pt') : undefined,
      weights,
      preprocessor: f('preprocessor_config.json'),
      config: f('config.json'),
      ...tokenizer,
    },
    family,
    probability: await family.probability(config, { config: f('config.json'), weights, wholeOnnx: (await fileExists(f('onnx', 'model.onnx'))) ? f('onnx', 'model.onnx') : undefined }),
    image,
    imageSize: image.cropHeight,
    contextLength: family.contextLength(config),
    embedDim: positiveInt(config.projection_dim),
    randomWeights: clipql.random_weights === true,
    config,
  };
}

/** What a backend saw when it opened a tower: names, element types and shapes (null = dynamic). */
export interface TowerSignature {
  readonly inputs: ReadonlyArray<{ name: string; type?: string; shape?: ReadonlyArray<number | string | null> }>;
  readonly outputs: ReadonlyArray<{ name: string; type?: string; shape?: ReadonlyArray<number | string | null> }>;
}

/**
 * Checks the opened towers against the bundle: the names the layout promises, S against the
 * preprocessor config, 77 tokens, and the same D for both towers. Returns D (or undefined when
 * both outputs have a dynamic last dimension; the backend then learns D from a warm-up run).
 */
export function checkTowers(bundle: ModelBundle, vision: TowerSignature, text: TowerSignature): number | undefined {
  const vf = bundle.files.vision;
  const tf = bundle.files.text;
  const pv = vision.inputs.find((i) => i.name === 'pixel_values');
  if (!pv) throw bad(vf, `expected an input named "pixel_values", found ${names(vision.inputs)}`);
  if (vision.inputs.length !== 1) throw bad(vf, `expected exactly one input (pixel_values), found ${names(vision.inputs)}`);
  const outputs = bundle.family.towerOutputs;
  const ie = towerOutput(vision, outputs.image);
  if (!ie) throw bad(vf, `expected an output named ${outputs.image.map((n) => JSON.stringify(n)).join(' or ')}, found ${names(vision.outputs)}`);
  if (pv.type && pv.type !== 'float32') throw bad(vf, `pixel_values must be float32, found ${pv.type}`);
  const s = bundle.imageSize;
  if (pv.shape && pv.shape.length !== 4) throw bad(vf, `pixel_values must have 4 dimensions [batch, 3, ${s}, ${s}], found [${pv.shape.join(', ')}]`);
  if (pv.shape) {
    const [, c, h, w] = pv.shape;
    if ((typeof c === 'number' && c !== 3) || (typeof h === 'number' && h !== s) || (typeof w === 'number' && w !== s)) {
      throw bad(vf, `pixel_values is [${pv.shape.join(', ')}] but preprocessor_config.json crops to ${s}x${s}: S differs from the config`);
    }
  }

  const ids = text.inputs.find((i) => i.name === 'input_ids');
  if (!ids) throw bad(tf, `expected an input named "input_ids", found ${names(text.inputs)}`);
  const extra = text.inputs.filter((i) => i.name !== 'input_ids' && i.name !== 'attention_mask');
  if (extra.length) throw bad(tf, `unexpected inputs ${names(extra)}; a CLIP text tower takes input_ids (and optionally attention_mask)`);
  if (ids.type && ids.type !== 'int64' && ids.type !== 'int32') throw bad(tf, `input_ids must be int64 (or int32), found ${ids.type}`);
  const len = ids.shape?.[1];
  if (typeof len === 'number' && len !== bundle.contextLength) throw bad(tf, `input_ids takes ${len} tokens, the model's context is ${bundle.contextLength}`);
  const te = towerOutput(text, outputs.text);
  if (!te) throw bad(tf, `expected an output named ${outputs.text.map((n) => JSON.stringify(n)).join(' or ')}, found ${names(text.outputs)}`);

  const dv = typeof ie.shape?.[1] === 'number' ? (ie.shape[1] as number) : undefined;
  const dt = typeof te.shape?.[1] === 'number' ? (te.shape[1] as number) : undefined;
  if (dv !== undefined && dt !== undefined && dv !== dt) {
    throw bad(tf, `text_embeds has D=${dt} but ${path.basename(vf)} gives image_embeds with D=${dv}: the towers must agree`);
  }
  const d = dv ?? dt;
  if (d !== undefined && bundle.embedDim !== undefined && d !== bundle.embedDim) {
    throw bad(bundle.files.config, `projection_dim ${bundle.embedDim} differs from the towers' D=${d}`);
  }
  return d;
}

/** The first of `accepted` that the tower outputs (a model family's names for its embeddings). */
export function towerOutput<T extends { name: string }>(tower: { readonly outputs: ReadonlyArray<T> }, accepted: readonly string[]): T | undefined {
  for (const name of accepted) {
    const o = tower.outputs.find((x) => x.name === name);
    if (o) return o;
  }
  return undefined;
}

function names(list: ReadonlyArray<{ name: string }>): string {
  return list.length ? list.map((i) => JSON.stringify(i.name)).join(', ') : 'none';
}
