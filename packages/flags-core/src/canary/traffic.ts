// Traffic tracking: is the observed treatment share of a canary (or guarded rollout) where its
// configured percentage says it should be? Used by the control plane's health report, for the share of
// requests and for the share of distinct units (from HyperLogLog estimates), and by `decideCanary`'s
// sample-ratio check (treatment units against control units).

/** Below this many requests (or units) the observed share is not judged. */
export const MIN_TRAFFIC_SAMPLE = 100;

export interface TrafficShare {
  /** Treatment / total, percent (at most 100); null without traffic. */
  observedPercent: number | null;
  /** observedPercent − configured, percentage points; null without traffic. */
  gap: number | null;
  /** Largest |gap| that is fine at this sample size; null without traffic. */
  allowedGap: number | null;
  /** Within the allowed gap, or too little traffic (or none) to judge. */
  ok: boolean;
}

/**
 * Largest gap (percentage points) between the observed treatment share and the configured percent
 * that is fine: 4 standard deviations of the observed share (`sigmas`), at least 1 point. Each request (or unit)
 * is in the treatment with probability p, so the share of n is binomial: variance p(1 − p)/n. A share
 * of units is a ratio of two HyperLogLog estimates (treatment units / all units), each off by a
 * relative error ε: `sketchError` adds their variance, (p·ε)² for each, taken as independent (they are
 * positively correlated — the treatment's registers are part of the total's — so this is an upper
 * bound).
 */
export function allowedTrafficGap(
  configuredPercent: number,
  n: number,
  sketchError = 0,
  /** Standard deviations allowed (default 4). */
  sigmas = 4,
): number {
  const p = Math.min(Math.max(configuredPercent / 100, 0.001), 0.999);
  const variance = (p * (1 - p)) / Math.max(n, 1) + 2 * (p * sketchError) ** 2;
  return Math.max(1, 100 * sigmas * Math.sqrt(variance));
}

/**
 * Judges an observed treatment share: `treatment` of `total` requests or units (estimates allowed,
 * with their relative `sketchError`) against `configuredPercent`.
 */
export function trafficShare(
  configuredPercent: number,
  treatment: number,
  total: number,
  options: { sketchError?: number; minSample?: number; sigmas?: number } = {},
): TrafficShare {
  if (!(total > 0)) return { observedPercent: null, gap: null, allowedGap: null, ok: true };
  const n = Math.round(total);
  const observedPercent = Math.min(100, (100 * Math.max(treatment, 0)) / total);
  const gap = observedPercent - configuredPercent;
  const allowedGap = allowedTrafficGap(configuredPercent, n, options.sketchError ?? 0, options.sigmas ?? 4);
  const ok = n < (options.minSample ?? MIN_TRAFFIC_SAMPLE) || Math.abs(gap) <= allowedGap;
  return { observedPercent, gap, allowedGap, ok };
}
