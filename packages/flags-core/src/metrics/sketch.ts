// A mergeable, fixed-size latency sketch with a relative-error guarantee on quantiles.
// DDSketch, Masson, Rim & Lee, "DDSketch: A Fast and Fully-Mergeable Quantile Sketch with
// Relative-Error Guarantees", VLDB 2019: bucket k holds the values in (γ^(k−1), γ^k] with
// γ = (1 + α)/(1 − α), and reports 2γ^k/(1 + γ), which is within a factor 1 ± α of every value
// in the bucket. At most `maxBuckets` buckets are kept; past that the lowest buckets are collapsed
// into one, so the upper quantiles (the ones latency cares about) keep their guarantee.

import type { SerializedSketch } from './types';

export const DEFAULT_RELATIVE_ACCURACY = 0.01;
/** 2048 buckets at α = 1% span a factor of e^(2048·0.02) ≈ 6·10^17, e.g. 1 ns to 19 years in ms. */
export const DEFAULT_MAX_BUCKETS = 2048;
/** Values at or below this (in the sketch's unit, ms for latency) count as zero. */
export const MIN_TRACKABLE_VALUE = 1e-6;
/** Bounds accepted by `fromSerialized` (a serialised sketch is untrusted input at ingest). */
export const MAX_SERIALIZED_BUCKETS = 4096;
const MAX_ABS_OFFSET = 100_000;

export interface LatencySketchOptions {
  /** Relative accuracy α of quantiles, in (0, 0.5]; default 0.01. */
  relativeAccuracy?: number;
  /** Bucket limit; default 2048. */
  maxBuckets?: number;
}

/** One problem found in a serialised sketch (or window/batch): a JSON path and what is wrong. */
export interface MetricsValidationError {
  path: string;
  message: string;
}

export class LatencySketch {
  /** Relative accuracy α. */
  readonly alpha: number;
  readonly maxBuckets: number;
  private readonly gamma: number;
  /** ln γ, computed as log1p(2α/(1−α)) for precision at small α. */
  private readonly logGamma: number;
  /** `counts[i]` is the weight of bucket `minKey + i`. */
  private counts: number[] = [];
  private minKey = 0;
  zeroCount = 0;
  count = 0;
  sum = 0;
  min = Number.POSITIVE_INFINITY;
  max = Number.NEGATIVE_INFINITY;

  constructor(options: LatencySketchOptions = {}) {
    const alpha = options.relativeAccuracy ?? DEFAULT_RELATIVE_ACCURACY;
    if (!(alpha > 0 && alpha <= 0.5))
      throw new RangeError(`relativeAccuracy must be in (0, 0.5], got ${alpha}`);
    const maxBuckets = options.maxBuckets ?? DEFAULT_MAX_BUCKETS;
    if (!(Number.isInteger(maxBuckets) && maxBuckets >= 1 && maxBuckets <= MAX_SERIALIZED_BUCKETS)) {
      throw new RangeError(
        `maxBuckets must be an integer in [1, ${MAX_SERIALIZED_BUCKETS}], got ${maxBuckets}`,
      );
    }
    this.alpha = alpha;
    this.maxBuckets = maxBuckets;
    const mantissa = (2 * alpha) / (1 - alpha);
    this.gamma = 1 + mantissa;
    this.logGamma = Math.log1p(mantissa);
  }

  /** Number of buckets currently held (≤ maxBuckets). */
  get bucketCount(): number {
    return this.counts.length;
  }

  /** Bucket index of a positive value: ⌈log_γ value⌉. */
  keyOf(value: number): number {
    return Math.ceil(Math.log(value) / this.logGamma);
  }

  /** The value a bucket reports: 2γ^k/(1 + γ), the point of least relative error over (γ^(k−1), γ^k]. */
  valueOf(key: number): number {
    return (Math.exp(key * this.logGamma) * 2) / (1 + this.gamma);
  }

  /**
   * Record `value` with `weight` (default 1). Non-finite values and non-positive or non-finite
   * weights are ignored, so a bad measurement never corrupts the sketch; values ≤ 1e-6 (and
   * negative ones) count as zero.
   */
  add(value: number, weight = 1): void {
    if (!Number.isFinite(value) || !(weight > 0) || !Number.isFinite(weight)) return;
    if (value < 0) value = 0;
    if (value > MIN_TRACKABLE_VALUE) {
      // Index first: growing the range may replace `counts`.
      const i = this.slot(this.keyOf(value));
      this.counts[i]! += weight;
    } else {
      this.zeroCount += weight;
    }
    this.count += weight;
    this.sum += value * weight;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
  }

