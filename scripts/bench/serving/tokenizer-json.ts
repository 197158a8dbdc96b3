/**
 * Transformers.js 4 reads a tokenizer only from tokenizer.json (the `tokenizers` format); clipql's
 * bundles carry vocab.json and merges.txt. This writes the tokenizer.json of Hugging Face's CLIP
 * fast tokenizer (as in openai/clip-vit-*: NFC, whitespace collapse, lower case, CLIP's split
 * regex, byte level, BPE with </w>, start and end tokens) into a benchmark bundle, from those two
 * files. The peer server checks its ids against clipql's tokenizer before any measurement.
 */
import fs from 'node:fs';
import path from 'node:path';
import { loadBundle } from '../../../src/bundle/bundle';
import { defaultBpeVocab } from '../../../src/paths';

export async function writeTokenizerJson(dir: string): Promise<void> {
  const file = path.join(dir, 'tokenizer.json');
  if (fs.existsSync(file)) return;
  // Builds vocab.json and merges.txt in the cache folder (files.tokenizerDir) when the bundle lacks them.
  const { files } = await loadBundle(dir, { bpeVocab: defaultBpeVocab(process.env), cacheDir: process.env.CLIP_CACHE_DIR || undefined });
  const vocab = JSON.parse(fs.readFileSync(files.vocab!, 'utf8')) as Record<string, number>;
  const merges = fs
    .readFileSync(files.merges!, 'utf8')
    .split('\n')
    .filter((l) => l && !l.startsWith('#version'));
  const special = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: true, special: true });
  const json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special(49406, '<|startoftext|>'), special(49407, '<|endoftext|>')],
    normalizer: {
      type: 'Sequence',
      normalizers: [{ type: 'NFC' }, { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' }, { type: 'Lowercase' }],
    },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        {
          type: 'Split',
          pattern: { Regex: "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+" },
          behavior: 'Removed',
          invert: true,
        },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: { type: 'RobertaProcessing', sep: ['<|endoftext|>', 49407], cls: ['<|startoftext|>', 49406], trim_offsets: false, add_prefix_space: false },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: '<|endoftext|>',
      continuing_subword_prefix: '',
      end_of_word_suffix: '</w>',
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges,
    },
  };
  fs.writeFileSync(file, JSON.stringify(json));
}
