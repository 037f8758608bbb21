// Chi-square distribution (regularized upper incomplete gamma, log space) and Pearson's tests, as
// R's `chisq.test`.

import { logIncompleteGamma } from './special';

function logSf(x: number, df: number): number {
  if (Number.isNaN(x) || !(df > 0)) return Number.NaN;
  if (x <= 0) return 0;
  return logIncompleteGamma(df / 2, x / 2).upper;
}

function logCdf(x: number, df: number): number {
  if (Number.isNaN(x) || !(df > 0)) return Number.NaN;
  if (x <= 0) return Number.NEGATIVE_INFINITY;
  return logIncompleteGamma(df / 2, x / 2).lower;
}

/** The chi-square distribution with `df` degrees of freedom: `cdf`, `sf` and their natural logs. */
export const chiSquare = {
  cdf: (x: number, df: number): number => Math.exp(logCdf(x, df)),
  sf: (x: number, df: number): number => Math.exp(logSf(x, df)),
  logCdf,
  logSf,
} as const;

export interface ChiSquareResult {
  statistic: number;
  df: number;
  pValue: number;
  /** log of `pValue`, exact even where `pValue` underflows to 0. */
  logPValue: number;
  /** Expected counts under the null hypothesis (same shape as the input). */
  expected: number[];
}

function checkCounts(values: ArrayLike<number>, name: string): number {
  let total = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v) || v < 0)
      throw new RangeError(`${name}[${i}] must be a finite count ≥ 0, got ${v}`);
    total += v;
  }
  return total;
}

/**
 * Pearson's goodness-of-fit test (R's `chisq.test(observed, p = expected, rescale.p = TRUE)`).
 * `expected` may be weights, proportions or counts: it is rescaled to the observed total.
 * Without `expected`, all categories are equally likely. This is the sample-ratio-mismatch check.
 */
export function chiSquareGoodnessOfFit(
  observed: ArrayLike<number>,
  expected?: ArrayLike<number>,
): ChiSquareResult {
  const k = observed.length;
  if (k < 2) throw new RangeError('observed needs at least 2 categories');
  const n = checkCounts(observed, 'observed');
  if (!(n > 0)) throw new RangeError('observed has no observations');
  const weights = expected ?? Array.from({ length: k }, () => 1);
  if (weights.length !== k) {
    throw new RangeError(`expected has ${weights.length} categories, observed has ${k}`);
  }
  const weightTotal = checkCounts(weights, 'expected');
  const counts: number[] = [];
  let statistic = 0;
  for (let i = 0; i < k; i++) {
    const e = (n * weights[i]!) / weightTotal;
    if (!(e > 0)) throw new RangeError(`expected[${i}] must be > 0`);
    counts.push(e);
    const d = observed[i]! - e;
    statistic += (d * d) / e;
  }
  const df = k - 1;
  const logPValue = chiSquare.logSf(statistic, df);
  return { statistic, df, pValue: Math.exp(logPValue), logPValue, expected: counts };
}

export interface IndependenceOptions {
  /** Yates' continuity correction, applied to 2 × 2 tables only, as R's default `correct = TRUE`. Default false. */
  correct?: boolean;
}

/**
 * Pearson's test of independence of a contingency table (rows × columns of counts), as R's
 * `chisq.test(table, correct = FALSE)`; `{ correct: true }` applies Yates to 2 × 2 tables like R.
 * `expected` is returned row by row.
 */
export function chiSquareIndependence(
  table: ArrayLike<ArrayLike<number>>,
  options: IndependenceOptions = {},
): ChiSquareResult {
  const rows = table.length;
  const cols = rows > 0 ? table[0]!.length : 0;
  if (rows < 2 || cols < 2) throw new RangeError('table needs at least 2 rows and 2 columns');
  const rowTotals: number[] = [];
  const colTotals = new Array<number>(cols).fill(0);
  for (let r = 0; r < rows; r++) {
    const row = table[r]!;
    if (row.length !== cols) throw new RangeError(`table[${r}] has ${row.length} columns, expected ${cols}`);
    rowTotals.push(checkCounts(row, `table[${r}]`));
    for (let c = 0; c < cols; c++) colTotals[c]! += row[c]!;
  }
  const n = rowTotals.reduce((s, v) => s + v, 0);
  for (let r = 0; r < rows; r++)
    if (!(rowTotals[r]! > 0)) throw new RangeError(`table[${r}] has no observations`);
  for (let c = 0; c < cols; c++)
    if (!(colTotals[c]! > 0)) throw new RangeError(`column ${c} has no observations`);
  const yates = options.correct === true && rows === 2 && cols === 2;
  const expected: number[] = [];
  const deviations: number[] = [];
  let yatesShift = 0.5;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const e = (rowTotals[r]! * colTotals[c]!) / n;
      expected.push(e);
      const d = Math.abs(table[r]![c]! - e);
      deviations.push(d);
      yatesShift = Math.min(yatesShift, d);
    }
  }
  let statistic = 0;
  for (let i = 0; i < expected.length; i++) {
    const d = yates ? deviations[i]! - yatesShift : deviations[i]!;
    statistic += (d * d) / expected[i]!;
  }
  const df = (rows - 1) * (cols - 1);
  const logPValue = chiSquare.logSf(statistic, df);
  return { statistic, df, pValue: Math.exp(logPValue), logPValue, expected };
}