  /** Add every value of `other` to this sketch (same relative accuracy required). */
  merge(other: LatencySketch): this {
    if (other.alpha !== this.alpha) {
      throw new RangeError(`cannot merge sketches of relative accuracy ${this.alpha} and ${other.alpha}`);
    }
    if (other.count === 0) return this;
    const n = other.counts.length;
    if (n > 0) {
      // Reserve the full range first so a collapse happens once, then add bucket by bucket.
      this.slot(other.minKey + n - 1);
      this.slot(other.minKey);
      for (let i = 0; i < n; i++) {
        const c = other.counts[i]!;
        if (c > 0) {
          const j = this.slot(other.minKey + i);
          this.counts[j]! += c;
        }
      }
    }
    this.zeroCount += other.zeroCount;
    this.count += other.count;
    this.sum += other.sum;
    if (other.min < this.min) this.min = other.min;
    if (other.max > this.max) this.max = other.max;
    return this;
  }

  /**
   * The value at quantile `q` ∈ [0, 1]: within a factor 1 ± α of the element of rank ⌊q·(n−1)⌋
   * (0-based, ascending), clamped to [min, max]; exactly min at 0 and max at 1. NaN when empty or
   * q is out of range.
   */
  quantile(q: number): number {
    if (!(q >= 0 && q <= 1) || this.count <= 0) return Number.NaN;
    // The extremes are known exactly.
    if (q === 0) return this.min;
    if (q === 1) return this.max;
    const key = this.keyAtRank(q * (this.count - 1));
    const raw = key === null ? 0 : this.valueOf(key);
    return Math.min(Math.max(raw, this.min), this.max);
  }

  /**
   * Weight of the values strictly above `value`'s bucket: every value counted is > `value`; values
   * in `value`'s own bucket (within α of it) are not counted.
   */
  countAbove(value: number): number {
    if (Number.isNaN(value)) return 0;
    if (!(value > MIN_TRACKABLE_VALUE)) {
      let total = 0;
      for (const c of this.counts) total += c;
      return total;
    }
    const key = this.keyOf(value);
    let total = 0;
    for (let i = Math.max(0, key + 1 - this.minKey); i < this.counts.length; i++) total += this.counts[i]!;
    return total;
  }

  /** Mean of the recorded values (exact), NaN when empty. */
  mean(): number {
    return this.count > 0 ? this.sum / this.count : Number.NaN;
  }

  clone(): LatencySketch {
    const copy = new LatencySketch({ relativeAccuracy: this.alpha, maxBuckets: this.maxBuckets });
    copy.counts = this.counts.slice();
    copy.minKey = this.minKey;
    copy.zeroCount = this.zeroCount;
    copy.count = this.count;
    copy.sum = this.sum;
    copy.min = this.min;
    copy.max = this.max;
    return copy;
  }

  /** Plain JSON (no Infinity): empty buckets at both ends trimmed; min/max are 0 when empty. */
  serialize(): SerializedSketch {
    let lo = 0;
    let hi = this.counts.length - 1;
    while (lo <= hi && this.counts[lo] === 0) lo++;
    while (hi >= lo && this.counts[hi] === 0) hi--;
    const empty = this.count === 0;
    return {
      alpha: this.alpha,
      zeroCount: this.zeroCount,
      offset: lo <= hi ? this.minKey + lo : 0,
      counts: lo <= hi ? this.counts.slice(lo, hi + 1) : [],
      count: this.count,
      sum: this.sum,
      min: empty ? 0 : this.min,
      max: empty ? 0 : this.max,
    };
  }

  /**
   * Rebuild a sketch from `serialize()` output. Throws a RangeError naming the field when the
   * input is malformed (see `validateSerializedSketch` for a non-throwing check).
   */
  static fromSerialized(
    data: SerializedSketch,
    options: Pick<LatencySketchOptions, 'maxBuckets'> = {},
  ): LatencySketch {
    const errors = validateSerializedSketch(data);
    if (errors.length > 0) throw new RangeError(`${errors[0]!.path}: ${errors[0]!.message}`);
    const sketch = new LatencySketch({
      relativeAccuracy: data.alpha,
      maxBuckets: options.maxBuckets ?? Math.max(DEFAULT_MAX_BUCKETS, data.counts.length),
    });
    if (data.counts.length > 0) {
      sketch.slot(data.offset + data.counts.length - 1);
      sketch.slot(data.offset);
      for (let i = 0; i < data.counts.length; i++) {
        const c = data.counts[i]!;
        if (c > 0) {
          const j = sketch.slot(data.offset + i);
          sketch.counts[j]! += c;
        }
      }
    }
    sketch.zeroCount = data.zeroCount;
    sketch.count = data.count;
    sketch.sum = data.sum;
    if (data.count > 0) {
      sketch.min = data.min;
      sketch.max = data.max;
    }
    return sketch;
  }

