import { DDSketch } from '@datadog/sketches-js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LatencySketch, MIN_TRACKABLE_VALUE, validateSerializedSketch } from './sketch';
import type { SerializedSketch } from './types';

// Seeded PRNG (mulberry32) so every run sees the same data.
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const datasets: Record<string, (r: () => number) => number> = {
  // Latency-like: log-normal around 40 ms.
  lognormal: (r) =>
    Math.exp(Math.log(40) + 0.8 * Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r())),
  uniform: (r) => 1 + 999 * r(),
  exponential: (r) => -50 * Math.log(1 - r()),
  // Heavy tail (Pareto, shape 1.2).
  pareto: (r) => 5 / (1 - r()) ** (1 / 1.2),
};

const quantiles = [0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1];

/** The element of rank ⌊q·(n−1)⌋ of the sorted data: what DDSketch's guarantee is stated against. */
const exactQuantile = (sorted: number[], q: number): number => sorted[Math.floor(q * (sorted.length - 1))]!;

const relErr = (estimate: number, exact: number): number => Math.abs(estimate - exact) / Math.abs(exact);

describe('LatencySketch accuracy', () => {
  for (const [name, draw] of Object.entries(datasets)) {
    it(`${name}: every quantile within 1% of the exact one and equal to @datadog/sketches-js`, () => {
      const r = rng(name.length * 7919);
      const values = Array.from({ length: 20_000 }, () => draw(r));
      const sketch = new LatencySketch();
      const oracle = new DDSketch({ relativeAccuracy: 0.01 });
      for (const v of values) {
        sketch.add(v);
        oracle.accept(v);
      }
      const sorted = [...values].sort((a, b) => a - b);
      expect(sketch.count).toBe(values.length);
      expect(sketch.min).toBe(sorted[0]);
      expect(sketch.max).toBe(sorted[sorted.length - 1]);
      for (const q of quantiles) {
        const estimate = sketch.quantile(q);
        expect(relErr(estimate, exactQuantile(sorted, q))).toBeLessThanOrEqual(0.01 * (1 + 1e-9));
        if (q === 0 || q === 1) continue;
        // Same buckets as the reference implementation; ours is clamped to [min, max].
        const reference = Math.min(
          Math.max(oracle.getValueAtQuantile(q), sorted[0]!),
          sorted[sorted.length - 1]!,
        );
        expect(relErr(estimate, reference)).toBeLessThan(1e-9);
      }
      expect(sketch.quantile(0)).toBe(sorted[0]);
      expect(sketch.quantile(1)).toBe(sorted[sorted.length - 1]);
    });
  }

  it('property: any positive data in [1e-3, 1e6] ms, any q — relative error ≤ 1%', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 1e-3, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 300 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (values, q) => {
          const sketch = new LatencySketch();
          for (const v of values) sketch.add(v);
          const sorted = [...values].sort((a, b) => a - b);
          return relErr(sketch.quantile(q), exactQuantile(sorted, q)) <= 0.01 * (1 + 1e-9);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('honours other relative accuracies (α = 0.05)', () => {
    const r = rng(11);
    const values = Array.from({ length: 5000 }, () => datasets.lognormal!(r));
    const sketch = new LatencySketch({ relativeAccuracy: 0.05 });
    for (const v of values) sketch.add(v);
    const sorted = [...values].sort((a, b) => a - b);
    for (const q of quantiles)
      expect(relErr(sketch.quantile(q), exactQuantile(sorted, q))).toBeLessThanOrEqual(0.05);
    // Fewer, wider buckets than at 1%.
    const fine = new LatencySketch();
    for (const v of values) fine.add(v);
    expect(sketch.bucketCount).toBeLessThan(fine.bucketCount / 4);
  });

  it('weights count like repeated values', () => {
    const a = new LatencySketch();
    const b = new LatencySketch();
    for (let i = 0; i < 5; i++) a.add(12.5);
    a.add(300);
    b.add(12.5, 5);
    b.add(300);
    expect(b.serialize()).toEqual(a.serialize());
  });
});

describe('LatencySketch zeros, bad input, empty', () => {
  it('empty sketch: NaN quantiles, zero counts, JSON-safe serialisation', () => {
    const s = new LatencySketch();
    expect(s.quantile(0.5)).toBeNaN();
    expect(s.mean()).toBeNaN();
    const json = s.serialize();
    expect(json).toEqual({
      alpha: 0.01,
      zeroCount: 0,
      offset: 0,
      counts: [],
      count: 0,
      sum: 0,
      min: 0,
      max: 0,
    });
    expect(JSON.parse(JSON.stringify(json))).toEqual(json);
    expect(LatencySketch.fromSerialized(json).count).toBe(0);
  });

  it('zero and tiny values go to the zero bucket; negative latencies count as 0', () => {
    const s = new LatencySketch();
    s.add(0);
    s.add(MIN_TRACKABLE_VALUE / 2);
    s.add(-3);
    s.add(10);
    expect(s.zeroCount).toBe(3);
    expect(s.count).toBe(4);
    expect(s.min).toBe(0);
    expect(s.quantile(0.5)).toBe(0);
    expect(relErr(s.quantile(1), 10)).toBe(0);
  });

  it('ignores NaN, ±Infinity and non-positive weights', () => {
    const s = new LatencySketch();
    s.add(Number.NaN);
    s.add(Number.POSITIVE_INFINITY);
    s.add(Number.NEGATIVE_INFINITY);
    s.add(5, 0);
    s.add(5, -1);
    s.add(5, Number.NaN);
    expect(s.count).toBe(0);
    s.add(5);
    expect(s.count).toBe(1);
    expect(s.quantile(0.5)).toBe(5);
  });

  it('quantile out of [0, 1] is NaN', () => {
    const s = new LatencySketch();
    s.add(1);
    expect(s.quantile(-0.1)).toBeNaN();
    expect(s.quantile(1.1)).toBeNaN();
    expect(s.quantile(Number.NaN)).toBeNaN();
  });

  it('rejects bad options', () => {
    expect(() => new LatencySketch({ relativeAccuracy: 0 })).toThrow(/relativeAccuracy/);
    expect(() => new LatencySketch({ relativeAccuracy: 0.9 })).toThrow(/relativeAccuracy/);
    expect(() => new LatencySketch({ maxBuckets: 0 })).toThrow(/maxBuckets/);
    expect(() => new LatencySketch({ maxBuckets: 1.5 })).toThrow(/maxBuckets/);
  });
});

describe('LatencySketch merge', () => {
  it('merging parts equals sketching the whole (exact bucket counts)', () => {
    const r = rng(3);
    const values = Array.from({ length: 3000 }, () => datasets.pareto!(r));
    const whole = new LatencySketch();
    for (const v of values) whole.add(v);
    const parts = [new LatencySketch(), new LatencySketch(), new LatencySketch()];
    values.forEach((v, i) => {
      parts[i % 3]!.add(v);
    });
    const merged = new LatencySketch();
    for (const p of parts) merged.merge(p);
    const a = merged.serialize();
    const b = whole.serialize();
    expect(a.counts).toEqual(b.counts);
    expect(a.offset).toBe(b.offset);
    expect(a.count).toBe(b.count);
    expect(a.min).toBe(b.min);
    expect(a.max).toBe(b.max);
    expect(a.sum).toBeCloseTo(b.sum, 6);
    for (const q of quantiles) expect(merged.quantile(q)).toBe(whole.quantile(q));
  });

  it('property: merge is commutative and associative on bucket counts', () => {
    const arr = fc.array(fc.double({ min: 1e-2, max: 1e5, noNaN: true }), { maxLength: 60 });
    fc.assert(
      fc.property(arr, arr, arr, (xs, ys, zs) => {
        const sk = (vs: number[]) => {
          const s = new LatencySketch();
          for (const v of vs) s.add(v);
          return s;
        };
        const left = sk(xs).merge(sk(ys)).merge(sk(zs)).serialize();
        const right = sk(zs)
          .merge(sk(ys).merge(sk(xs)))
          .serialize();
        return (
          JSON.stringify(left.counts) === JSON.stringify(right.counts) &&
          left.offset === right.offset &&
          left.count === right.count &&
          left.min === right.min &&
          left.max === right.max
        );
      }),
      { numRuns: 200 },
    );
  });

  it('refuses sketches of a different relative accuracy', () => {
    const a = new LatencySketch();
    const b = new LatencySketch({ relativeAccuracy: 0.02 });
    b.add(1);
    expect(() => a.merge(b)).toThrow(/relative accuracy/);
  });

  it('merging into an empty sketch copies; merging an empty one changes nothing', () => {
    const a = new LatencySketch();
    const b = new LatencySketch();
    b.add(7);
    b.add(70);
    a.merge(b);
    expect(a.serialize()).toEqual(b.serialize());
    a.merge(new LatencySketch());
    expect(a.serialize()).toEqual(b.serialize());
  });
});

describe('LatencySketch fixed size (collapsing lowest buckets)', () => {
  it('never holds more than maxBuckets, keeps counts, keeps upper quantiles accurate', () => {
    const r = rng(99);
    // 1e-5 ms to 1e7 ms: far more than 128 buckets at 1%.
    const values = Array.from({ length: 10_000 }, () => 10 ** (-5 + 12 * r()));
    const sketch = new LatencySketch({ maxBuckets: 128 });
    for (const v of values) sketch.add(v);
    expect(sketch.bucketCount).toBeLessThanOrEqual(128);
    expect(sketch.count).toBe(values.length);
    const sorted = [...values].sort((a, b) => a - b);
    // The top 128 buckets cover a factor of e^(128·0.02) ≈ 12.9 below the max: quantiles above
    // ~0.91 of this log-uniform spread stay accurate.
    for (const q of [0.95, 0.99, 0.999, 1]) {
      expect(relErr(sketch.quantile(q), exactQuantile(sorted, q))).toBeLessThanOrEqual(0.01 * (1 + 1e-9));
    }
    // Lower quantiles are biased upward, never below the true value.
    expect(sketch.quantile(0.1)).toBeGreaterThanOrEqual(exactQuantile(sorted, 0.1));
  });

  it('collapses on merge too, and on deserialising a wider sketch into a smaller limit', () => {
    const wide = new LatencySketch();
    for (let e = -3; e <= 6; e += 0.01) wide.add(10 ** e);
    expect(wide.bucketCount).toBeGreaterThan(1000);
    const narrow = new LatencySketch({ maxBuckets: 100 });
    narrow.merge(wide);
    expect(narrow.bucketCount).toBe(100);
    expect(narrow.count).toBe(wide.count);
    expect(narrow.quantile(1)).toBe(wide.quantile(1));
    const fromWire = LatencySketch.fromSerialized(wide.serialize(), { maxBuckets: 100 });
    expect(fromWire.serialize().counts).toEqual(narrow.serialize().counts);
  });

  it('a value below a full range joins the lowest bucket without growing it', () => {
    const s = new LatencySketch({ maxBuckets: 10 });
    for (let i = 0; i < 10; i++) s.add(100 * 1.0202 ** i);
    const before = s.serialize();
    s.add(0.001);
    const after = s.serialize();
    expect(after.counts.length).toBe(before.counts.length);
    expect(after.counts[0]).toBe(before.counts[0]! + 1);
    expect(after.offset).toBe(before.offset);
  });

  it('serialised size is bounded whatever the traffic', () => {
    const s = new LatencySketch();
    const r = rng(5);
    for (let i = 0; i < 200_000; i++) s.add(datasets.lognormal!(r));
    const bytes = JSON.stringify(s.serialize()).length;
    // 200k requests in well under 2 KB (lognormal spans ~250 buckets).
    expect(s.bucketCount).toBeLessThan(400);
    expect(bytes).toBeLessThan(4000);
  });
});

describe('LatencySketch serialisation', () => {
  it('round-trips through JSON with identical quantiles', () => {
    const r = rng(17);
    const s = new LatencySketch();
    for (let i = 0; i < 1000; i++) s.add(datasets.exponential!(r));
    s.add(0);
    const wire = JSON.parse(JSON.stringify(s.serialize())) as SerializedSketch;
    const back = LatencySketch.fromSerialized(wire);
    expect(back.serialize()).toEqual(s.serialize());
    for (const q of quantiles) expect(back.quantile(q)).toBe(s.quantile(q));
  });

  it('clone is independent', () => {
    const s = new LatencySketch();
    s.add(3);
    const c = s.clone();
    c.add(3000);
    expect(s.count).toBe(1);
    expect(c.count).toBe(2);
    expect(s.max).toBe(3);
  });

  it('validateSerializedSketch names each bad field', () => {
    const good = (() => {
      const s = new LatencySketch();
      s.add(5);
      s.add(50);
      return s.serialize();
    })();
    expect(validateSerializedSketch(good)).toEqual([]);
    const cases: [unknown, string][] = [
      [null, 'latency'],
      [[], 'latency'],
      [{ ...good, alpha: 0 }, 'latency.alpha'],
      [{ ...good, alpha: '0.01' }, 'latency.alpha'],
      [{ ...good, zeroCount: -1 }, 'latency.zeroCount'],
      [{ ...good, count: Number.NaN }, 'latency.count'],
      [{ ...good, sum: -5 }, 'latency.sum'],
      [{ ...good, min: null }, 'latency.min'],
      [{ ...good, max: 'x' }, 'latency.max'],
      [{ ...good, offset: 1.5 }, 'latency.offset'],
      [{ ...good, offset: 1e9 }, 'latency.offset'],
      [{ ...good, counts: 'x' }, 'latency.counts'],
      [{ ...good, counts: new Array(5000).fill(0) }, 'latency.counts'],
      [{ ...good, counts: [1, -1] }, 'latency.counts[1]'],
      [{ ...good, count: 3 }, 'latency.count'],
      [{ ...good, min: 60, max: 50 }, 'latency.min'],
    ];
    for (const [input, path] of cases) {
      const errors = validateSerializedSketch(input);
      expect(errors.map((e) => e.path)).toContain(path);
    }
    expect(() => LatencySketch.fromSerialized({ ...good, count: 3 })).toThrow(/latency.count/);
  });
});

describe('LatencySketch.countAbove', () => {
  it('counts values strictly above the bucket of the threshold', () => {
    const s = new LatencySketch();
    for (let i = 1; i <= 100; i++) s.add(i);
    // Values 51..100 are above 50's bucket (buckets are 2% wide; 50 and 51 differ by 2%).
    const above = s.countAbove(50);
    expect(above).toBeGreaterThanOrEqual(49);
    expect(above).toBeLessThanOrEqual(50);
    expect(s.countAbove(1000)).toBe(0);
    expect(s.countAbove(0)).toBe(100);
    expect(s.countAbove(Number.NaN)).toBe(0);
  });

  it('property: never counts a value ≤ the threshold, never misses one more than 2α above it', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0.01, max: 1e4, noNaN: true }), { minLength: 1, maxLength: 200 }),
        fc.double({ min: 0.01, max: 1e4, noNaN: true }),
        (values, x) => {
          const s = new LatencySketch();
          for (const v of values) s.add(v);
          const got = s.countAbove(x);
          const surelyAbove = values.filter((v) => v > x * 1.0203).length;
          const atMost = values.filter((v) => v > x / 1.0001).length;
          return got >= surelyAbove && got <= atMost;
        },
      ),
      { numRuns: 300 },
    );
  });
});
