// Percentages, thresholds and cohorts over the 100,000 rollout buckets (ARCHITECTURE.md,
// "Canary cohorts"): treatment `[0, 1000p)`; control `[50000, 50000 + 1000p)` for p ≤ 50, every
// bucket outside the treatment above 50%. Monotonic: raising p only adds buckets to the treatment.
import type { CanaryState, Cohort, Flag } from '../snapshot/types';

/** Number of buckets; a bucket is in `[0, BUCKET_COUNT)`. */
export const BUCKET_COUNT = 100_000;

/** First bucket outside a `percent` rollout: buckets below it are in. */
export function thresholdOf(percent: number): number {
  if (!(percent > 0)) return 0;
  if (percent >= 100) return BUCKET_COUNT;
  return Math.round(percent * 1000);
}

/** Half-open bucket range `[start, end)` of the treatment cohort at `percent`. */
export function treatmentRange(percent: number): readonly [start: number, end: number] {
  return [0, thresholdOf(percent)];
}

/** Half-open bucket range `[start, end)` of the control cohort at `percent` (empty at 0 and 100). */
export function controlRange(percent: number): readonly [start: number, end: number] {
  const t = thresholdOf(percent);
  return t <= BUCKET_COUNT / 2 ? [BUCKET_COUNT / 2, BUCKET_COUNT / 2 + t] : [t, BUCKET_COUNT];
}

/** Cohort of a rollout bucket at `percent`. */
export function cohortOf(bucket: number, percent: number): Cohort {
  return cohortOfThreshold(bucket, thresholdOf(percent));
}

/** `cohortOf` with a precomputed threshold (`thresholdOf(percent)`). */
export function cohortOfThreshold(bucket: number, threshold: number): Cohort {
  if (bucket < threshold) return 'treatment';
  if (threshold <= BUCKET_COUNT / 2) {
    return bucket >= BUCKET_COUNT / 2 && bucket < BUCKET_COUNT / 2 + threshold ? 'control' : 'none';
  }
  return bucket < BUCKET_COUNT ? 'control' : 'none';
}

const NOT_STARTED: CanaryState = { stage: 0, status: 'progressing', stageStartedAt: null };

/**
 * Share of units "in" a flag, percent: the current canary stage's percent (0 when rolled back, 100
 * when completed), the rollout percentage, the coverage of an experiment, else 100. Independent of
 * the kill switch `enabled`.
 */
export function effectivePercent(
  flag: Pick<Flag, 'stages' | 'canary' | 'rolloutPercentage' | 'coverage' | 'variants'>,
): number {
  if (flag.stages !== undefined && flag.stages.length > 0) {
    const state = flag.canary ?? NOT_STARTED;
    if (state.status === 'rolled_back') return 0;
    if (state.status === 'completed') return 100;
    const index = Math.min(Math.max(0, Math.trunc(state.stage)), flag.stages.length - 1);
    return flag.stages[index]!.percent;
  }
  if (flag.rolloutPercentage !== undefined) return flag.rolloutPercentage;
  if (flag.variants?.some((v) => v.weight !== undefined)) return flag.coverage ?? 100;
  return 100;
}
