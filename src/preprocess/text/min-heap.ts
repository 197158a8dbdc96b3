/** A binary min-heap of float64 keys (the BPE merge loops: CLIP's bpe.ts, SigLIP's fast-models.ts). */
export class MinHeap {
  private keys: Float64Array;
  size = 0;
  constructor(capacity: number) {
    this.keys = new Float64Array(Math.max(4, capacity));
  }
  push(k: number): void {
    if (this.size === this.keys.length) {
      const bigger = new Float64Array(this.keys.length * 2);
      bigger.set(this.keys);
      this.keys = bigger;
    }
    const h = this.keys;
    let i = this.size++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p] <= k) break;
      h[i] = h[p];
      i = p;
    }
    h[i] = k;
  }
  pop(): number {
    const h = this.keys;
    const top = h[0];
    const last = h[--this.size];
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= this.size) break;
      if (c + 1 < this.size && h[c + 1] < h[c]) c++;
      if (h[c] >= last) break;
      h[i] = h[c];
      i = c;
    }
    h[i] = last;
    return top;
  }
}
