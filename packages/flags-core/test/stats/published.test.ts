import { describe, expect, it } from 'vitest';
import {
  chiSquareGoodnessOfFit,
  chiSquareIndependence,
  noncentralT,
  normal,
  powerOf,
  requiredSampleSize,
  studentT,
  studentTTest,
  summarize,
  welchTTest,
} from '../../src/stats/index';

/** Agreement to the digits the source printed: half a unit in the last printed place. */
function printed(actual: number, text: string): void {
  const expected = Number(text);
  const mantissa = text.replace(/^-/, '').split('e')[0]!;
  const decimals = mantissa.includes('.') ? mantissa.split('.')[1]!.length : 0;
  const exponent = text.includes('e') ? Number(text.split('e')[1]) : 0;
  const halfUnit = 0.5 * 10 ** (exponent - decimals);
  if (!(Math.abs(actual - expected) <= halfUnit * (1 + 1e-12))) {
    expect.fail(`${actual} does not print as ${text}`);
  }
}

/** Six significant digits (relative 5e-7). */
function six(actual: number, expected: number): void {
  const e = Math.abs(actual - expected) / Math.abs(expected);
  if (!(e <= 5e-7)) expect.fail(`${actual} vs ${expected}: relative error ${e}`);
}

// The outputs of the examples in R's help pages (?t.test, ?prop.test, ?chisq.test, ?power.t.test,
// ?power.prop.test), as R prints them.
describe("published values: R's documented examples", () => {
  // R's `sleep` data: extra sleep (hours) of 10 patients with drug 1 and drug 2.
  const drug1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0];
  const drug2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4];

  it('t.test(extra ~ group, data = sleep): Welch', () => {
    const r = welchTTest(drug1, drug2);
    printed(r.t, '-1.8608');
    printed(r.df, '17.776');
    printed(r.pValue, '0.07939');
    printed(r.ci[0], '-3.3654832');
    printed(r.ci[1], '0.2054832');
    printed(r.estimates[0], '0.75');
    printed(r.estimates[1], '2.33');
  });
  it('t.test(extra ~ group, data = sleep, var.equal = TRUE)', () => {
    const r = studentTTest(drug1, drug2);
    printed(r.df, '18');
    printed(r.ci[0], '-3.363874');
    printed(r.ci[1], '0.203874');
  });
  it('prop.test(smokers, patients) is a 2 × 4 independence test', () => {
    const smokers = [83, 90, 129, 70];
    const patients = [86, 93, 136, 82];
    const r = chiSquareIndependence([smokers, patients.map((n, i) => n - smokers[i]!)]);
    printed(r.statistic, '12.6');
    expect(r.df).toBe(3);
    printed(r.pValue, '0.005585');
  });
  it('chisq.test(M) on the party-by-gender table', () => {
    const r = chiSquareIndependence([
      [762, 327, 468],
      [484, 239, 477],
    ]);
    printed(r.statistic, '30.07');
    expect(r.df).toBe(2);
    printed(r.pValue, '2.954e-07');
  });
  it('chisq.test(c(A = 20, B = 15, C = 25))', () => {
    const r = chiSquareGoodnessOfFit([20, 15, 25]);
    printed(r.statistic, '2.5');
    printed(r.pValue, '0.2865');
  });
  it('power.t.test and power.prop.test examples', () => {
    printed(powerOf({ test: 'means', delta: 1 }, 20), '0.8689528');
    // R's examples solve with uniroot(tol = eps^0.25): the printed n is that approximation.
    expect(Math.abs(requiredSampleSize({ test: 'means', delta: 1, power: 0.9 }).n - 22.0211)).toBeLessThan(
      1e-3,
    );
    expect(
      Math.abs(
        requiredSampleSize({ test: 'means', delta: 1, power: 0.9, alternative: 'one.sided' }).n - 17.84713,
      ),
    ).toBeLessThan(1e-3);
    printed(powerOf({ test: 'proportions', p1: 0.5, p2: 0.75 }, 50), '0.7401659');
    printed(requiredSampleSize({ test: 'proportions', p1: 0.5, p2: 0.75, power: 0.9 }).n, '76.70693');
    expect(requiredSampleSize({ test: 'proportions', p1: 0.5, p2: 0.75, power: 0.9 }).nPerGroup).toBe(77);
  });
});

// NIST Statistical Reference Datasets, univariate summary statistics: the "lower/average/higher
// difficulty" numerical-accuracy sets NumAcc1–NumAcc4 with their certified mean and standard deviation.
describe('published values: NIST StRD univariate NumAcc1–4', () => {
  const alternating = (centre: number, low: number, high: number) => [
    centre,
    ...Array.from({ length: 500 }, () => [low, high]).flat(),
  ];
  const cases: [string, number[], number, number][] = [
    ['NumAcc1', [10000001, 10000003, 10000002], 10000002, 1],
    ['NumAcc2', alternating(1.2, 1.1, 1.3), 1.2, 0.1],
    ['NumAcc3', alternating(1000000.2, 1000000.1, 1000000.3), 1000000.2, 0.1],
    ['NumAcc4', alternating(10000000.2, 10000000.1, 10000000.3), 10000000.2, 0.1],
  ];
  it.each(cases)('%s: certified mean and standard deviation', (_name, values, mean, sd) => {
    const s = summarize(values);
    six(s.mean, mean);
    six(Math.sqrt(s.variance), sd);
  });
});

// Tails far below 1e-20 against exact values computed with 50-digit arithmetic (mpmath betainc /
// ncdf / numerical integration). R agrees where its own algorithms are exact; where R is off
// (qt, qnorm at the extremes; pt with ncp in the lower tail) these are the reference.
describe('published values: extreme tails (50-digit reference)', () => {
  it('Student t lower tails down to 1e-55', () => {
    six(studentT.logCdf(-40, 30), -62.54623464729917);
    six(studentT.cdf(-40, 30), 6.863022597203201e-28);
    six(studentT.cdf(-30, 17.5), 8.525496209695793e-17);
    six(studentT.cdf(-1e8, 3), 1.102657790843584e-24);
    six(studentT.cdf(-60, 60), 1.424303480719926e-55);
    six(studentT.sf(60, 60), 1.424303480719926e-55);
    six(studentT.logSf(40, 3), -10.97116293687033);
  });
  it('quantiles at 1e-300 and log p = −10000', () => {
    six(studentT.quantile(1e-300, 3), -1.033110836044653e100);
    six(normal.quantile(-10000, { logP: true }), -141.3798398731272);
  });
  it('noncentral t lower tail', () => {
    six(noncentralT.cdf(-3, 38, 2.8), 2.044204038107021e-8);
  });
});
