/**
 * SigLIP and SigLIP 2 ("FixRes" checkpoints load as SiglipModel): the image squashed to
 * height × width (image.ts), SentencePiece or Gemma tokenizers padded to 64 (tokenizer.ts), and
 * each caption–image pair's probability on its own: sigmoid(exp(logit_scale) · cos + logit_bias).
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { ClipqlError, ErrorCode } from '../../errors';
import { REPO_ROOT } from '../../paths';
import type { ModelFamily, ProbabilityRule, TokenizerFiles } from '../family';
import { cachedDerivation, fileExists, missingTokenizer } from '../files';
import { readOnnxGraph } from '../onnx-graph';
import { readScalars } from '../safetensors';
import { siglipLogits } from './logits';
import { siglipImageTransform } from './image';
import { SiglipTextTokenizer } from './tokenizer';

const run = promisify(execFile);
const DERIVE = path.join(REPO_ROOT, 'src', 'families', 'siglip', 'derive_tokenizer.py');
/** SiglipTextConfig's default max_position_embeddings: the context SigLIP was trained with. */
export const SIGLIP_CONTEXT_LENGTH = 64;

type Json = Readonly<Record<string, unknown>>;

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/**
 * tokenizer.json derived from spiece.model by transformers (derive_tokenizer.py), once per
 * spiece.model content, into the cache: never into the model folder.
 */
async function deriveTokenizer(dir: string, spiece: string, cacheDir: string, python: string | undefined): Promise<string> {
  return cachedDerivation(spiece, 'spiece', 'tokenizer.json', cacheDir, async (out) => {
    try {
      await run(python ?? 'python3', [DERIVE, dir, out], { timeout: 120_000, maxBuffer: 1 << 20 });
    } catch (e) {
      const err = e as { stderr?: string; code?: string };
      if (err.code === 'EACCES' || err.code === 'EROFS') throw e;
      const last = String(err.stderr ?? (e as Error).message).trim().split('\n').slice(-1)[0];
      throw new ClipqlError(ErrorCode.BAD_MODEL, `${spiece}: deriving tokenizer.json with transformers failed (${last}); set CLIP_TORCH_PYTHON to a Python with transformers, sentencepiece and protobuf`, { details: { file: spiece } });
    }
  });
}

export const siglipFamily: ModelFamily = {
  name: 'siglip',
  modelTypes: ['siglip'],
  architectures: ['SiglipModel'],
  towerOutputs: { image: ['image_embeds', 'pooler_output'], text: ['text_embeds', 'pooler_output'] },
  imageTransform: siglipImageTransform,
  contextLength(config) {
    const text = (config.text_config ?? {}) as Json;
    const n = text.max_position_embeddings;
    return typeof n === 'number' && Number.isInteger(n) && n > 0 ? n : SIGLIP_CONTEXT_LENGTH;
  },
  async locateTokenizer(dir, options): Promise<TokenizerFiles> {
    const json = path.join(dir, 'tokenizer.json');
    if (await fileExists(json)) return { tokenizerDir: dir, tokenizerJson: json };
    const spiece = path.join(dir, 'spiece.model');
    if (!(await fileExists(spiece))) throw missingTokenizer(json, 'a SigLIP bundle needs tokenizer.json or spiece.model');
    const out = await deriveTokenizer(dir, spiece, options.cacheDir, options.python);
    return { tokenizerDir: out, tokenizerJson: path.join(out, 'tokenizer.json') };
  },
  openTokenizer: (files) => SiglipTextTokenizer.open(files),
  async probability(config, files): Promise<ProbabilityRule> {
    // in the weights, not in config.json: clipql's export records them under "clipql"
    const own = (config.clipql ?? {}) as Json;
    const [s, b] = [num(own.logit_scale), num(own.logit_bias)];
    if (s !== undefined && b !== undefined) return { kind: 'sigmoid', scale: Math.exp(s), bias: b };
    if (files.weights?.endsWith('.safetensors')) {
      const w = await readScalars(files.weights, ['logit_scale', 'logit_bias']);
      if (w) return { kind: 'sigmoid', scale: Math.exp(w.logit_scale), bias: w.logit_bias };
    }
    if (files.wholeOnnx) {
      const l = siglipLogits(await readOnnxGraph(files.wholeOnnx));
      if (l) return { kind: 'sigmoid', scale: l.scale, bias: l.bias };
      return { kind: 'unavailable', reason: `${files.wholeOnnx} does not compute sigmoid's logits as SiglipModel does (Add(Mul(cosine, exp(logit_scale)), logit_bias)) and holds no logit_scale / logit_bias initializers` };
    }
    return {
      kind: 'unavailable',
      reason: `no logit_scale and logit_bias for this SigLIP model: none in model.safetensors, no onnx/model.onnx, none recorded as "clipql": {"logit_scale": s, "logit_bias": b} in ${files.config}`,
    };
  },
};
