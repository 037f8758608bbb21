// Student's t distribution through the regularized incomplete beta function, every tail in log space:
// P(|T| > |t|) = I_{ν/(ν+t²)}(ν/2, ½). Exact (not an approximation) for every ν > 0, including
// non-integer Welch degrees of freedom; ν = ∞ is the standard normal.

import { normal, type QuantileOptions } from './normal';
import { type LogTails, log1mexp, logBeta, logIncompleteBeta } from './special';

function checkDf(df: number): boolean {
  return df > 0 && !Number.isNaN(df);
}

// log P(T ≤ t) and log P(T > t).
function logTails(t: number, df: number): LogTails {
  if (Number.isNaN(t) || !checkDf(df)) return { lower: Number.NaN, upper: Number.NaN };
  if (df === Number.POSITIVE_INFINITY) return { lower: normal.logCdf(t), upper: normal.logSf(t) };
  if (t === 0) return { lower: -Math.LN2, upper: -Math.LN2 };
  if (!Number.isFinite(t)) {
    return t > 0
      ? { lower: 0, upper: Number.NEGATIVE_INFINITY }
      : { lower: Number.NEGATIVE_INFINITY, upper: 0 };
  }
  // x = ν/(ν + t²) and y = t²/(ν + t²) with their logs, from q = t²/ν or r = ν/t² (whichever is ≤ 1),
  // so neither log is the difference of two nearly equal numbers.
  const q = (t * t) / df;
  let logX: number;
  let logY: number;
  if (q <= 1) {
    logX = -Math.log1p(q);
    logY = Math.log(q) - Math.log1p(q);
  } else {
    const logQ = Number.isFinite(q) ? Math.log(q) : 2 * Math.log(Math.abs(t)) - Math.log(df);
    const r = Number.isFinite(q) ? df / (t * t) : Math.exp(-logQ);
    logY = -Math.log1p(r);
    logX = -logQ - Math.log1p(r);
  }
  const x = Math.exp(logX);
  const y = Math.exp(logY);
  // I_y(½, ν/2) = P(|T| ≤ |t|); its complement is P(|T| > |t|).
  const inner = logIncompleteBeta(0.5, df / 2, y, x, logY, logX);
  const far = inner.upper - Math.LN2; // one tail beyond |t|
  const near = log1mexp(far); // 1 − far, no cancellation as far ≤ ½
  return t > 0 ? { lower: near, upper: far } : { lower: far, upper: near };
}

function logPdf(t: number, df: number): number {
  if (Number.isNaN(t) || !checkDf(df)) return Number.NaN;
  if (df === Number.POSITIVE_INFINITY) return normal.logPdf(t);
  const q = (t * t) / df;
  const log1pQ = q > 1e300 ? 2 * Math.log(Math.abs(t)) - Math.log(df) : Math.log1p(q);
  return -0.5 * Math.log(df) - logBeta(df / 2, 0.5) - ((df + 1) / 2) * log1pQ;
}

// Lower-tail quantile for log p < log ½ (answer < 0). Safeguarded Newton in u = asinh(x): in the tails
// log F is nearly linear in log|x| (F ~ C|x|^−ν), so Newton in u converges in a few steps anywhere.
function lowerQuantileFromLog(logP: number, df: number): number {
  if (logP === Number.NEGATIVE_INFINITY) return Number.NEGATIVE_INFINITY;
  const g = (u: number) => logTails(Math.sinh(u), df).lower - logP;
  // Starting points: the normal quantile (too small in magnitude) and the tail asymptote
  // log F ≈ (ν/2 − 1) log ν − log B(ν/2, ½) − ν log|x| (too large in the centre).
  const xNormal = normal.quantile(logP, { logP: true });
  const xTail = -Math.exp(((df / 2 - 1) * Math.log(df) - logBeta(df / 2, 0.5) - logP) / df);
  let lo = Math.asinh(Math.min(xNormal, xTail));
  let hi = 0;
  let glo = g(lo);
  while (glo > 0 && Number.isFinite(lo)) {
    hi = lo;
    lo *= 2;
    glo = g(lo);
  }
  let u = Math.max(Math.asinh(xNormal), lo);
  if (!(u > lo && u < hi)) u = (lo + hi) / 2;
  for (let i = 0; i < 400; i++) {
    const x = Math.sinh(u);
    const tails = logTails(x, df);
    const gu = tails.lower - logP;
    if (gu === 0) return x;
    if (gu > 0) hi = u;
    else lo = u;
    const logSlope = logPdf(x, df) - tails.lower + Math.log(Math.cosh(u));
    let next = u - gu / Math.exp(logSlope);
    if (!(next > lo && next < hi)) next = (lo + hi) / 2;
    const step = Math.abs(next - u);
    u = next;
    if (step <= 2e-16 * Math.abs(u) || hi - lo <= 2e-16 * Math.abs(u)) break;
  }
  return Math.sinh(u);
}

/** Quantile of Student's t with `df` degrees of freedom (R's `qt(p, df, lower.tail, log.p)`). */
function quantile(p: number, df: number, options: QuantileOptions = {}): number {
  if (!checkDf(df)) return Number.NaN;
  if (df === Number.POSITIVE_INFINITY) return normal.quantile(p, options);
  const lowerTail = options.lowerTail ?? true;
  let logP: number;
  if (options.logP) {
    if (Number.isNaN(p) || p > 0) return Number.NaN;
    logP = p;
  } else {
    if (Number.isNaN(p) || p < 0 || p > 1) return Number.NaN;
    logP = Math.log(p);
  }
  const sign = lowerTail ? 1 : -1;
  if (logP === -Math.LN2) return 0;
  if (logP < -Math.LN2) return sign * lowerQuantileFromLog(logP, df);
  const otherLog = options.logP ? log1mexp(logP) : Math.log1p(-p);
  return -sign * lowerQuantileFromLog(otherLog, df);
}

/**
 * Student's t distribution with `df` > 0 degrees of freedom (non-integer allowed; `Infinity` is the
 * normal): `cdf`, `sf` (upper tail), their natural logs, `pdf`, `logPdf` and `quantile`.
 */
export const studentT = {
  pdf: (t: number, df: number): number => Math.exp(logPdf(t, df)),
  logPdf,
  cdf: (t: number, df: number): number => Math.exp(logTails(t, df).lower),
  sf: (t: number, df: number): number => Math.exp(logTails(t, df).upper),
  logCdf: (t: number, df: number): number => logTails(t, df).lower,
  logSf: (t: number, df: number): number => logTails(t, df).upper,
  quantile,
} as const;
