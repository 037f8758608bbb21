import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  chiSquare,
  chiSquareGoodnessOfFit,
  chiSquareIndependence,
  holmAdjust,
  normal,
  relativeLift,
  requiredSampleSize,
  studentT,
  summarizeSums,
  summarize,
  twoProportionZTest,
  welchTTest,
} from '../../src/stats/index';

describe('stats invariants', () => {
  it('normal: cdf + sf = 1, log tails consistent, quantile inverts the cdf', () => {
    fc.assert(
      fc.property(fc.double({ min: -30, max: 30, noNaN: true }), (x) => {
        expect(normal.cdf(x) + normal.sf(x)).toBeCloseTo(1, 14);
        expect(normal.logSf(x)).toBeCloseTo(normal.logCdf(-x), 12);
        const p = normal.cdf(x);
        if (p > 1e-300 && p < 1 - 1e-12) {
          const back = normal.quantile(p);
          expect(Math.abs(back - x)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(x)));
        }
      }),
    );
  });

  it('student t: symmetric, monotone, and quantile inverts the log cdf', () => {
    fc.assert(
      fc.property(
        fc.double({ min: -1e6, max: 1e6, noNaN: true }),
        fc.double({ min: 0.3, max: 1e5, noNaN: true }),
        (t, df) => {
          expect(studentT.logCdf(t, df)).toBeCloseTo(studentT.logSf(-t, df), 10);
          expect(studentT.cdf(t, df)).toBeLessThanOrEqual(studentT.cdf(t + Math.abs(t) * 1e-3 + 1e-3, df));
          const lp = studentT.logCdf(t, df);
          if (lp < -1e-12) {
            const back = studentT.quantile(lp, df, { logP: true });
            expect(Math.abs(back - t)).toBeLessThanOrEqual(1e-7 * Math.max(1, Math.abs(t)));
          }
        },
      ),
    );
  });

  it('t with infinite df is the normal; chi-square with 1 df is a squared normal', () => {
    expect(studentT.logSf(7, Number.POSITIVE_INFINITY)).toBe(normal.logSf(7));
    for (const z of [0.5, 2, 9, 30]) {
      expect(chiSquare.logSf(z * z, 1)).toBeCloseTo(Math.LN2 + normal.logSf(z), 10);
    }
  });

  it('a Welch test of a sample against itself shifted by mu has t = 0 and p = 1', () => {
    const a = [1, 2, 3, 4, 5.5];
    const r = welchTTest(a, a, { mu: 0 });
    expect(r.t).toBe(0);
    expect(r.pValue).toBeCloseTo(1, 15);
  });

  it('summarizeSums equals summarize for 0/1 conversions and counts', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 2, maxLength: 200 }), (values) => {
        const sums = { n: values.length, sum: 0, sumSquares: 0 };
        for (const v of values) {
          sums.sum += v;
          sums.sumSquares += v * v;
        }
        const a = summarizeSums(sums);
        const b = summarize(values);
        expect(a.mean).toBeCloseTo(b.mean, 12);
        expect(a.variance).toBeCloseTo(b.variance, 10);
      }),
    );
  });

  it('holm: adjusted ≥ raw, ≤ 1, order preserved, NaN kept and not counted', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 12 }),
        (ps) => {
          const adj = holmAdjust(ps);
          ps.forEach((p, i) => {
            expect(adj[i]!).toBeGreaterThanOrEqual(p);
            expect(adj[i]!).toBeLessThanOrEqual(1);
            ps.forEach((q, j) => {
              if (p < q) expect(adj[i]!).toBeLessThanOrEqual(adj[j]!);
            });
          });
        },
      ),
    );
    expect(holmAdjust([0.01, Number.NaN, 0.04])).toEqual([0.02, Number.NaN, 0.04]);
  });

  it('sample size: more power or a smaller effect needs more units', () => {
    const base = requiredSampleSize({ test: 'proportions', p1: 0.1, p2: 0.12 }).n;
    expect(requiredSampleSize({ test: 'proportions', p1: 0.1, p2: 0.12, power: 0.9 }).n).toBeGreaterThan(
      base,
    );
    expect(requiredSampleSize({ test: 'proportions', p1: 0.1, p2: 0.11 }).n).toBeGreaterThan(base);
    const means = requiredSampleSize({ test: 'means', delta: 0.1, sd: 1 });
    expect(means.n).toBeGreaterThan(1500);
    expect(means.nPerGroup).toBe(Math.ceil(means.n));
  });
});

describe('stats input errors are RangeErrors that name the argument', () => {
  it('proportions', () => {
    expect(() => twoProportionZTest({ successes: 1, trials: 0 }, { successes: 1, trials: 2 })).toThrow(
      /a\.trials/,
    );
    expect(() => twoProportionZTest({ successes: 1, trials: 2 }, { successes: -1, trials: 2 })).toThrow(
      /b\.successes/,
    );
    expect(() =>
      twoProportionZTest({ successes: 1, trials: 2 }, { successes: 1, trials: 2 }, { confidenceLevel: 1 }),
    ).toThrow(/confidenceLevel/);
    expect(() =>
      // @ts-expect-error: wrong alternative on purpose
      twoProportionZTest({ successes: 1, trials: 2 }, { successes: 1, trials: 2 }, { alternative: 'both' }),
    ).toThrow(/alternative/);
  });
  it('no variance in either proportion: z = 0 and p = 1 (R: NaN)', () => {
    const r = twoProportionZTest({ successes: 0, trials: 50 }, { successes: 0, trials: 80 });
    expect(r.z).toBe(0);
    expect(r.pValue).toBe(1);
  });
  it('t-tests', () => {
    expect(() => welchTTest([1], [1, 2, 3])).toThrow(/at least 2/);
    expect(() => welchTTest([2, 2, 2], [2, 2])).toThrow(/essentially constant/);
    expect(() => welchTTest([], [1, 2])).toThrow(/a has no observations/);
  });
  it('chi-square', () => {
    expect(() => chiSquareGoodnessOfFit([5])).toThrow(/at least 2/);
    expect(() => chiSquareGoodnessOfFit([5, 5], [1, 1, 1])).toThrow(/expected has 3/);
    expect(() => chiSquareGoodnessOfFit([5, -1])).toThrow(/observed\[1\]/);
    expect(() => chiSquareGoodnessOfFit([5, 5], [1, 0])).toThrow(/expected\[1\]/);
    expect(() => chiSquareIndependence([[1, 2]])).toThrow(/2 rows/);
    expect(() => chiSquareIndependence([[1, 2], [3]])).toThrow(/table\[1\]/);
    expect(() =>
      chiSquareIndependence([
        [0, 2],
        [0, 3],
      ]),
    ).toThrow(/column 0/);
  });
  it('holm and sample size', () => {
    expect(() => holmAdjust([0.5, 2])).toThrow(/pValues\[1\]/);
    expect(() => requiredSampleSize({ test: 'proportions', p1: 0.1, p2: 0.1 })).toThrow(/differ/);
    expect(() => requiredSampleSize({ test: 'means', delta: 0 })).toThrow(/delta/);
    expect(() => requiredSampleSize({ test: 'means', delta: 1, power: 1 })).toThrow(/power/);
  });
  it('lift is NaN when the control mean is 0', () => {
    expect(relativeLift({ n: 10, mean: 1, variance: 1 }, { n: 10, mean: 0, variance: 1 }).lift).toBeNaN();
  });
});
