// Holm's step-down correction for multiple comparisons (R's `p.adjust(p, "holm")`).

/**
 * Holm-adjusted p-values, in the input order. NaN entries stay NaN and do not count as tests
 * (as R's `p.adjust` with NA).
 */
export function holmAdjust(pValues: ArrayLike<number>): number[] {
  const indices: number[] = [];
  for (let i = 0; i < pValues.length; i++) {
    const p = pValues[i]!;
    if (Number.isNaN(p)) continue;
    if (p < 0 || p > 1) throw new RangeError(`pValues[${i}] must be in [0, 1], got ${p}`);
    indices.push(i);
  }
  const adjusted = Array.from({ length: pValues.length }, () => Number.NaN);
  const m = indices.length;
  indices.sort((i, j) => pValues[i]! - pValues[j]! || i - j);
  let running = 0;
  for (let rank = 0; rank < m; rank++) {
    const i = indices[rank]!;
    running = Math.max(running, Math.min(1, (m - rank) * pValues[i]!));
    adjusted[i] = running;
  }
  return adjusted;
}