  /** First bucket whose cumulative weight exceeds `rank` (null: the zero bucket). */
  private keyAtRank(rank: number): number | null {
    let cumulative = this.zeroCount;
    if (cumulative > rank) return null;
    for (let i = 0; i < this.counts.length; i++) {
      cumulative += this.counts[i]!;
      if (cumulative > rank) return this.minKey + i;
    }
    // Rounding of fractional weights: the highest non-empty bucket.
    for (let i = this.counts.length - 1; i >= 0; i--) if (this.counts[i]! > 0) return this.minKey + i;
    return null;
  }

  /**
   * Index in `counts` of bucket `key`, growing the range as needed. When the range would exceed
   * `maxBuckets`, the lowest buckets are folded into the lowest kept one (collapsing-lowest store).
   */
  private slot(key: number): number {
    const n = this.counts.length;
    if (n === 0) {
      this.minKey = key;
      this.counts.push(0);
      return 0;
    }
    const maxKey = this.minKey + n - 1;
    if (key >= this.minKey && key <= maxKey) return key - this.minKey;
    const lo = Math.min(this.minKey, key);
    const hi = Math.max(maxKey, key);
    if (hi - lo + 1 <= this.maxBuckets) {
      if (key > maxKey) {
        for (let k = maxKey; k < key; k++) this.counts.push(0);
        return key - this.minKey;
      }
      const grow = this.minKey - key;
      this.counts = new Array<number>(grow).fill(0).concat(this.counts);
      this.minKey = key;
      return 0;
    }
    const newMin = hi - this.maxBuckets + 1;
    // Already full and collapsed at this floor: a lower value joins the lowest bucket.
    if (newMin === this.minKey && hi === maxKey) return 0;
    const next = new Array<number>(this.maxBuckets).fill(0);
    for (let i = 0; i < n; i++) {
      const c = this.counts[i]!;
      if (c !== 0) next[Math.max(this.minKey + i, newMin) - newMin]! += c;
    }
    this.counts = next;
    this.minKey = newMin;
    return Math.max(key, newMin) - newMin;
  }
}

const isNonNegativeFinite = (x: unknown): x is number =>
  typeof x === 'number' && Number.isFinite(x) && x >= 0;

/** Every problem of an untrusted serialised sketch, with JSON paths under `path`; empty when valid. */
export function validateSerializedSketch(data: unknown, path = 'latency'): MetricsValidationError[] {
  const errors: MetricsValidationError[] = [];
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    return [{ path, message: 'must be an object' }];
  }
  const s = data as Record<string, unknown>;
  const alpha = s.alpha;
  if (!(typeof alpha === 'number' && alpha > 0 && alpha <= 0.5)) {
    errors.push({ path: `${path}.alpha`, message: 'must be a number in (0, 0.5]' });
  }
  for (const field of ['zeroCount', 'count', 'sum'] as const) {
    if (!isNonNegativeFinite(s[field])) {
      errors.push({ path: `${path}.${field}`, message: 'must be a finite number ≥ 0' });
    }
  }
  for (const field of ['min', 'max'] as const) {
    if (typeof s[field] !== 'number' || !Number.isFinite(s[field])) {
      errors.push({ path: `${path}.${field}`, message: 'must be a finite number' });
    }
  }
  if (!(Number.isInteger(s.offset) && Math.abs(s.offset as number) <= MAX_ABS_OFFSET)) {
    errors.push({
      path: `${path}.offset`,
      message: `must be an integer in [-${MAX_ABS_OFFSET}, ${MAX_ABS_OFFSET}]`,
    });
  }
  let bucketTotal = 0;
  if (!Array.isArray(s.counts)) {
    errors.push({ path: `${path}.counts`, message: 'must be an array of counts' });
  } else if (s.counts.length > MAX_SERIALIZED_BUCKETS) {
    errors.push({ path: `${path}.counts`, message: `must hold at most ${MAX_SERIALIZED_BUCKETS} buckets` });
  } else {
    for (let i = 0; i < s.counts.length; i++) {
      const c: unknown = s.counts[i];
      if (!isNonNegativeFinite(c)) {
        errors.push({ path: `${path}.counts[${i}]`, message: 'must be a finite number ≥ 0' });
        break;
      }
      bucketTotal += c;
    }
  }
  if (errors.length > 0) return errors;
  const count = s.count as number;
  const expected = bucketTotal + (s.zeroCount as number);
  if (Math.abs(expected - count) > 1e-9 * Math.max(1, count)) {
    errors.push({ path: `${path}.count`, message: `must equal zeroCount + sum(counts) = ${expected}` });
  }
  if (count > 0 && (s.min as number) > (s.max as number)) {
    errors.push({ path: `${path}.min`, message: 'must not exceed max' });
  }
  return errors;
}
