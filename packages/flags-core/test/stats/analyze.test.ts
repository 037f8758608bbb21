import { describe, expect, it } from 'vitest';
import {
  type AnalysisVariant,
  analyzeExperiment,
  type ExperimentAnalysisInput,
  type MetricSums,
  holmAdjust,
  twoProportionZTest,
  welchTTest,
} from '../../src/stats/index';

const conversion = (converted: number): MetricSums => ({
  converted,
  sumCount: converted,
  sumCountSquares: converted,
  sumValue: 0,
  sumValueSquares: 0,
});

function variant(
  key: string,
  units: number,
  converted: number,
  extra: Partial<AnalysisVariant> = {},
): AnalysisVariant {
  return { key, weight: 25_000, units, metrics: { purchase: conversion(converted) }, ...extra };
}

const base = (
  variants: AnalysisVariant[],
  over: Partial<ExperimentAnalysisInput> = {},
): ExperimentAnalysisInput => ({
  controlVariant: 'control',
  variants,
  metrics: [{ event: 'purchase', kind: 'conversion', direction: 'increase', role: 'primary' }],
  minimumDetectableEffect: 0.2,
  minUnitsPerVariant: 1000,
  minDurationSec: 60,
  elapsedSec: 3600,
  ...over,
});

describe('analyzeExperiment', () => {
  it('10% vs 12% vs 10% over 7,500 units each: variant_a wins, variant_b does not; numbers are core tests', () => {
    const a = analyzeExperiment(
      base([
        variant('control', 7500, 750),
        variant('variant_a', 7500, 900),
        variant('variant_b', 7500, 752),
        variant('variant_c', 7500, 745),
      ]),
    );
    const byKey = Object.fromEntries(a.variants.map((v) => [v.key, v]));
    expect(byKey.variant_a!.verdict).toBe('winner');
    expect(byKey.variant_b!.verdict).not.toBe('winner');
    expect(byKey.control!.verdict).toBeNull();
    expect(a.srm!.flagged).toBe(false);
    expect(a.confidenceLevel).toBe(0.95);
    // The comparison is exactly the pooled z-test, and Holm over the three variants.
    const direct = [900, 752, 745].map(
      (x) =>
        twoProportionZTest(
          { successes: x, trials: 7500 },
          { successes: 750, trials: 7500 },
          { confidenceLevel: 0.95 },
        ).pValue,
    );
    const holm = holmAdjust(direct);
    const ca = byKey.variant_a!.comparisons[0]!;
    expect(ca.pValue).toBe(direct[0]);
    expect(ca.adjustedPValue).toBe(holm[0]);
    expect(ca.test).toBe('two-proportion-z');
    expect(ca.relativeLift).toBeCloseTo(0.2, 12);
    expect(ca.relativeLiftCi![0]).toBeGreaterThan(0);
    expect(ca.difference).toBeCloseTo(0.02, 12);
  });

  it('a 52/48 split on a 50/50 experiment is invalid_srm', () => {
    const a = analyzeExperiment(
      base([
        variant('control', 5200, 520, { weight: 50_000 }),
        variant('variant_a', 4800, 600, { weight: 50_000 }),
      ]),
    );
    expect(a.srm!.flagged).toBe(true);
    expect(a.srm!.pValue).toBeLessThan(0.001);
    expect(a.variants[1]!.verdict).toBe('invalid_srm');
    expect(a.variants[1]!.reasons[0]).toMatch(/sample ratio mismatch/);
  });

  it('500 units is needs_more_data, with the shortfall named; so is a run shorter than the minimum', () => {
    const small = analyzeExperiment(base([variant('control', 250, 25), variant('variant_a', 250, 60)]));
    expect(small.variants[1]!.verdict).toBe('needs_more_data');
    expect(small.variants[1]!.reasons.join(' ')).toMatch(/250 units, minimum 1000/);
    const early = analyzeExperiment(
      base([variant('control', 5000, 500), variant('variant_a', 5000, 700)], { elapsedSec: 10 }),
    );
    expect(early.variants[1]!.verdict).toBe('needs_more_data');
    expect(early.variants[1]!.reasons.join(' ')).toMatch(/minimum 60 s/);
  });

  it('significantly worse is loser; no difference with enough power is inconclusive, without is needs_more_data', () => {
    const loser = analyzeExperiment(base([variant('control', 8000, 960), variant('variant_a', 8000, 720)]));
    expect(loser.variants[1]!.verdict).toBe('loser');
    const flat = analyzeExperiment(base([variant('control', 8000, 800), variant('variant_a', 8000, 801)]));
    expect(flat.sampleSize.requiredPerVariant).toBeLessThan(8000);
    expect(flat.variants[1]!.verdict).toBe('inconclusive');
    const underpowered = analyzeExperiment(
      base([variant('control', 1500, 150), variant('variant_a', 1500, 151)], {
        minimumDetectableEffect: 0.05,
      }),
    );
    expect(underpowered.variants[1]!.verdict).toBe('needs_more_data');
    expect(underpowered.sampleSize.unitsNeeded).toBeGreaterThan(0);
  });

  it('a significant regression of a secondary metric or of the error-rate guardrail blocks winner', () => {
    const meanSums = (n: number, mean: number, sd: number): MetricSums => ({
      converted: n,
      sumCount: n,
      sumCountSquares: n,
      sumValue: n * mean,
      sumValueSquares: (n - 1) * sd * sd + n * mean * mean,
    });
    const withSecondary = analyzeExperiment(
      base(
        [
          {
            key: 'control',
            weight: 1,
            units: 6000,
            metrics: { purchase: conversion(600), latency: meanSums(6000, 100, 20) },
          },
          {
            key: 'variant_a',
            weight: 1,
            units: 6000,
            metrics: { purchase: conversion(780), latency: meanSums(6000, 110, 20) },
          },
        ],
        {
          metrics: [
            { event: 'purchase', kind: 'conversion', direction: 'increase', role: 'primary' },
            { event: 'latency', kind: 'mean', direction: 'decrease', role: 'secondary' },
          ],
        },
      ),
    );
    const v = withSecondary.variants[1]!;
    expect(v.verdict).toBe('inconclusive');
    expect(v.reasons.join(' ')).toMatch(/latency regressed/);
    // The mean comparison is Welch's test on the per-unit summaries.
    const latency = v.comparisons[1]!;
    const direct = welchTTest(
      { n: 6000, mean: 110, variance: 400 },
      { n: 6000, mean: 100, variance: 400 },
      { confidenceLevel: 0.95 },
    );
    expect(latency.statistic).toBeCloseTo(direct.t, 6);
    expect(latency.df).toBeCloseTo(direct.df, 3);
    expect(latency.effect).toBe('worse');

    const guarded = analyzeExperiment(
      base([
        variant('control', 6000, 600, { guardrail: { requests: 50_000, errors: 500 } }),
        variant('variant_a', 6000, 780, { guardrail: { requests: 50_000, errors: 900 } }),
      ]),
    );
    expect(guarded.variants[1]!.guardrail!.regression).toBe(true);
    expect(guarded.variants[1]!.verdict).toBe('inconclusive');
  });

  it('rejects an unknown control variant or a missing primary metric', () => {
    expect(() => analyzeExperiment(base([variant('a', 10, 1), variant('b', 10, 1)]))).toThrow(
      /controlVariant/,
    );
    expect(() => analyzeExperiment(base([variant('control', 10, 1)], { metrics: [] }))).toThrow(/primary/);
  });
});
