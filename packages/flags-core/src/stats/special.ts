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
