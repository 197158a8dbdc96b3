/**
 * Faster inner loops for the two tokenizer models of @huggingface/tokenizers that the SigLIP
 * family uses, giving the same pieces as the library's own (the transformers exactness tests in
 * test/families run through them). The library (0.2.0, pinned in package.json) stays in charge of
 * everything around them: added tokens, normalisers, pre-tokenizers, byte fallback, unknown
 * tokens, post-processing. Profiled (node --cpu-prof, scripts/bench/preprocess/tokenizers.ts):
 *
 *   BPE.bpe(word)          a JSON.stringify([a, b]) and a Map lookup per candidate pair, objects
 *                          copied per merge, a comparator closure per heap step. Here: symbols as
 *                          integers (a pair's rank from one Map of numbers), the word in typed
 *                          arrays, a heap of rank·2^32 + position numbers.
 *   Unigram.tokenize(s)    a generator over a Map-per-node character trie building a prefix string
 *                          per step, a lattice of node objects cloned in the Viterbi pass. Here: a
 *                          trie of code points in one Map, the lattice in arrays, each node's best
 *                          predecessor found as it is added (the Viterbi pass in the same loop).
 *
 * Same answers, by construction: BPE merges the pair of lowest rank, the leftmost of equal ranks
 * (the library's rank + position/length), ranks from the merges list with later duplicates winning
 * (its Map); Unigram gives each lattice node the first predecessor (in the library's order: by
 * start position) whose path score plus the node's is strictly best, the same float sums as the
 * library's, and unknown characters as single-character pieces scored min_score - 10.
 *
 * `accelerate` replaces the methods on one model instance; a model that does not look like the one
 * these were written for (another library version) is left as it is.
 */

import { MinHeap } from '../../preprocess/text/min-heap';

/** The code points of a word (the library's Array.from). */
const codePoints = (s: string): string[] => Array.from(s);

interface BpeModel {
  bpe(token: string): string[];
  merges: [string, string][];
  end_of_word_suffix?: string | null;
  continuing_subword_suffix?: string | null;
}

interface UnigramModel {
  tokenize(normalized: string): string[];
  vocab: string[];
  scores: number[];
  tokens_to_ids: Map<string, number>;
  unk_token_id: number;
  unk_score: number;
}

/** Heap entries are rank · 2^32 + position: exact in a double while ranks stay under 2^20 (Gemma's: 256k). */
const POS_BITS = 2 ** 32;
const MAX_MERGES = 2 ** 20;

/** Symbol ids fit in 21 bits, so a pair's key, left · 2^21 + right, is an exact double. */
const SYMBOL_BITS = 2 ** 21;

/**
 * The library's BPE.bpe without its cache: the same pieces for the same word. Every string the
 * merges name (both sides and their concatenation) gets a symbol id, so merging is integer work: a
 * pair's rank from one Map of numbers, the merged symbol from an array by rank; strings are made
 * only for the answer. A character no merge names can never merge and keeps its text.
 */
export function fastBpe(merges: readonly (readonly [string, string])[]): (word: string) => string[] {
  if (merges.length >= MAX_MERGES) throw new RangeError(`${merges.length} merges: more than fastBpe's ${MAX_MERGES}`);
  const ids = new Map<string, number>();
  const names: string[] = [];
  const intern = (t: string): number => {
    let id = ids.get(t);
    if (id === undefined) {
      id = names.length;
      ids.set(t, id);
      names.push(t);
    }
    return id;
  };
  const rankOf = new Map<number, number>();
  const merged = new Int32Array(merges.length);
  merges.forEach(([a, b], i) => {
    // later duplicates win, as in the library's Map of ranks
    rankOf.set(intern(a) * SYMBOL_BITS + intern(b), i);
    merged[i] = intern(a + b);
  });
  if (names.length >= SYMBOL_BITS) throw new RangeError(`${names.length} symbols: more than fastBpe's ${SYMBOL_BITS}`);
  const rank = (a: number, b: number): number | undefined => (a < 0 || b < 0 ? undefined : rankOf.get(a * SYMBOL_BITS + b));
  return (token: string): string[] => {
    if (token.length === 0) return [];
    const chars = codePoints(token);
    const n = chars.length;
    if (n === 1) return chars;
    const sym = new Int32Array(n);
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    const alive = new Uint8Array(n).fill(1);
    const heap = new MinHeap(n);
    for (let i = 0; i < n; i++) sym[i] = ids.get(chars[i]) ?? -1;
    for (let i = 0; i < n; i++) {
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
      if (i + 1 < n) {
        const r = rank(sym[i], sym[i + 1]);
        if (r !== undefined) heap.push(r * POS_BITS + i);
      }
    }
    while (heap.size) {
      const v = heap.pop();
      const pos = v % POS_BITS;
      const r = (v - pos) / POS_BITS;
      const nx = next[pos];
      // stale: the symbol was merged into its left neighbour, or its pair changed since
      if (!alive[pos] || nx < 0 || rank(sym[pos], sym[nx]) !== r) continue;
      sym[pos] = merged[r];
      alive[nx] = 0;
      next[pos] = next[nx];
      if (next[nx] >= 0) prev[next[nx]] = pos;
      const p = prev[pos];
      if (p >= 0) {
        const rp = rank(sym[p], sym[pos]);
        if (rp !== undefined) heap.push(rp * POS_BITS + p);
      }
      if (next[pos] >= 0) {
        const rn = rank(sym[pos], sym[next[pos]]);
        if (rn !== undefined) heap.push(rn * POS_BITS + pos);
      }
    }
    const out: string[] = [];
    for (let i = 0; i >= 0; i = next[i]) out.push(sym[i] >= 0 ? names[sym[i]] : chars[i]);
    return out;
  };
}

