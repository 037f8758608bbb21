import { describe, expect, it } from 'vitest';
import type { Flag } from '../snapshot/types';
import { cohortOf, controlRange, effectivePercent, thresholdOf, treatmentRange } from './rollout';

describe('ranges and cohorts', () => {
  it('treatment is [0, 1000p); control [50000, 50000+1000p) up to 50%, the rest above', () => {
    expect(treatmentRange(1)).toEqual([0, 1000]);
    expect(controlRange(1)).toEqual([50000, 51000]);
    expect(treatmentRange(12.345)).toEqual([0, 12345]);
    expect(controlRange(50)).toEqual([50000, 100000]);
    expect(controlRange(75)).toEqual([75000, 100000]);
    expect(controlRange(0)).toEqual([50000, 50000]);
    expect(controlRange(100)).toEqual([100000, 100000]);
    expect(thresholdOf(0.001)).toBe(1);
    expect(thresholdOf(-5)).toBe(0);
    expect(thresholdOf(Number.NaN)).toBe(0);
    expect(thresholdOf(150)).toBe(100000);
  });

  it('classifies buckets', () => {
    expect([
      cohortOf(0, 1),
      cohortOf(999, 1),
      cohortOf(1000, 1),
      cohortOf(50000, 1),
      cohortOf(50999, 1),
      cohortOf(51000, 1),
    ]).toEqual(['treatment', 'treatment', 'none', 'control', 'control', 'none']);
    expect([cohortOf(59999, 60), cohortOf(60000, 60), cohortOf(99999, 60)]).toEqual([
      'treatment',
      'control',
      'control',
    ]);
    expect([cohortOf(0, 0), cohortOf(50000, 0), cohortOf(99999, 100)]).toEqual(['none', 'none', 'treatment']);
  });
});

describe('effectivePercent', () => {
  const canary = (status: NonNullable<Flag['canary']>['status'], stage = 1): Flag => ({
    key: 'canary.x',
    type: 'boolean',
    enabled: true,
    stages: [
      { percent: 5, minDurationSec: 0 },
      { percent: 25, minDurationSec: 0 },
    ],
    canary: { stage, status, stageStartedAt: null },
  });
  it('reads the canary stage, rollout, coverage, else 100', () => {
    expect(effectivePercent(canary('progressing'))).toBe(25);
    expect(effectivePercent(canary('paused', 0))).toBe(5);
    expect(effectivePercent(canary('rolled_back'))).toBe(0);
    expect(effectivePercent(canary('completed', 0))).toBe(100);
    expect(effectivePercent({ ...canary('progressing'), canary: undefined })).toBe(5);
    expect(
      effectivePercent({
        ...canary('progressing'),
        canary: { stage: 9, status: 'progressing', stageStartedAt: null },
      }),
    ).toBe(25);
    expect(effectivePercent({ rolloutPercentage: 12.5 })).toBe(12.5);
    expect(effectivePercent({ variants: [{ key: 'a', value: 1, weight: 100000 }], coverage: 40 })).toBe(40);
    expect(effectivePercent({ variants: [{ key: 'a', value: 1, weight: 100000 }] })).toBe(100);
    expect(effectivePercent({})).toBe(100);
  });
});
