// Special functions behind the distributions, all in log space where tails matter.

/** log(1 − e^a) for a ≤ 0 without cancellation (Mächler 2012, "Accurately computing log(1 − exp(−|a|))"). */
export function log1mexp(a: number): number {
  if (a > 0 || Number.isNaN(a)) return Number.NaN;
  return a > -Math.LN2 ? Math.log(-Math.expm1(a)) : Math.log1p(-Math.exp(a));
}

/** log(e^a + e^b) without overflow. */
export function logAddExp(a: number, b: number): number {
  if (a === Number.NEGATIVE_INFINITY) return b;
  if (b === Number.NEGATIVE_INFINITY) return a;
  const m = Math.max(a, b);
  return m + Math.log1p(Math.exp(-Math.abs(a - b)));
}

const HALF_LOG_2PI = 0.9189385332046728;

// Stirling-series remainder c(x) = lgamma(x) − [(x − ½) log x − x + ½ log 2π], for x ≥ 10.
// Coefficients B_{2k} / (2k (2k − 1)).
function stirlingCorrection(x: number): number {
  const r = 1 / (x * x);
  return (
    (1 / 12 +
      r *
        (-1 / 360 +
          r *
            (1 / 1260 +
              r *
                (-1 / 1680 + r * (1 / 1188 + r * (-691 / 360360 + r * (1 / 156 + r * (-3617 / 122400)))))))) /
    x
  );
}

/** log Γ(x) for x > 0, accurate to a few ulps in absolute terms (so exp(lgamma) is accurate). */
export function lgamma(x: number): number {
  if (Number.isNaN(x) || x <= 0) return Number.NaN;
  if (x === Number.POSITIVE_INFINITY) return Number.POSITIVE_INFINITY;
  if (x === 1 || x === 2) return 0;
  let shift = 0;
  // Shift up with Γ(x) = Γ(x + n) / (x (x + 1) … (x + n − 1)); the product stays far from overflow.
  let product = 1;
  while (x < 10) {
    product *= x;
    x += 1;
    if (product > 1e280) {
      shift += Math.log(product);
      product = 1;
    }
  }
  shift += Math.log(product);
  return (x - 0.5) * Math.log(x) - x + HALF_LOG_2PI + stirlingCorrection(x) - shift;
}

/** lgamma(a) − lgamma(a + b) for a ≥ 10, without the cancellation of two large numbers. */
function lgammaRatio(a: number, b: number): number {
  return (
    -b * Math.log(a) -
    (a + b - 0.5) * Math.log1p(b / a) +
    b +
    stirlingCorrection(a) -
    stirlingCorrection(a + b)
  );
}

/** log B(a, b) = lgamma(a) + lgamma(b) − lgamma(a + b), stable when a or b is large. */
export function logBeta(a: number, b: number): number {
  const big = Math.max(a, b);
  const small = Math.min(a, b);
  if (big >= 10) return lgamma(small) + lgammaRatio(big, small);
  return lgamma(a) + lgamma(b) - lgamma(a + b);
}

const TINY = 1e-300;
const EPS = 1e-16;
const MAX_ITERATIONS = 1_000_000;

/** A regularized incomplete function and its complement, both as natural logarithms. */
export interface LogTails {
  /** log of the lower regularized value (I_x(a, b) or P(a, x)). */
  lower: number;
  /** log of the complement (1 − I_x(a, b) or Q(a, x)). */
  upper: number;
}

// Continued fraction of I_x(a, b) · a B(a, b) / (x^a y^b) (Numerical Recipes §6.4 form), by modified
// Lentz; converges fast for x < (a + 1) / (a + b + 2).
function betaContinuedFraction(a: number, b: number, x: number): number {
  const qab = a + b;
  const qap = a + 1;
  const qam = a - 1;
  let c = 1;
  let d = 1 - (qab * x) / qap;
  if (Math.abs(d) < TINY) d = TINY;
  d = 1 / d;
  let h = d;
  for (let m = 1; m < MAX_ITERATIONS; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < EPS) break;
  }
  return h;
}

/**
 * Regularized incomplete beta I_x(a, b) and its complement in log space. The caller passes
 * x and y = 1 − x (each computed without cancellation) and their logarithms, so that tails far
 * below 1e-300 keep full relative accuracy.
 */
export function logIncompleteBeta(
  a: number,
  b: number,
  x: number,
  y: number,
  logX: number,
  logY: number,
): LogTails {
  if (logX === Number.NEGATIVE_INFINITY) return { lower: Number.NEGATIVE_INFINITY, upper: 0 };
  if (logY === Number.NEGATIVE_INFINITY) return { lower: 0, upper: Number.NEGATIVE_INFINITY };
  const logFront = a * logX + b * logY - logBeta(a, b);
  if (x < (a + 1) / (a + b + 2)) {
    const lower = logFront - Math.log(a) + Math.log(betaContinuedFraction(a, b, x));
    return { lower, upper: log1mexp(lower) };
  }
  const upper = logFront - Math.log(b) + Math.log(betaContinuedFraction(b, a, y));
  return { lower: log1mexp(upper), upper };
}

// log(x^a e^−x / Γ(a)) — for a ≥ 10 through the Stirling form so that no two large numbers cancel:
// a log x − x − lgamma(a) = −a (u − log(1 + u)) + ½ log a − ½ log 2π − c(a),  u = (x − a)/a.
function logGammaFront(a: number, x: number): number {
  if (a < 10) return a * Math.log(x) - x - lgamma(a);
  const u = (x - a) / a;
  const logRatio = Math.abs(u) < 0.5 ? Math.log1p(u) : Math.log(x / a);
  return -a * (u - logRatio) + 0.5 * Math.log(a) - HALF_LOG_2PI - stirlingCorrection(a);
}

/** Regularized incomplete gamma P(a, x) and Q(a, x) = 1 − P(a, x), in log space. */
export function logIncompleteGamma(a: number, x: number): LogTails {
  if (x <= 0) return { lower: Number.NEGATIVE_INFINITY, upper: 0 };
  if (x === Number.POSITIVE_INFINITY) return { lower: 0, upper: Number.NEGATIVE_INFINITY };
  const front = logGammaFront(a, x);
  if (x < a + 1) {
    // P(a, x) = x^a e^−x / Γ(a + 1) · Σ x^n / ((a + 1) … (a + n))
    let term = 1;
    let sum = 1;
    for (let n = 1; n < MAX_ITERATIONS; n++) {
      term *= x / (a + n);
      sum += term;
      if (term < sum * EPS) break;
    }
    const lower = front - Math.log(a) + Math.log(sum);
    return { lower, upper: log1mexp(lower) };
  }
  // Q(a, x) by the Legendre continued fraction, modified Lentz.
  let b = x + 1 - a;
  let c = 1 / TINY;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < MAX_ITERATIONS; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < TINY) d = TINY;
    c = b + an / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < EPS) break;
  }
  const upper = front + Math.log(h);
  return { lower: log1mexp(upper), upper };
}
