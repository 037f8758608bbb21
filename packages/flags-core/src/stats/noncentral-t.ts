// Noncentral t distribution, for the power of t-tests (as R's `pt(q, df, ncp)`).
// Series of Lenth (1989, Applied Statistics algorithm AS 243): for t ≥ 0, with x = t²/(t² + ν), λ = δ²/2,
//   F(t; ν, δ) = Φ(−δ) + ½ Σ_j [ p_j I_x(j + ½, ν/2) + q_j I_x(j + 1, ν/2) ],
//   p_j = e^−λ λ^j / j!,   q_j = δ e^−λ λ^j / (√2 Γ(j + 3/2)),
// summed outward from the Poisson mode so large noncentralities stay accurate.

import { normal } from './normal';
import { lgamma, logIncompleteBeta } from './special';

const NEGLIGIBLE = 1e-20;

function cdfNonNegative(t: number, df: number, ncp: number): number {
  const base = normal.cdf(-ncp);
  if (t === 0) return base;
  const t2 = t * t;
  const x = t2 / (t2 + df);
  const y = df / (t2 + df);
  const logX = Math.log(x);
  const logY = Math.log(y);
  const lambda = (ncp * ncp) / 2;
  const logLambda = Math.log(lambda);
  const halfDf = df / 2;
  const sign = ncp < 0 ? -1 : 1;
  const term = (j: number): { value: number; weight: number } => {
    const logP =
      lambda > 0 ? -lambda + j * logLambda - lgamma(j + 1) : j === 0 ? 0 : Number.NEGATIVE_INFINITY;
    const logQ =
      lambda > 0
        ? Math.log(Math.abs(ncp)) - lambda + j * logLambda - 0.5 * Math.LN2 - lgamma(j + 1.5)
        : Number.NEGATIVE_INFINITY;
    const p = Math.exp(logP);
    const q = sign * Math.exp(logQ);
    const ip = p > 0 ? Math.exp(logIncompleteBeta(j + 0.5, halfDf, x, y, logX, logY).lower) : 0;
    const iq = q !== 0 ? Math.exp(logIncompleteBeta(j + 1, halfDf, x, y, logX, logY).lower) : 0;
    return { value: p * ip + q * iq, weight: p + Math.abs(q) };
  };
  const mode = Math.floor(lambda);
  let sum = 0;
  for (let j = mode; j >= 0; j--) {
    const { value, weight } = term(j);
    sum += value;
    if (weight < NEGLIGIBLE && j < mode) break;
  }
  for (let j = mode + 1; j < mode + 100_000; j++) {
    const { value, weight } = term(j);
    sum += value;
    if (weight < NEGLIGIBLE) break;
  }
  return Math.min(1, Math.max(0, base + 0.5 * sum));
}

/** P(T ≤ t) for the noncentral t with `df` degrees of freedom and noncentrality `ncp`. */
function cdf(t: number, df: number, ncp: number): number {
  if (Number.isNaN(t) || !(df > 0) || !Number.isFinite(ncp)) return Number.NaN;
  if (t === Number.POSITIVE_INFINITY) return 1;
  if (t === Number.NEGATIVE_INFINITY) return 0;
  return t >= 0 ? cdfNonNegative(t, df, ncp) : 1 - cdfNonNegative(-t, df, -ncp);
}

/**
 * The noncentral t distribution (absolute accuracy ~1e-15; meant for power calculations, where
 * neither tail is tiny — it is not a log-space implementation).
 */
export const noncentralT = {
  cdf,
  sf: (t: number, df: number, ncp: number): number => 1 - cdf(t, df, ncp),
} as const;
