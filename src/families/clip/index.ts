/**
 * OpenAI's CLIP and its OpenCLIP/LAION descendants: shortest-side resize + centre crop in the
 * image's own mode (OpenAI's torchvision transform), CLIP's BPE tokenizer with 77 tokens
 * zero-padded, softmax of 100 × cosine (the notebook's probabilities).
 */
import { CLIP_IMAGE_DEFAULTS, parsePreprocessorConfig } from '../../preprocess/image/config';
import { ClipTokenizer } from '../../preprocess/text';
import { DEFAULT_CONTEXT_LENGTH } from '../../preprocess/text/tokenizer';
import type { ModelFamily, TokenizerFiles } from '../family';
import { cachedVocab, fileExists, missingTokenizer } from '../files';

/** The notebook's logit scale: CLIP's learned temperature, clamped at 100 in training. */
export const CLIP_LOGIT_SCALE = 100;

export const clipFamily: ModelFamily = {
  name: 'clip',
  modelTypes: ['clip'],
  architectures: ['CLIPModel'],
  towerOutputs: { image: ['image_embeds'], text: ['text_embeds'] },
  imageTransform: (json, file) => parsePreprocessorConfig(json, file, CLIP_IMAGE_DEFAULTS),
  contextLength: () => DEFAULT_CONTEXT_LENGTH,
  async locateTokenizer(dir, options): Promise<TokenizerFiles> {
    const f = (name: string) => `${dir}/${name}`;
    if (await fileExists(f('tokenizer.json'))) return { tokenizerDir: dir, tokenizerJson: f('tokenizer.json') };
    if ((await fileExists(f('vocab.json'))) && (await fileExists(f('merges.txt')))) return { tokenizerDir: dir, vocab: f('vocab.json'), merges: f('merges.txt') };
    if (!options.bpeVocab) {
      throw missingTokenizer(f('vocab.json'), "the bundle needs tokenizer.json or vocab.json + merges.txt (set CLIP_VOCAB to OpenAI's bpe_simple_vocab_16e6.txt.gz to build them)");
    }
    const cached = await cachedVocab(options.bpeVocab, options.cacheDir);
    return { tokenizerDir: cached, vocab: `${cached}/vocab.json`, merges: `${cached}/merges.txt` };
  },
  openTokenizer: (files) => ClipTokenizer.fromBundle(files.tokenizerDir),
  probability: async () => ({ kind: 'softmax', scale: CLIP_LOGIT_SCALE }),
};
