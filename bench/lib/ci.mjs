// The mean of benchmark rounds with its confidence interval, by core's statistics (summary and
// Student's t quantile; the bench had a t table of its own). A module of its own: lib/stats.mjs is
// loaded by the workers that measure one product alone in its process, heap included (core/worker.mjs),
// which must not load @rupaya/flags-core for a peer.

import { studentT, summarize as summarizeSample } from '@rupaya/flags-core';

/**
 * Mean of `values` and the half-width of its 95% confidence interval (Student's t, as R's
 * `t.test(values)$conf.int`), by core's summary and t quantile. Half-width NaN with fewer than two values.
 */
export function meanCi(values) {
  const { n, mean, variance } = summarizeSample(values);
  if (n < 2) return { mean, halfWidth: Number.NaN };
  return { mean, halfWidth: studentT.quantile(0.975, n - 1) * Math.sqrt(variance / n) };
}
