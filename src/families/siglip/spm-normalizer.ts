/**
 * SentencePiece's own normaliser (normalizer.cc, Normalizer::Normalize), from the
 * `precompiled_charsmap` that transformers' converter copies into tokenizer.json: a darts-clone
 * double-array trie over UTF-8 bytes whose values index NUL-terminated replacement strings.
 *
 * @huggingface/tokenizers approximates that normaliser with NFKC and a few hand rules (it turns
 * U+200D ZERO WIDTH JOINER into a space, for one), so SigLIP's spiece.model path runs this one
 * instead: at each position the longest trie match is replaced (none: one UTF-8 character copied),
 * spaces are collapsed, stripped and escaped to "▁", and "▁" is put in front (add_dummy_prefix).
 */

const SPACE = 0x20;
const SPACE_SYMBOL = new Uint8Array([0xe2, 0x96, 0x81]); // "▁"

export interface SpmNormalizerOptions {
  readonly addDummyPrefix: boolean;
  readonly removeExtraWhitespaces: boolean;
}

export class SpmNormalizer {
  private readonly units: Uint32Array;
  private readonly normalized: Uint8Array;
  private readonly utf8 = new TextEncoder();
  private readonly text = new TextDecoder();

  /** `charsmap`: the bytes of precompiled_charsmap (uint32 trie size, the trie, the strings). */
  constructor(charsmap: Uint8Array, private readonly options: SpmNormalizerOptions) {
    const view = new DataView(charsmap.buffer, charsmap.byteOffset, charsmap.byteLength);
    const size = charsmap.byteLength >= 4 ? view.getUint32(0, true) : -1;
    if (size < 0 || size % 4 !== 0 || 4 + size > charsmap.byteLength) throw new RangeError('precompiled_charsmap is not a darts-clone trie followed by strings');
    this.units = new Uint32Array(size / 4);
    for (let i = 0; i < this.units.length; i++) this.units[i] = view.getUint32(4 + 4 * i, true);
    this.normalized = charsmap.subarray(4 + size);
  }

  /**
   * The longest match at `pos`: sets `replacement` (its start in `normalized`, or -1 when none) and
   * returns the bytes consumed (0: no match). Fields, not a tuple: this runs once per character.
   */
  private replacement = -1;
  private match(input: Uint8Array, pos: number): number {
    const a = this.units;
    this.replacement = -1;
    if (a.length === 0) return 0;
    let node = offset(a[0]);
    let consumed = 0;
    for (let i = pos; i < input.length; i++) {
      const byte = input[i];
      node ^= byte;
      if (node >= a.length) break;
      const unit = a[node];
      if ((unit & 0x800000ff) >>> 0 !== byte) break;
      node ^= offset(unit);
      if ((unit >>> 8) & 1) {
        this.replacement = a[node] & 0x7fffffff;
        consumed = i + 1 - pos;
      }
    }
    return consumed;
  }

  private out = new Uint8Array(256);
  private length = 0;
  private push(byte: number): void {
    if (this.length === this.out.length) {
      const grown = new Uint8Array(this.out.length * 2);
      grown.set(this.out);
      this.out = grown;
    }
    this.out[this.length++] = byte;
  }

  normalize(textIn: string): string {
    const input = this.utf8.encode(textIn);
    const n = this.normalized;
    this.length = 0;
    let pos = 0;
    // one normalised prefix at `pos`: [from, to) in `src` (the replacement, or the character itself), its length in the input
    let src: Uint8Array = input;
    let from = 0;
    let to = 0;
    const prefix = (): number => {
      const consumed = this.match(input, pos);
      if (consumed) {
        src = n;
        from = this.replacement;
        to = from;
        while (to < n.length && n[to] !== 0) to++;
        return consumed;
      }
      const b = input[pos];
      const len = b < 0x80 ? 1 : b < 0xe0 ? 2 : b < 0xf0 ? 3 : 4;
      src = input;
      from = pos;
      to = Math.min(pos + len, input.length);
      return len;
    };
    if (this.options.removeExtraWhitespaces) {
      while (pos < input.length) {
        const consumed = prefix();
        if (!(to - from === 1 && src[from] === SPACE)) break;
        pos += consumed;
      }
    }
    if (pos >= input.length) return '';
    if (this.options.addDummyPrefix) for (const b of SPACE_SYMBOL) this.push(b);
    let prevSpace = this.options.removeExtraWhitespaces;
    while (pos < input.length) {
      const consumed = prefix();
      let k = from;
      while (prevSpace && k < to && src[k] === SPACE) k++;
      if (k < to) {
        for (; k < to; k++) {
          if (src[k] === SPACE) for (const b of SPACE_SYMBOL) this.push(b);
          else this.push(src[k]);
        }
        prevSpace = src[to - 1] === SPACE;
      }
      pos += consumed;
    }
    const out = this.out;
    if (this.options.removeExtraWhitespaces) {
      while (this.length >= 3 && out[this.length - 3] === 0xe2 && out[this.length - 2] === 0x96 && out[this.length - 1] === 0x81) this.length -= 3;
    }
    return this.text.decode(out.subarray(0, this.length));
  }
}

/** darts-clone's unit offset: (unit >> 10) << ((unit & (1 << 9)) >> 6). */
function offset(unit: number): number {
  return ((unit >>> 10) << ((unit & (1 << 9)) >>> 6)) >>> 0;
}
