/** CLIP's text preprocessing: OpenAI's BPE tokenizer and its vocabulary files. */
export { ClipTokenizer, DEFAULT_CONTEXT_LENGTH, type ClipTokenizerOptions } from './tokenizer';
export { basicClean, whitespaceClean } from './clean';
export { fixText } from './ftfy';
export { htmlUnescape } from './html';
export {
  buildVocabFiles,
  bytesToUnicode,
  loadBundleVocab,
  loadTokenizerJson,
  loadVocabFiles,
  END_OF_TEXT,
  START_OF_TEXT,
  type BpeVocab,
} from './vocab';
