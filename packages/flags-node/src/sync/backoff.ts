// Exponential backoff with "full jitter" (AWS Architecture Blog, Brooker 2015):
// delay = random(0, min(maxMs, initialMs * 2^attempt)). Spreads reconnects of many instances after
// an outage instead of having them all retry at the same instants.

export interface BackoffOptions {
  /** Upper bound of the first delay, ms (default 500). */
  initialMs?: number;
  /** Cap of every delay, ms (default 30,000). */
  maxMs?: number;
  /** Source of randomness in [0, 1); a parameter so tests can pin it. */
  random?: () => number;
}

export class Backoff {
  readonly initialMs: number;
  readonly maxMs: number;
  private readonly random: () => number;
  private attempt = 0;

  constructor(options: BackoffOptions = {}) {
    this.initialMs = Math.max(1, options.initialMs ?? 500);
    this.maxMs = Math.max(this.initialMs, options.maxMs ?? 30_000);
    this.random = options.random ?? Math.random;
  }

  /** Failures since the last reset. */
  get attempts(): number {
    return this.attempt;
  }

  /** Upper bound of the next delay, before jitter. */
  ceiling(): number {
    // 2^attempt overflows to Infinity long after it passed maxMs, and Math.min handles Infinity.
    return Math.min(this.maxMs, this.initialMs * 2 ** this.attempt);
  }

  /** Delay before the next attempt; counts a failure. */
  next(): number {
    const delay = Math.floor(this.random() * this.ceiling());
    this.attempt++;
    return delay;
  }

  reset(): void {
    this.attempt = 0;
  }
}
