/**
 * A token bucket: holds at most `capacity` tokens and refills at `perMinute` tokens a minute,
 * continuously. A full bucket lets a client spend a whole minute's allowance at once (a burst),
 * then at the refill rate. The clock is injected, so tests control time.
 */
export class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(
    readonly perMinute: number,
    private readonly now: () => number = Date.now,
    readonly capacity = perMinute,
  ) {
    if (!(perMinute > 0) || !(capacity > 0)) throw new TypeError(`TokenBucket needs a positive rate and capacity, got ${perMinute}/min, ${capacity}`);
    this.tokens = capacity;
    this.at = now();
  }

  /**
   * Takes `n` tokens if the bucket holds them and returns 0; otherwise takes nothing and returns the
   * milliseconds until it will hold `n` (Infinity when `n` exceeds the capacity: never).
   */
  take(n = 1): number {
    this.refill();
    if (n <= this.tokens) {
      this.tokens -= n;
      return 0;
    }
    if (n > this.capacity) return Infinity;
    return Math.ceil(((n - this.tokens) * 60_000) / this.perMinute);
  }

  /** Tokens now in the bucket (for tests and metrics). */
  available(): number {
    this.refill();
    return this.tokens;
  }

  private refill(): void {
    const t = this.now();
    if (t > this.at) this.tokens = Math.min(this.capacity, this.tokens + ((t - this.at) * this.perMinute) / 60_000);
    this.at = t;
  }
}
