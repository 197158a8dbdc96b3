/**
 * Byte-pair merging on vocabulary ids, with exactly the result of simple_tokenizer.py's `bpe`:
 * repeatedly take the adjacent pair of lowest merge rank and merge all its occurrences left to
 * right, until no adjacent pair has a rank.
 *
 * Short words run that loop as written (quadratic, fastest for the usual < 20 symbols). Long words
 * (a hostile 10k-letter caption is one "word") use a heap of (rank, position) over a linked list,
 * O(n log n). The two agree whenever every merge that uses a token comes after every merge that
 * creates it (then the heap pops ranks in the same rounds, left to right within a round, as the
 * loop does); the constructor checks that property (OpenAI's merges have it) and otherwise keeps
 * to the loop.
 */
import { MinHeap } from './min-heap';

/** Words with more symbols than this use the heap (when the merges allow it). */
const HEAP_MIN_SYMBOLS = 48;
const EMPTY = -1;
const POS_BITS = 2 ** 26; // positions below this pack with the rank into one float64 heap key

export class BpeMerges {
  /** Whether the heap algorithm is exact for these merges (see the file comment). */
  readonly ordered: boolean;
  private readonly mask: number;
  private readonly keyA: Int32Array;
  private readonly keyB: Int32Array;
  private readonly slotRank: Int32Array;
  private readonly left: Int32Array;
  private readonly right: Int32Array;
  private readonly merged: Int32Array;

  /**
   * @param merges rank r -> [left id, right id, merged id]. A pair listed twice keeps its last
   *   rank, as Python's dict(zip(merges, range(len(merges)))) does.
   */
  constructor(merges: ReadonlyArray<readonly [number, number, number]>) {
    let cap = 16;
    while (cap < merges.length * 2) cap *= 2;
    this.mask = cap - 1;
    this.keyA = new Int32Array(cap).fill(EMPTY);
    this.keyB = new Int32Array(cap);
    this.slotRank = new Int32Array(cap);
    this.left = new Int32Array(merges.length);
    this.right = new Int32Array(merges.length);
    this.merged = new Int32Array(merges.length);
    merges.forEach(([a, b, m], rank) => {
      this.left[rank] = a;
      this.right[rank] = b;
      this.merged[rank] = m;
      this.insert(a, b, rank);
    });
    this.ordered = BpeMerges.checkOrdered(merges, (a, b) => this.rank(a, b));
  }

  private static checkOrdered(merges: ReadonlyArray<readonly [number, number, number]>, rank: (a: number, b: number) => number): boolean {
    const lastCreated = new Map<number, number>();
    merges.forEach(([a, b, m], r) => {
      if (rank(a, b) === r) lastCreated.set(m, Math.max(r, lastCreated.get(m) ?? -1));
    });
    return merges.every(([a, b], r) => rank(a, b) !== r || ((lastCreated.get(a) ?? -1) < r && (lastCreated.get(b) ?? -1) < r));
  }

  private static hash(a: number, b: number): number {
    return Math.imul(a, 0x9e3779b1) ^ Math.imul(b + 0x632be5ab, 0x85ebca77);
  }

  /** Open addressing with linear probing; ids are >= 0, so EMPTY marks a free slot. */
  private insert(a: number, b: number, rank: number): void {
    let i = BpeMerges.hash(a, b) & this.mask;
    while (this.keyA[i] !== EMPTY && (this.keyA[i] !== a || this.keyB[i] !== b)) i = (i + 1) & this.mask;
    this.keyA[i] = a;
    this.keyB[i] = b;
    this.slotRank[i] = rank;
  }

  /** The merge rank of (a, b), or -1. */
  rank(a: number, b: number): number {
    let i = BpeMerges.hash(a, b) & this.mask;
    for (;;) {
      const k = this.keyA[i];
      if (k === EMPTY) return -1;
      if (k === a && this.keyB[i] === b) return this.slotRank[i];
      i = (i + 1) & this.mask;
    }
  }

  /** Merges the symbol ids of one word. */
  apply(word: number[]): number[] {
    if (word.length > HEAP_MIN_SYMBOLS && this.ordered && word.length < POS_BITS) return this.applyHeap(word);
    return this.applyLoop(word);
  }

  /** simple_tokenizer.py's loop, on ids. */
  applyLoop(word: number[]): number[] {
    while (word.length > 1) {
      let bestRank = -1;
      for (let i = 0; i + 1 < word.length; i++) {
        const r = this.rank(word[i], word[i + 1]);
        if (r >= 0 && (bestRank < 0 || r < bestRank)) bestRank = r;
      }
      if (bestRank < 0) break;
      const a = this.left[bestRank];
      const b = this.right[bestRank];
      const m = this.merged[bestRank];
      const next: number[] = [];
      for (let i = 0; i < word.length; i++) {
        if (i + 1 < word.length && word[i] === a && word[i + 1] === b) {
          next.push(m);
          i++;
        } else {
          next.push(word[i]);
        }
      }
      word = next;
    }
    return word;
  }

  /** The heap algorithm; exact when `ordered`. */
  applyHeap(word: number[]): number[] {
    const n = word.length;
    const sym = Int32Array.from(word);
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      next[i] = i + 1 < n ? i + 1 : EMPTY;
      prev[i] = i - 1;
    }
    const heap = new MinHeap(n);
    const push = (left: number): void => {
      const right = next[left];
      if (right === EMPTY) return;
      const r = this.rank(sym[left], sym[right]);
      if (r >= 0) heap.push(r * POS_BITS + left);
    };
    for (let i = 0; i + 1 < n; i++) push(i);
    while (heap.size > 0) {
      const key = heap.pop();
      const r = Math.floor(key / POS_BITS);
      const left = key - r * POS_BITS;
      const right = next[left];
      // Stale entries: the left symbol was merged away or its pair changed (a rank names one pair).
      if (sym[left] === EMPTY || right === EMPTY || this.rank(sym[left], sym[right]) !== r) continue;
      sym[left] = this.merged[r];
      sym[right] = EMPTY;
      next[left] = next[right];
      if (next[right] !== EMPTY) prev[next[right]] = left;
      if (prev[left] >= 0) push(prev[left]);
      push(left);
    }
    const out: number[] = [];
    for (let i = 0; i !== EMPTY; i = next[i]) out.push(sym[i]);
    return out;
  }
}
