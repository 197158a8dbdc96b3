/**
 * A model family: what differs between CLIP, SigLIP and their kin around the same two towers
 * (transformers' `models/<type>/` folders, open_clip's model configs). A family is data plus a
 * few functions, chosen once from config.json (`families.ts`), never a branch in every stage:
 *
 *   image        preprocessor_config.json → the image transform (its processor's defaults, its
 *                resize rule, its order of operations)
 *   tokenizer    where the tokenizer files are and how captions become ids (padding, special
 *                tokens, normalisation), exactly as the checkpoint's transformers tokenizer
 *   probability  how a caption–image cosine becomes a probability
 *
 * Adding a family is one folder here (`<name>/index.ts` exporting a ModelFamily) plus one line in
 * `families.ts`. This file holds only the contract.
 */
import type { ImageTransformConfig } from '../preprocess/image/config';

/** Captions → ids, for one checkpoint. Every method is synchronous and pure. */
export interface TextTokenizer {
  /**
   * One caption's `contextLength` ids as the text tower takes them: special tokens added,
   * over-long text cut to the context (the caption rules: cut, reported through
   * `untruncatedLength`), padded as the checkpoint pads. BAD_USER_INPUT for a non-string.
   */
  tokenize(text: string, contextLength: number): Int32Array;
  /** Tokens of the caption with its special tokens, before any cut (> contextLength: truncated). */
  untruncatedLength(text: string): number;
  /** The padding id (tokens that are not text: not counted as usage). */
  readonly padId: number;
}

/** Where a bundle's tokenizer files are (the bundle, or a cache folder they were derived into). */
export interface TokenizerFiles {
  readonly tokenizerDir: string;
  readonly tokenizerJson?: string;
  readonly vocab?: string;
  readonly merges?: string;
}

export interface LocateOptions {
  /** OpenAI's bpe_simple_vocab_16e6.txt.gz (CLIP folders without tokenizer files). */
  readonly bpeVocab?: string;
  /** Where derived files go; never the model folder. */
  readonly cacheDir: string;
  /** The interpreter with transformers (deriving a tokenizer.json from spiece.model). */
  readonly python?: string;
}

/**
 * How scores become probabilities:
 * - softmax: CLIP's, softmax(scale × cos) across the captions of an image (or images of a caption);
 * - sigmoid: SigLIP's, sigmoid(scale × cos + bias) for each pair on its own;
 * - unavailable: the model's files do not say its numbers (a Transformers.js SigLIP folder without
 *   onnx/model.onnx): similarities are served, probabilities refused (PROBABILITY_UNAVAILABLE),
 *   never made up. `reason` says what was looked for.
 * `scale` is exp(logit_scale) (CLIP's notebook: 100), `bias` logit_bias, both from the weights
 * where the model bundle records them.
 */
export type ProbabilityRule =
  | { readonly kind: 'softmax'; readonly scale: number }
  | { readonly kind: 'sigmoid'; readonly scale: number; readonly bias: number }
  | { readonly kind: 'unavailable'; readonly reason: string };

/** The files of a bundle a probability rule may be read from. */
export interface ProbabilitySources {
  /** config.json (named in messages). */
  readonly config: string;
  /** model.safetensors / pytorch_model.bin, when the folder has them. */
  readonly weights?: string;
  /** onnx/model.onnx (the whole model, Transformers.js layout), when the folder has it. */
  readonly wholeOnnx?: string;
}

export interface ModelFamily {
  /** The family's name in the API (`models { family }`): 'clip', 'siglip'. */
  readonly name: string;
  /** config.json `model_type` values that are this family's. */
  readonly modelTypes: readonly string[];
  /** config.json `architectures` entries that are this family's (when model_type is absent). */
  readonly architectures: readonly string[];
  /**
   * The names an ONNX tower may give its embeddings under, in order of preference: clipql's and
   * CLIP's image_embeds / text_embeds, and for SigLIP also optimum's (Transformers.js')
   * pooler_output, which for SiglipVisionModel / SiglipTextModel is the pooled, projected output.
   */
  readonly towerOutputs: { readonly image: readonly string[]; readonly text: readonly string[] };
  /** The image transform from a parsed preprocessor_config.json (`file` names it in errors: BAD_MODEL). */
  imageTransform(json: unknown, file: string): ImageTransformConfig;
  /** Tokens per caption the text tower takes. */
  contextLength(config: Readonly<Record<string, unknown>>): number;
  /** Finds (or derives, into the cache) the tokenizer files of the bundle folder `dir`. BAD_MODEL when missing. */
  locateTokenizer(dir: string, options: LocateOptions): Promise<TokenizerFiles>;
  /** Opens the tokenizer the files describe. */
  openTokenizer(files: TokenizerFiles, config: Readonly<Record<string, unknown>>): Promise<TextTokenizer>;
  /**
   * The probability rule: from config.json (clipql's export records logit_scale and logit_bias
   * there), else from the weights (model.safetensors, onnx/model.onnx) when there are some;
   * `unavailable` when nothing says: no probability is made up.
   */
  probability(config: Readonly<Record<string, unknown>>, files: ProbabilitySources): Promise<ProbabilityRule>;
}
