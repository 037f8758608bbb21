// Two-sample t-tests, as R's `t.test(a, b, alternative, mu, conf.level, var.equal)`.

import { type Alternative, checkAlternative, checkConfidenceLevel } from './proportions';
import { type Summary, summarize } from './summarize';
import { studentT } from './t-distribution';

export interface TTestOptions {
  /** Default `'two.sided'`; `less` means mean(a) − mean(b) < mu. */
  alternative?: Alternative;
  /** Default 0.95. */
  confidenceLevel?: number;
  /** Hypothesised difference of means under the null, default 0. */
  mu?: number;
}

export interface TTestResult {
  t: number;
  df: number;
  pValue: number;
  /** log of `pValue`, exact even where `pValue` underflows to 0. */
  logPValue: number;
  /** Confidence interval of mean(a) − mean(b); one-sided tests have an infinite end, as in R. */
  ci: [number, number];
  /** mean(a) − mean(b). */
  difference: number;
  /** Standard error of the difference. */
  stderr: number;
  estimates: [number, number];
  confidenceLevel: number;
  alternative: Alternative;
  mu: number;
}

/** A sample as raw values or as its summary { n, mean, variance } (sample variance). */
export type Sample = ArrayLike<number> | Summary;

function toSummary(sample: Sample, name: string): Summary {
  const s =
    'mean' in sample && 'variance' in sample ? (sample as Summary) : summarize(sample as ArrayLike<number>);
  if (!Number.isFinite(s.mean) || !(s.n >= 1)) throw new RangeError(`${name} has no observations`);
  return s;
}

function finish(
  a: Summary,
  b: Summary,
  stderr: number,
  df: number,
  options: TTestOptions,
  alternative: Alternative,
  confidenceLevel: number,
): TTestResult {
  const mu = options.mu ?? 0;
  const difference = a.mean - b.mean;
  if (!(stderr >= 10 * Number.EPSILON * Math.max(Math.abs(a.mean), Math.abs(b.mean)))) {
    throw new RangeError('data are essentially constant: the standard error of the difference is 0');
  }
  const t = (difference - mu) / stderr;
  let logPValue: number;
  let ci: [number, number];
  if (alternative === 'less') {
    logPValue = studentT.logCdf(t, df);
    ci = [Number.NEGATIVE_INFINITY, mu + (t + studentT.quantile(confidenceLevel, df)) * stderr];
  } else if (alternative === 'greater') {
    logPValue = studentT.logSf(t, df);
    ci = [mu + (t - studentT.quantile(confidenceLevel, df)) * stderr, Number.POSITIVE_INFINITY];
  } else {
    logPValue = Math.LN2 + studentT.logSf(Math.abs(t), df);
    const q = studentT.quantile((1 + confidenceLevel) / 2, df);
    ci = [mu + (t - q) * stderr, mu + (t + q) * stderr];
  }
  return {
    t,
    df,
    pValue: Math.exp(logPValue),
    logPValue,
    ci,
    difference,
    stderr,
    estimates: [a.mean, b.mean],
    confidenceLevel,
    alternative,
    mu,
  };
}

function readOptions(options: TTestOptions): { alternative: Alternative; confidenceLevel: number } {
  const alternative = options.alternative ?? 'two.sided';
  const confidenceLevel = options.confidenceLevel ?? 0.95;
  checkAlternative(alternative);
  checkConfidenceLevel(confidenceLevel);
  if (options.mu !== undefined && !Number.isFinite(options.mu)) throw new RangeError('mu must be finite');
  return { alternative, confidenceLevel };
}

/** Welch's unequal-variance t-test of a against b (R's `t.test(a, b, var.equal = FALSE)`). */
export function welchTTest(a: Sample, b: Sample, options: TTestOptions = {}): TTestResult {
  const { alternative, confidenceLevel } = readOptions(options);
  const sa = toSummary(a, 'a');
  const sb = toSummary(b, 'b');
  if (sa.n < 2 || sb.n < 2) throw new RangeError('each sample needs at least 2 observations');
  const va = sa.variance / sa.n;
  const vb = sb.variance / sb.n;
  const stderr = Math.sqrt(va + vb);
  // Welch–Satterthwaite degrees of freedom.
  const df = (va + vb) ** 2 / ((va * va) / (sa.n - 1) + (vb * vb) / (sb.n - 1));
  return finish(sa, sb, stderr, df, options, alternative, confidenceLevel);
}

/** Student's equal-variance t-test of a against b (R's `t.test(a, b, var.equal = TRUE)`). */
export function studentTTest(a: Sample, b: Sample, options: TTestOptions = {}): TTestResult {
  const { alternative, confidenceLevel } = readOptions(options);
  const sa = toSummary(a, 'a');
  const sb = toSummary(b, 'b');
  if (sa.n + sb.n < 3) throw new RangeError('the two samples need at least 3 observations together');
  const df = sa.n + sb.n - 2;
  const pooled = ((sa.n > 1 ? (sa.n - 1) * sa.variance : 0) + (sb.n > 1 ? (sb.n - 1) * sb.variance : 0)) / df;
  const stderr = Math.sqrt(pooled * (1 / sa.n + 1 / sb.n));
  return finish(sa, sb, stderr, df, options, alternative, confidenceLevel);
}
