// Standard normal distribution, accurate to ~1e-15 relative in both tails, with every tail
// available in log space (so p-values far below 1e-300 keep their digits: never `1 - cdf`).

import { log1mexp } from './special';

/** Options of a quantile function, as R's `lower.tail` / `log.p`. */
export interface QuantileOptions {
  /** `true` (default): `p` is P(X ≤ x); `false`: `p` is P(X > x). */
  lowerTail?: boolean;
  /** `p` is given as its natural logarithm. */
  logP?: boolean;
}

const LOG_SQRT_2PI = 0.9189385332046728; // log(sqrt(2π))
const SERIES_LIMIT = 2.5;

function logPdf(x: number): number {
  return -0.5 * x * x - LOG_SQRT_2PI;
}

function pdf(x: number): number {
  return Math.exp(logPdf(x));
}

// Φ(x) − 1/2 = φ(x) · Σ x^(2n+1) / (2n+1)!!  — all terms positive, so no cancellation (|x| ≤ 2.5).
function centralSeries(x: number): number {
  const x2 = x * x;
  let term = x;
  let sum = x;
  for (let k = 3; k < 400; k += 2) {
    term *= x2 / k;
    sum += term;
    if (Math.abs(term) <= Math.abs(sum) * 1e-17) break;
  }
  return sum;
}

// Mills ratio R(x) = Q(x)/φ(x) for x > 0 by Laplace's continued fraction
// R(x) = 1/(x + 1/(x + 2/(x + 3/(x + …)))), evaluated with the modified Lentz method.
function millsRatio(x: number): number {
  const tiny = 1e-300;
  let f = x;
  let c = x;
  let d = 0;
  for (let k = 1; k < 5000; k++) {
    d = x + k * d;
    d = d === 0 ? tiny : d;
    c = x + k / c;
    c = c === 0 ? tiny : c;
    d = 1 / d;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return 1 / f;
}

/** log P(Z > x). */
function logSf(x: number): number {
  if (Number.isNaN(x)) return Number.NaN;
  if (x === Number.POSITIVE_INFINITY) return Number.NEGATIVE_INFINITY;
  if (x === Number.NEGATIVE_INFINITY) return 0;
  if (x > SERIES_LIMIT) return logPdf(x) + Math.log(millsRatio(x));
  if (x >= -SERIES_LIMIT) return Math.log(0.5 - pdf(x) * centralSeries(x));
  // Far lower x: Q(x) = 1 − Q(−x) with Q(−x) small.
  return log1mexp(logSf(-x));
}

/** log P(Z ≤ x). */
function logCdf(x: number): number {
  return logSf(-x);
}

/** P(Z ≤ x). */
function cdf(x: number): number {
  return Math.exp(logSf(-x));
}

/** P(Z > x). */
function sf(x: number): number {
  return Math.exp(logSf(x));
}

// Lower-tail quantile for log p ≤ log(1/2) (so the answer is ≤ 0), by Newton's method on log Φ:
// log Φ is concave and increasing, so Newton converges monotonically from any start.
function lowerQuantileFromLog(logP: number): number {
  if (logP === Number.NEGATIVE_INFINITY) return Number.NEGATIVE_INFINITY;
  let x: number;
  if (logP < -3) {
    // Asymptotic start from Q(t) ≈ φ(t)/t.
    let t = Math.sqrt(-2 * logP);
    for (let i = 0; i < 3; i++) t = Math.sqrt(Math.max(1, -2 * logP - 2 * Math.log(t) - 2 * LOG_SQRT_2PI));
    x = -t;
  } else {
    x = -Math.sqrt(Math.max(0, -2 * (logP + Math.LN2))) * 0.8;
  }
  for (let i = 0; i < 100; i++) {
    const lc = logCdf(x);
    const slope = Math.exp(logPdf(x) - lc);
    const step = (lc - logP) / slope;
    x -= step;
    if (Math.abs(step) <= 1e-15 * Math.max(1, Math.abs(x))) break;
  }
  return x;
}

/**
 * Quantile of the standard normal (R's `qnorm(p, lower.tail, log.p)`).
 * Returns NaN for p outside [0, 1] (or log p > 0).
 */
function quantile(p: number, options: QuantileOptions = {}): number {
  const lowerTail = options.lowerTail ?? true;
  let logP: number;
  if (options.logP) {
    if (Number.isNaN(p) || p > 0) return Number.NaN;
    logP = p;
  } else {
    if (Number.isNaN(p) || p < 0 || p > 1) return Number.NaN;
    logP = Math.log(p);
  }
  // Reduce to a lower-tail probability ≤ 1/2 given in logs; use symmetry for the rest.
  const sign = lowerTail ? 1 : -1;
  if (logP === -Math.LN2) return 0;
  if (logP < -Math.LN2) return sign * lowerQuantileFromLog(logP);
  // P ≥ 1/2: the other tail is 1 − P, computed without cancellation.
  const otherLog = options.logP ? log1mexp(logP) : Math.log1p(-p);
  return -sign * lowerQuantileFromLog(otherLog);
}

/** The standard normal distribution: `cdf`, `sf`, their logs, `pdf`, `logPdf`, `quantile`. */
export const normal = {
  pdf,
  logPdf,
  cdf,
  sf,
  logCdf,
  logSf,
  quantile,
} as const;
