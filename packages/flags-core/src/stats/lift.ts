// Relative lift of a treatment over control with a delta-method confidence interval.

import { checkConfidenceLevel } from './proportions';
import { normal } from './normal';
import type { Summary } from './summarize';

export interface LiftResult {
  /** mean(treatment) / mean(control) − 1. */
  lift: number;
  /** Delta-method standard error of the lift. */
  stderr: number;
  /** Two-sided normal confidence interval lift ± z · stderr. */
  ci: [number, number];
  confidenceLevel: number;
}

/**
 * Relative lift with a first-order delta-method interval: for r = m_t / m_c,
 * Var(r) ≈ s_t² / (n_t m_c²) + m_t² s_c² / (n_c m_c⁴) (independent groups).
 * For a conversion, pass variance p(1 − p) (as the unpooled interval of prop.test does).
 * The lift is undefined (NaN everywhere) when the control mean is 0.
 */
export function relativeLift(
  treatment: Summary,
  control: Summary,
  options: { confidenceLevel?: number } = {},
): LiftResult {
  const confidenceLevel = options.confidenceLevel ?? 0.95;
  checkConfidenceLevel(confidenceLevel);
  const mc = control.mean;
  const mt = treatment.mean;
  if (mc === 0 || !Number.isFinite(mc) || !Number.isFinite(mt)) {
    return { lift: Number.NaN, stderr: Number.NaN, ci: [Number.NaN, Number.NaN], confidenceLevel };
  }
  const lift = mt / mc - 1;
  const variance =
    treatment.variance / (treatment.n * mc * mc) + (mt * mt * control.variance) / (control.n * mc ** 4);
  const stderr = Math.sqrt(variance);
  const z = normal.quantile((1 + confidenceLevel) / 2);
  return { lift, stderr, ci: [lift - z * stderr, lift + z * stderr], confidenceLevel };
}
