import { jStat } from 'jstat';
import * as ss from 'simple-statistics';
import { describe, expect, it } from 'vitest';
import { chiSquare, normal, studentT, studentTTest, summarize, welchTTest } from '../../src/stats/index';

// Independent implementations as oracles, used only where they are accurate to well past six digits:
// jStat's incomplete beta/gamma and erf in the body of the distributions, simple-statistics' exact sums.
// (Their tails and quantiles are not accurate enough; those are checked against R.)

const REL = 5e-7;
const close = (actual: number, expected: number, what: string) => {
  const e = Math.abs(actual - expected) / Math.abs(expected);
  if (!(e <= REL)) expect.fail(`${what}: ${actual} vs oracle ${expected} (relative error ${e})`);
};

// A small seeded generator (mulberry32) so the samples are the same on every run.
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

function sample(n: number, random: () => number, scale: number, shift: number): number[] {
  return Array.from({ length: n }, () => shift + scale * (random() + random() + random() - 1.5));
}

describe('oracle: jStat', () => {
  it('Student t cdf in the body of the distribution', () => {
    let checked = 0;
    for (const df of [1, 2, 3.5, 7, 12, 30, 200]) {
      for (let t = -6; t <= 6; t += 0.25) {
        close(studentT.cdf(t, df), jStat.studentt.cdf(t, df), `pt(${t}, ${df})`);
        checked++;
      }
    }
    expect(checked).toBe(7 * 49);
  });
  it('normal cdf for |x| ≤ 5', () => {
    for (let x = -5; x <= 5; x += 0.125) close(normal.cdf(x), jStat.normal.cdf(x, 0, 1), `pnorm(${x})`);
  });
  it('chi-square cdf and sf in the body', () => {
    for (const df of [1, 2, 3, 5, 10, 40]) {
      for (const x of [0.1, 0.5, 1, 2, 4, 8, 15, 30, 60]) {
        const oracle = jStat.chisquare.cdf(x, df);
        close(chiSquare.cdf(x, df), oracle, `pchisq(${x}, ${df})`);
        if (1 - oracle > 1e-6) close(chiSquare.sf(x, df), 1 - oracle, `pchisq(${x}, ${df}, lower = FALSE)`);
      }
    }
  });
  it('two-sided t-test p-value from jStat.ttest on the same statistic', () => {
    const random = rng(7);
    for (let i = 0; i < 20; i++) {
      const a = sample(10 + i, random, 3, 0);
      const b = sample(25 - i, random, 5, 1);
      const w = welchTTest(a, b);
      close(w.pValue, jStat.ttest(w.t, w.df + 1, 2), `Welch p (${i})`);
    }
  });
});

describe('oracle: simple-statistics', () => {
  it('mean and sample variance', () => {
    const random = rng(11);
    for (let i = 0; i < 50; i++) {
      const values = sample(2 + i * 7, random, 10 ** (i % 5), i * 100);
      const s = summarize(values);
      close(s.mean, ss.mean(values), 'mean');
      close(s.variance, ss.sampleVariance(values), 'variance');
    }
  });
  it('Student t statistic equals tTestTwoSample', () => {
    const random = rng(13);
    for (let i = 0; i < 20; i++) {
      const a = sample(5 + i, random, 2, 0);
      const b = sample(30 - i, random, 2, 0.5);
      close(studentTTest(a, b).t, ss.tTestTwoSample(a, b, 0)!, `t (${i})`);
      close(studentTTest(a, b, { mu: 0.25 }).t, ss.tTestTwoSample(a, b, 0.25)!, `t with mu (${i})`);
    }
  });
});
