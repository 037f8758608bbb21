// Two-sample test of proportions, as R's `prop.test(x = c(a, b), n = c(na, nb), correct = FALSE)`:
// the statistic is the pooled z (z² is R's X-squared), the confidence interval of the difference is
// the unpooled Wald interval, clipped to [−1, 1] like R's.

import { normal } from './normal';

/** Which way the alternative hypothesis points, as R's `alternative`. `less`: a − b < 0. */
export type Alternative = 'two.sided' | 'less' | 'greater';

export interface ProportionSample {
  /** Units that converted (non-negative integer count ≤ trials). */
  successes: number;
  /** Units observed (> 0). */
  trials: number;
}

export interface ProportionTestOptions {
  /** Default `'two.sided'`. */
  alternative?: Alternative;
  /** Default 0.95. */
  confidenceLevel?: number;
}

export interface ProportionTestResult {
  /** Pooled z statistic, (p̂a − p̂b) / √(p̄(1 − p̄)(1/na + 1/nb)). */
  z: number;
  /** R's `X-squared` (z²). */
  chiSquare: number;
  pValue: number;
  /** log of `pValue`, exact even where `pValue` underflows to 0. */
  logPValue: number;
  /** Confidence interval of p̂a − p̂b (unpooled, clipped to [−1, 1]; one-sided: one end is ∓1). */
  ci: [number, number];
  /** p̂a − p̂b. */
  difference: number;
  /** Unpooled standard error of the difference, √(p̂a(1 − p̂a)/na + p̂b(1 − p̂b)/nb). */
  stderr: number;
  estimates: [number, number];
  confidenceLevel: number;
  alternative: Alternative;
}

function checkSample(s: ProportionSample, name: string): void {
  if (!Number.isFinite(s.trials) || s.trials <= 0) {
    throw new RangeError(`${name}.trials must be a positive finite number, got ${s.trials}`);
  }
  if (!Number.isFinite(s.successes) || s.successes < 0 || s.successes > s.trials) {
    throw new RangeError(`${name}.successes must be between 0 and ${name}.trials, got ${s.successes}`);
  }
}

export function checkConfidenceLevel(level: number): void {
  if (!(level > 0 && level < 1)) throw new RangeError(`confidenceLevel must be in (0, 1), got ${level}`);
}

export function checkAlternative(alternative: string): void {
  if (alternative !== 'two.sided' && alternative !== 'less' && alternative !== 'greater') {
    throw new RangeError(`alternative must be 'two.sided', 'less' or 'greater', got ${alternative}`);
  }
}

/** log p-value of a statistic with a standard-normal null distribution. */
export function normalLogPValue(z: number, alternative: Alternative): number {
  if (alternative === 'less') return normal.logCdf(z);
  if (alternative === 'greater') return normal.logSf(z);
  return Math.LN2 + normal.logSf(Math.abs(z));
}

/**
 * Pooled two-proportion z-test of a against b (difference = a − b), like R's
 * `prop.test(c(a.successes, b.successes), c(a.trials, b.trials), alternative, conf.level, correct = FALSE)`.
 *
 * When both samples are all successes or all failures the pooled variance is 0: R answers NaN;
 * here z = 0 and the p-value is 1 (the data show no difference at all).
 */
export function twoProportionZTest(
  a: ProportionSample,
  b: ProportionSample,
  options: ProportionTestOptions = {},
): ProportionTestResult {
  checkSample(a, 'a');
  checkSample(b, 'b');
  const alternative = options.alternative ?? 'two.sided';
  const confidenceLevel = options.confidenceLevel ?? 0.95;
  checkAlternative(alternative);
  checkConfidenceLevel(confidenceLevel);

  const pa = a.successes / a.trials;
  const pb = b.successes / b.trials;
  const difference = pa - pb;
  const pooled = (a.successes + b.successes) / (a.trials + b.trials);
  const pooledSe = Math.sqrt(pooled * (1 - pooled) * (1 / a.trials + 1 / b.trials));
  const z = pooledSe > 0 ? difference / pooledSe : 0;
  const logPValue = pooledSe > 0 ? normalLogPValue(z, alternative) : 0;

  const stderr = Math.sqrt((pa * (1 - pa)) / a.trials + (pb * (1 - pb)) / b.trials);
  let ci: [number, number];
  if (alternative === 'two.sided') {
    const width = normal.quantile((1 + confidenceLevel) / 2) * stderr;
    ci = [Math.max(difference - width, -1), Math.min(difference + width, 1)];
  } else {
    const width = normal.quantile(confidenceLevel) * stderr;
    ci =
      alternative === 'less' ? [-1, Math.min(difference + width, 1)] : [Math.max(difference - width, -1), 1];
  }
  return {
    z,
    chiSquare: z * z,
    pValue: Math.exp(logPValue),
    logPValue,
    ci,
    difference,
    stderr,
    estimates: [pa, pb],
    confidenceLevel,
    alternative,
  };
}
