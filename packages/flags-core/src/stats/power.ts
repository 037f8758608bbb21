// Power and sample size, as R's `power.prop.test` and `power.t.test` (stats package).

import { noncentralT } from './noncentral-t';
import { normal } from './normal';
import { studentT } from './t-distribution';

/** `two.sided` (default) or `one.sided`, as R's `power.*.test(alternative)`. */
export type PowerAlternative = 'two.sided' | 'one.sided';

interface PowerCommon {
  /** Significance level, default 0.05. */
  alpha?: number;
  alternative?: PowerAlternative;
  /** Also count rejections in the wrong tail of a two-sided test (R's `strict = TRUE`). Default false. */
  strict?: boolean;
}

export interface ProportionPowerSpec extends PowerCommon {
  test: 'proportions';
  /** Conversion rate of one group (e.g. control). */
  p1: number;
  /** Conversion rate of the other group (e.g. control × (1 + MDE)). */
  p2: number;
}

export interface MeanPowerSpec extends PowerCommon {
  test: 'means';
  /** The true difference of means to detect (its absolute value is used). */
  delta: number;
  /** Standard deviation of one unit's value, default 1. */
  sd?: number;
  /** Default `'two.sample'` (two groups of n each); `one.sample` / `paired`: n pairs. */
  type?: 'two.sample' | 'one.sample' | 'paired';
}

export type PowerSpec = ProportionPowerSpec | MeanPowerSpec;

export interface SampleSizeResult {
  /** Units per group at which the power is reached, unrounded (R's `n`). */
  n: number;
  /** `ceil(n)`: the units per group to collect. */
  nPerGroup: number;
  /** The target power. */
  power: number;
}

function checkProbability(value: number, name: string, open = true): void {
  const ok = open ? value > 0 && value < 1 : value >= 0 && value <= 1;
  if (!ok || Number.isNaN(value))
    throw new RangeError(`${name} must be in ${open ? '(0, 1)' : '[0, 1]'}, got ${value}`);
}

function sides(spec: PowerSpec): number {
  const alternative = spec.alternative ?? 'two.sided';
  if (alternative !== 'two.sided' && alternative !== 'one.sided') {
    throw new RangeError(`alternative must be 'two.sided' or 'one.sided', got ${alternative}`);
  }
  return alternative === 'two.sided' ? 2 : 1;
}

/** Power of the test for `n` units per group (R's `power.prop.test(n = …)$power` / `power.t.test`). */
export function powerOf(spec: PowerSpec, n: number): number {
  const alpha = spec.alpha ?? 0.05;
  checkProbability(alpha, 'alpha');
  const tside = sides(spec);
  const strict = spec.strict === true && tside === 2;
  if (spec.test === 'proportions') {
    const { p1, p2 } = spec;
    checkProbability(p1, 'p1', false);
    checkProbability(p2, 'p2', false);
    const qu = normal.quantile(alpha / tside, { lowerTail: false });
    const d = Math.abs(p1 - p2);
    const spread = Math.sqrt(p1 * (1 - p1) + p2 * (1 - p2));
    const pooled = Math.sqrt((p1 + p2) * (1 - (p1 + p2) / 2));
    let power = normal.cdf((Math.sqrt(n) * d - qu * pooled) / spread);
    if (strict) power += normal.sf((Math.sqrt(n) * d + qu * pooled) / spread);
    return power;
  }
  const sd = spec.sd ?? 1;
  if (!(sd > 0)) throw new RangeError(`sd must be > 0, got ${sd}`);
  if (!Number.isFinite(spec.delta)) throw new RangeError('delta must be finite');
  const tsample = (spec.type ?? 'two.sample') === 'two.sample' ? 2 : 1;
  const nu = (n - 1) * tsample;
  const qu = studentT.quantile(alpha / tside, nu, { lowerTail: false });
  const ncp = (Math.sqrt(n / tsample) * Math.abs(spec.delta)) / sd;
  let power = noncentralT.sf(qu, nu, ncp);
  if (strict) power += noncentralT.cdf(-qu, nu, ncp);
  return power;
}

/**
 * Units per group needed to reach `power` (default 0.8) — R's `power.prop.test(p1, p2, power)` and
 * `power.t.test(delta, sd, power)` solved for `n`. R solves with `uniroot(tol = eps^0.25)`, so its
 * printed n can differ from the exact root in the 5th significant digit; this function returns the
 * root to ~1e-12 (R's answer with `tol = 1e-12`).
 */
export function requiredSampleSize(spec: PowerSpec & { power?: number }): SampleSizeResult {
  const power = spec.power ?? 0.8;
  checkProbability(power, 'power');
  const alpha = spec.alpha ?? 0.05;
  checkProbability(alpha, 'alpha');
  const tside = sides(spec);
  if (spec.test === 'proportions') {
    if (spec.p1 === spec.p2) throw new RangeError('p1 and p2 must differ');
    if (spec.strict !== true || tside === 1) {
      // Closed form of power.prop.test's equation.
      const { p1, p2 } = spec;
      checkProbability(p1, 'p1', false);
      checkProbability(p2, 'p2', false);
      const qu = normal.quantile(alpha / tside, { lowerTail: false });
      const root =
        (qu * Math.sqrt((p1 + p2) * (1 - (p1 + p2) / 2)) +
          normal.quantile(power) * Math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))) /
        Math.abs(p1 - p2);
      const n = root * root;
      return { n, nPerGroup: Math.ceil(n), power };
    }
  } else if (spec.delta === 0) {
    throw new RangeError('delta must be non-zero');
  }
  const n = solveForN((n) => powerOf(spec, n) - power);
  return { n, nPerGroup: Math.ceil(n), power };
}

// Root of an increasing function of n on [2, ∞): bracket by doubling, then bisect to ~1e-13.
function solveForN(f: (n: number) => number): number {
  let lo = 2;
  if (f(lo) >= 0) return lo;
  let hi = 4;
  while (f(hi) < 0) {
    lo = hi;
    hi *= 2;
    if (hi > 1e15) throw new RangeError('the effect is too small to reach the power with any sample size');
  }
  for (let i = 0; i < 200 && hi - lo > 1e-13 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (f(mid) < 0) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}
