// Experiment split: weights (integers summing to 100,000) become cumulative upper bounds; a unit
// gets the first variant whose bound is above its *variant* bucket. Coverage uses the *rollout*
// bucket, so changing coverage never moves a unit between variants.

/** Cumulative upper bounds of the weights: `[w0, w0 + w1, …]`. */
export function cumulativeBounds(weights: readonly number[]): number[] {
  let sum = 0;
  return weights.map((w) => (sum += w));
}

/** Index of the variant a variant bucket falls in: the first bound above it (last index if none). */
export function variantIndexOf(bounds: readonly number[], variantBucket: number): number {
  const last = bounds.length - 1;
  for (let i = 0; i < last; i++) if (variantBucket < bounds[i]!) return i;
  return last;
}
