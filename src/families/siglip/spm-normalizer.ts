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

  /** The longest match at `pos`: [replacement bytes, bytes consumed], or undefined. */
  private match(input: Uint8Array, pos: number): [Uint8Array, number] | undefined {
    const a = this.units;
    if (a.length === 0) return undefined;
    let node = offset(a[0]);
    let best: [number, number] | undefined;
    for (let i = pos; i < input.length; i++) {
      const byte = input[i];
      node ^= byte;
      if (node >= a.length) break;
      const unit = a[node];
      if ((unit & 0x800000ff) >>> 0 !== byte) break;
      node ^= offset(unit);
      if ((unit >>> 8) & 1) best = [a[node] & 0x7fffffff, i + 1 - pos];
    }
    if (!best) return undefined;
    let end = best[0];
    while (end < this.normalized.length && this.normalized[end] !== 0) end++;
    return [this.normalized.subarray(best[0], end), best[1]];
  }

  /** One normalised prefix: the replacement (or the character itself) and its length in the input. */
  private prefix(input: Uint8Array, pos: number): [Uint8Array, number] {
    const m = this.match(input, pos);
    if (m) return m;
    const b = input[pos];
    const n = b < 0x80 ? 1 : b < 0xe0 ? 2 : b < 0xf0 ? 3 : 4;
    return [input.subarray(pos, pos + n), n];
  }

  normalize(textIn: string): string {
    const input = this.utf8.encode(textIn);
    const out: number[] = [];
    let pos = 0;
    const isSpace = (r: Uint8Array) => r.length === 1 && r[0] === SPACE;
    if (this.options.removeExtraWhitespaces) {
      while (pos < input.length) {
        const [r, n] = this.prefix(input, pos);
        if (!isSpace(r)) break;
        pos += n;
      }
    }
    if (pos >= input.length) return '';
    if (this.options.addDummyPrefix) out.push(...SPACE_SYMBOL);
    let prevSpace = this.options.removeExtraWhitespaces;
    while (pos < input.length) {
      const [r, n] = this.prefix(input, pos);
      let k = 0;
      while (prevSpace && k < r.length && r[k] === SPACE) k++;
      if (k < r.length) {
        for (; k < r.length; k++) if (r[k] === SPACE) out.push(...SPACE_SYMBOL);
        else out.push(r[k]);
        prevSpace = r[r.length - 1] === SPACE;
      }
      pos += n;
    }
    if (this.options.removeExtraWhitespaces) {
      while (out.length >= 3 && out[out.length - 3] === 0xe2 && out[out.length - 2] === 0x96 && out[out.length - 1] === 0x81) out.length -= 3;
    }
    return this.text.decode(new Uint8Array(out));
  }
}

/** darts-clone's unit offset: (unit >> 10) << ((unit & (1 << 9)) >> 6). */
function offset(unit: number): number {
  return ((unit >>> 10) << ((unit & (1 << 9)) >>> 6)) >>> 0;
}