/** The library's Unigram.tokenize: the best segmentation's pieces. */
export function fastUnigram(m: Pick<UnigramModel, 'vocab' | 'scores' | 'tokens_to_ids' | 'unk_score'>): (normalized: string) => string[] {
  // the trie: node 0 is the root; child of (node, code point) in one Map; a node's piece id or -1
  const children = new Map<number, number>();
  const pieceOf: number[] = [-1];
  const key = (node: number, cp: number) => node * 0x110000 + cp;
  for (const piece of m.vocab) {
    let node = 0;
    for (const ch of piece) {
      const k = key(node, ch.codePointAt(0)!);
      let c = children.get(k);
      if (c === undefined) {
        c = pieceOf.length;
        pieceOf.push(-1);
        children.set(k, c);
      }
      node = c;
    }
    // the library's trie marks the node; the id comes from tokens_to_ids (the last of duplicates)
    pieceOf[node] = m.tokens_to_ids.get(piece)!;
  }
  const ids = Int32Array.from(pieceOf);
  return (normalized: string): string[] => {
    const chars = codePoints(normalized);
    const len = chars.length;
    // lattice nodes (0 = bos, ending at 0): start, length, piece id (-1: unknown), path score, predecessor
    const start = [0];
    const size = [0];
    const piece = [-1];
    const bt = [0];
    const from = [-1];
    // the nodes ending at each position, in insertion order (by start): heads, tails and links
    const head = new Int32Array(len + 1).fill(-1);
    const tail = new Int32Array(len + 1).fill(-1);
    const link = [-1];
    head[0] = tail[0] = 0;
    /** The library's Viterbi step for one node starting at `begin`: the first predecessor whose path plus `score` is strictly best. */
    const add = (begin: number, n: number, id: number, score: number) => {
      let bestScore = 0;
      let bestNode = -1;
      for (let l = head[begin]; l >= 0; l = link[l]) {
        const s = bt[l] + score;
        if (bestNode < 0 || s > bestScore) {
          bestScore = s;
          bestNode = l;
        }
      }
      const node = start.length;
      start.push(begin);
      size.push(n);
      piece.push(id);
      bt.push(bestScore);
      from.push(bestNode);
      link.push(-1);
      const end = begin + n;
      if (tail[end] >= 0) link[tail[end]] = node;
      else head[end] = node;
      tail[end] = node;
    };
    for (let begin = 0; begin < len; begin++) {
      let node = 0;
      let single = false;
      for (let i = begin; i < len; i++) {
        const c = children.get(key(node, chars[i].codePointAt(0)!));
        if (c === undefined) break;
        node = c;
        const id = ids[node];
        if (id >= 0) {
          add(begin, i + 1 - begin, id, m.scores[id]);
          if (i === begin) single = true;
        }
      }
      if (!single) add(begin, 1, -1, m.unk_score);
    }
    // eos (score 0) at len: its predecessor, then back to bos
    let last = -1;
    for (let l = head[len], b = 0; l >= 0; l = link[l]) {
      if (last < 0 || bt[l] > b) {
        b = bt[l];
        last = l;
      }
    }
    const out: string[] = [];
    for (let x = last; x > 0; x = from[x]) out.push(piece[x] >= 0 ? m.vocab[piece[x]] : chars[start[x]]);
    return out.reverse();
  };
}

/** Installs the faster loops on a Tokenizer's model when it is one of the two kinds; says which. */
export function accelerate(tokenizer: unknown): 'bpe' | 'unigram' | 'none' {
  const model = (tokenizer as { model?: Record<string, unknown> }).model;
  if (!model) return 'none';
  const cls = (model.constructor as { name?: string } | undefined)?.name;
  if (cls === 'BPE' && typeof model.bpe === 'function' && Array.isArray(model.merges) && model.merges.length < MAX_MERGES && !model.end_of_word_suffix && !model.continuing_subword_suffix) {
    const bpe = model as unknown as BpeModel;
    bpe.bpe = fastBpe(bpe.merges);
    // only the replaced bpe read these: a 256k vocabulary's JSON-string ranks are ~40 MB
    delete model.bpe_ranks;
    (model.cache as { clear?: () => void } | undefined)?.clear?.();
    return 'bpe';
  }
  if (cls === 'Unigram' && typeof model.tokenize === 'function' && Array.isArray(model.vocab) && Array.isArray(model.scores) && model.tokens_to_ids instanceof Map && typeof model.unk_score === 'number') {
    const uni = model as unknown as UnigramModel;
    uni.tokenize = fastUnigram(uni);
    return 'unigram';
  }
  return 'none';
}
