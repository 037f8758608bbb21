// Descriptive summaries: the sufficient statistics every test in this folder consumes.

/** n, mean and sample variance (denominator n − 1; NaN when n < 2). */
export interface Summary {
  n: number;
  mean: number;
  variance: number;
}

/** Summary of a sample, by two passes (mean first, then centred squares) so large offsets do not cancel. */
export function summarize(values: ArrayLike<number>): Summary {
  const n = values.length;
  if (n === 0) return { n: 0, mean: Number.NaN, variance: Number.NaN };
  let sum = 0;
  for (let i = 0; i < n; i++) sum += values[i]!;
  let mean = sum / n;
  // One correction step (the mean of the residuals) recovers the digits lost in the first sum.
  let residual = 0;
  for (let i = 0; i < n; i++) residual += values[i]! - mean;
  mean += residual / n;
  if (n < 2) return { n, mean, variance: Number.NaN };
  let squares = 0;
  for (let i = 0; i < n; i++) {
    const d = values[i]! - mean;
    squares += d * d;
  }
  return { n, mean, variance: squares / (n - 1) };
}

/** Running sums of a sample, as a database keeps them: count, Σx and Σx². */
export interface SampleSums {
  n: number;
  sum: number;
  sumSquares: number;
}

/**
 * Summary from running sums (Σx, Σx²). Exact for 0/1 conversions and counts; for continuous values
 * with a mean far larger than their spread, prefer `summarize` (the difference of squares cancels).
 */
export function summarizeSums(sums: SampleSums): Summary {
  const { n, sum, sumSquares } = sums;
  if (!(n > 0)) return { n: 0, mean: Number.NaN, variance: Number.NaN };
  const mean = sum / n;
  if (n < 2) return { n, mean, variance: Number.NaN };
  const variance = Math.max(0, (sumSquares - sum * mean) / (n - 1));
  return { n, mean, variance };
}
