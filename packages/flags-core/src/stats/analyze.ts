// The analysis of an A/B experiment from sufficient statistics: every variant against control, per
// metric, with Holm's correction across variants, the sample-ratio-mismatch check, the sample size
// still needed, and a verdict per variant. Pure: the caller supplies the sums and the elapsed time.

import { chiSquareGoodnessOfFit } from './chi-square';
import { holmAdjust } from './holm';
import { relativeLift } from './lift';
import { requiredSampleSize } from './power';
import { twoProportionZTest } from './proportions';
import { type Summary, summarizeSums } from './summarize';
import { welchTTest } from './welch';

export type ExperimentMetricKind = 'conversion' | 'mean' | 'count';
export type ExperimentVerdict = 'winner' | 'loser' | 'inconclusive' | 'needs_more_data' | 'invalid_srm';

export interface AnalysisMetric {
  event: string;
  kind: ExperimentMetricKind;
  direction: 'increase' | 'decrease';
  /** The primary metric alone decides the verdict; secondary regressions block `winner`. */
  role: 'primary' | 'secondary';
  name?: string;
}

/**
 * Sums over a variant's units of one metric, where a unit's value is: conversion → 1 if it had the
 * event, count → its number of events, mean → the sum of its event values. Units without events
 * count as 0.
 */
export interface MetricSums {
  /** Units with at least one event. */
  converted: number;
  sumCount: number;
  sumCountSquares: number;
  sumValue: number;
  sumValueSquares: number;
}

/** Operational guardrail of a variant (from the SDK's request metrics). */
export interface GuardrailInput {
  requests: number;
  errors: number;
  p99Ms?: number | null;
}

export interface AnalysisVariant {
  key: string;
  /** Configured weight (any scale; only ratios matter). */
  weight: number;
  /** Units exposed to this variant only (units seen in two variants are excluded). */
  units: number;
  metrics: Record<string, MetricSums | undefined>;
  guardrail?: GuardrailInput | null;
}

export interface ExperimentAnalysisInput {
  controlVariant: string;
  variants: AnalysisVariant[];
  metrics: AnalysisMetric[];
  /** Default 0.05. */
  alpha?: number;
  /** Default 0.8. */
  power?: number;
  /** Relative minimum detectable effect of the primary metric (0.05 = 5%). */
  minimumDetectableEffect?: number | null;
  /** Default 1000. */
  minUnitsPerVariant?: number;
  /** Default 86,400 (24 h). */
  minDurationSec?: number;
  /** Seconds since the experiment started (its first exposure). */
  elapsedSec: number;
  /** SRM p-value threshold, default 0.001. */
  srmThreshold?: number;
}

export interface MetricEstimate {
  event: string;
  kind: ExperimentMetricKind;
  role: 'primary' | 'secondary';
  /** Units in the denominator (all exposed units of the variant). */
  units: number;
  /** Conversion rate (conversion) or mean per unit (mean, count). */
  value: number;
  /** Standard deviation of the per-unit value (sample). */
  sd: number;
  /** Sum of per-unit values: conversions, events, or total value. */
  sum: number;
}

export interface Comparison {
  event: string;
  kind: ExperimentMetricKind;
  role: 'primary' | 'secondary';
  test: 'welch-t' | 'two-proportion-z';
  statistic: number | null;
  df: number | null;
  pValue: number | null;
  /** Holm-adjusted across the variants compared with control on this metric. */
  adjustedPValue: number | null;
  confidenceLevel: number;
  /** variant − control. */
  difference: number;
  ci: [number, number] | null;
  relativeLift: number | null;
  relativeLiftCi: [number, number] | null;
  significant: boolean;
  /** Whether the difference goes the metric's good way (`better`), the other way, or is 0. */
  effect: 'better' | 'worse' | 'none';
  /** Why no test could be run (no variance, too few units). */
  note?: string;
}

export interface GuardrailResult {
  requests: number;
  errors: number;
  errorRate: number | null;
  p99Ms: number | null;
  /** One-sided test that the variant's error rate is higher than control's. */
  pValue: number | null;
  regression: boolean;
}

export interface VariantAnalysis {
  key: string;
  isControl: boolean;
  units: number;
  weight: number;
  metrics: MetricEstimate[];
  comparisons: Comparison[];
  guardrail: GuardrailResult | null;
  verdict: ExperimentVerdict | null;
  reasons: string[];
}

export interface SrmResult {
  statistic: number;
  df: number;
  pValue: number;
  threshold: number;
  flagged: boolean;
  observed: number[];
  expected: number[];
}

export interface SampleSizeStatus {
  /** Units per variant for the configured power and MDE on the primary metric (null if unknown). */
  requiredPerVariant: number | null;
  /** Units still missing in the smallest variant (0 when reached). */
  unitsNeeded: number | null;
  /** Smallest variant's units / required, capped at 1. */
  progress: number | null;
  note?: string;
}

export interface ExperimentAnalysis {
  controlVariant: string;
  alpha: number;
  confidenceLevel: number;
  power: number;
  minimumDetectableEffect: number | null;
  minUnitsPerVariant: number;
  minDurationSec: number;
  elapsedSec: number;
  srm: SrmResult | null;
  sampleSize: SampleSizeStatus;
  variants: VariantAnalysis[];
}

const EMPTY: MetricSums = { converted: 0, sumCount: 0, sumCountSquares: 0, sumValue: 0, sumValueSquares: 0 };

/** Per-unit summary of one metric of a variant (units without events are zeros). */
export function metricSummary(
  kind: ExperimentMetricKind,
  units: number,
  sums: MetricSums | undefined,
): Summary {
  const s = sums ?? EMPTY;
  if (kind === 'conversion') {
    return summarizeSums({ n: units, sum: s.converted, sumSquares: s.converted });
  }
  if (kind === 'count') return summarizeSums({ n: units, sum: s.sumCount, sumSquares: s.sumCountSquares });
  return summarizeSums({ n: units, sum: s.sumValue, sumSquares: s.sumValueSquares });
}

function effectOf(difference: number, direction: 'increase' | 'decrease'): 'better' | 'worse' | 'none' {
  if (difference === 0 || Number.isNaN(difference)) return 'none';
  return difference > 0 === (direction === 'increase') ? 'better' : 'worse';
}

function compare(
  metric: AnalysisMetric,
  variant: AnalysisVariant,
  control: AnalysisVariant,
  confidenceLevel: number,
): Omit<Comparison, 'adjustedPValue' | 'significant'> {
  const sv = metricSummary(metric.kind, variant.units, variant.metrics[metric.event]);
  const sc = metricSummary(metric.kind, control.units, control.metrics[metric.event]);
  const base = {
    event: metric.event,
    kind: metric.kind,
    role: metric.role,
    confidenceLevel,
    test: metric.kind === 'conversion' ? ('two-proportion-z' as const) : ('welch-t' as const),
  };
  const difference = sv.mean - sc.mean;
  const lift = relativeLift(sv, sc, { confidenceLevel });
  const liftPart = Number.isFinite(lift.lift)
    ? { relativeLift: lift.lift, relativeLiftCi: lift.ci }
    : { relativeLift: null, relativeLiftCi: null };
  const untested = (note: string) => ({
    ...base,
    statistic: null,
    df: null,
    pValue: null,
    difference: Number.isFinite(difference) ? difference : 0,
    ci: null,
    relativeLift: null,
    relativeLiftCi: null,
    effect: 'none' as const,
    note,
  });
  if (variant.units < 2 || control.units < 2) return untested('fewer than 2 units in a variant');
  if (metric.kind === 'conversion') {
    const v = variant.metrics[metric.event]?.converted ?? 0;
    const c = control.metrics[metric.event]?.converted ?? 0;
    const r = twoProportionZTest(
      { successes: v, trials: variant.units },
      { successes: c, trials: control.units },
      { confidenceLevel },
    );
    const variance = (p: number) => p * (1 - p);
    const l = relativeLift(
      { n: variant.units, mean: r.estimates[0], variance: variance(r.estimates[0]) },
      { n: control.units, mean: r.estimates[1], variance: variance(r.estimates[1]) },
      { confidenceLevel },
    );
    return {
      ...base,
      statistic: r.z,
      df: null,
      pValue: r.pValue,
      difference: r.difference,
      ci: r.ci,
      ...(Number.isFinite(l.lift)
        ? { relativeLift: l.lift, relativeLiftCi: l.ci }
        : { relativeLift: null, relativeLiftCi: null }),
      effect: effectOf(r.difference, metric.direction),
    };
  }
  if (!(sv.variance > 0) && !(sc.variance > 0)) return untested('no variation in either variant');
  const r = welchTTest(sv, sc, { confidenceLevel });
  return {
    ...base,
    statistic: r.t,
    df: r.df,
    pValue: r.pValue,
    difference: r.difference,
    ci: r.ci,
    ...liftPart,
    effect: effectOf(r.difference, metric.direction),
  };
}

function guardrailOf(
  variant: AnalysisVariant,
  control: AnalysisVariant,
  alpha: number,
): GuardrailResult | null {
  const g = variant.guardrail;
  if (!g) return null;
  const errorRate = g.requests > 0 ? g.errors / g.requests : null;
  let pValue: number | null = null;
  const c = control.guardrail;
  if (c && c.requests > 0 && g.requests > 0 && variant !== control) {
    pValue = twoProportionZTest(
      { successes: g.errors, trials: g.requests },
      { successes: c.errors, trials: c.requests },
      { alternative: 'greater' },
    ).pValue;
  }
  return {
    requests: g.requests,
    errors: g.errors,
    errorRate,
    p99Ms: g.p99Ms ?? null,
    pValue,
    regression: pValue !== null && pValue < alpha,
  };
}

function sampleSizeOf(
  primary: AnalysisMetric,
  control: AnalysisVariant,
  smallest: number,
  mde: number | null,
  alpha: number,
  power: number,
): SampleSizeStatus {
  const none = (note: string): SampleSizeStatus => ({
    requiredPerVariant: null,
    unitsNeeded: null,
    progress: null,
    note,
  });
  if (mde === null || !(mde > 0)) return none('no minimum detectable effect configured');
  const s = metricSummary(primary.kind, control.units, control.metrics[primary.event]);
  let required: number;
  try {
    if (primary.kind === 'conversion') {
      const p1 = s.mean;
      const p2 = primary.direction === 'decrease' ? p1 * (1 - mde) : p1 * (1 + mde);
      if (!(p1 > 0 && p1 < 1) || !(p2 > 0 && p2 < 1))
        return none('control conversion rate too close to 0 or 1');
      required = requiredSampleSize({ test: 'proportions', p1, p2, alpha, power }).nPerGroup;
    } else {
      const sd = Math.sqrt(s.variance);
      const delta = mde * Math.abs(s.mean);
      if (!(sd > 0) || !(delta > 0)) return none('control has no variation or a zero mean yet');
      required = requiredSampleSize({ test: 'means', delta, sd, alpha, power }).nPerGroup;
    }
  } catch (e) {
    return none((e as Error).message);
  }
  return {
    requiredPerVariant: required,
    unitsNeeded: Math.max(0, required - smallest),
    progress: Math.min(1, smallest / required),
  };
}

/**
 * Analyses an experiment: per variant and metric against control, Holm-adjusted across variants;
 * SRM (χ² against the weights, flagged below `srmThreshold`) invalidates every verdict; no `winner`
 * before `minUnitsPerVariant` and `minDurationSec`; a significant regression of a secondary metric
 * or of the error-rate guardrail blocks `winner`.
 */
export function analyzeExperiment(input: ExperimentAnalysisInput): ExperimentAnalysis {
  const alpha = input.alpha ?? 0.05;
  const power = input.power ?? 0.8;
  const minUnits = input.minUnitsPerVariant ?? 1000;
  const minDuration = input.minDurationSec ?? 86_400;
  const srmThreshold = input.srmThreshold ?? 0.001;
  const mde = input.minimumDetectableEffect ?? null;
  const confidenceLevel = 1 - alpha;
  const control = input.variants.find((v) => v.key === input.controlVariant);
  if (!control) throw new RangeError(`controlVariant "${input.controlVariant}" is not among the variants`);
  const primary = input.metrics.find((m) => m.role === 'primary');
  if (!primary) throw new RangeError('metrics needs a primary metric');
  const others = input.variants.filter((v) => v !== control);

  // Sample-ratio mismatch over the variants that get traffic.
  const weighted = input.variants.filter((v) => v.weight > 0);
  const totalUnits = weighted.reduce((s, v) => s + v.units, 0);
  let srm: SrmResult | null = null;
  if (weighted.length >= 2 && totalUnits > 0) {
    const r = chiSquareGoodnessOfFit(
      weighted.map((v) => v.units),
      weighted.map((v) => v.weight),
    );
    srm = {
      statistic: r.statistic,
      df: r.df,
      pValue: r.pValue,
      threshold: srmThreshold,
      flagged: r.pValue < srmThreshold,
      observed: weighted.map((v) => v.units),
      expected: r.expected,
    };
  }

  // Comparisons per metric, Holm across the variants on each metric.
  const byVariant = new Map<string, Comparison[]>(others.map((v) => [v.key, []]));
  for (const metric of input.metrics) {
    const raw = others.map((v) => compare(metric, v, control, confidenceLevel));
    const adjusted = holmAdjust(raw.map((c) => c.pValue ?? Number.NaN));
    raw.forEach((c, i) => {
      const adj = adjusted[i]!;
      const adjustedPValue = Number.isNaN(adj) ? null : adj;
      byVariant.get(others[i]!.key)!.push({
        ...c,
        adjustedPValue,
        significant: adjustedPValue !== null && adjustedPValue < alpha,
      });
    });
  }

  const smallest = Math.min(
    ...input.variants.filter((v) => v.weight > 0 || v === control).map((v) => v.units),
  );
  const sampleSize = sampleSizeOf(primary, control, smallest, mde, alpha, power);

  const variants: VariantAnalysis[] = input.variants.map((v) => {
    const metrics = input.metrics.map((m) => {
      const s = metricSummary(m.kind, v.units, v.metrics[m.event]);
      return {
        event: m.event,
        kind: m.kind,
        role: m.role,
        units: v.units,
        value: v.units > 0 ? s.mean : 0,
        sd: Number.isFinite(s.variance) ? Math.sqrt(s.variance) : 0,
        sum: v.units > 0 ? s.mean * v.units : 0,
      };
    });
    const guardrail = guardrailOf(v, control, alpha);
    if (v === control) {
      return {
        key: v.key,
        isControl: true,
        units: v.units,
        weight: v.weight,
        metrics,
        comparisons: [],
        guardrail,
        verdict: null,
        reasons: [],
      };
    }
    const comparisons = byVariant.get(v.key)!;
    const { verdict, reasons } = verdictOf(v, control, comparisons, guardrail, {
      srm,
      minUnits,
      minDuration,
      elapsedSec: input.elapsedSec,
      alpha,
      sampleSize,
    });
    return {
      key: v.key,
      isControl: false,
      units: v.units,
      weight: v.weight,
      metrics,
      comparisons,
      guardrail,
      verdict,
      reasons,
    };
  });

  return {
    controlVariant: control.key,
    alpha,
    confidenceLevel,
    power,
    minimumDetectableEffect: mde,
    minUnitsPerVariant: minUnits,
    minDurationSec: minDuration,
    elapsedSec: input.elapsedSec,
    srm,
    sampleSize,
    variants,
  };
}

function verdictOf(
  v: AnalysisVariant,
  control: AnalysisVariant,
  comparisons: Comparison[],
  guardrail: GuardrailResult | null,
  ctx: {
    srm: SrmResult | null;
    minUnits: number;
    minDuration: number;
    elapsedSec: number;
    alpha: number;
    sampleSize: SampleSizeStatus;
  },
): { verdict: ExperimentVerdict; reasons: string[] } {
  const reasons: string[] = [];
  if (ctx.srm?.flagged) {
    reasons.push(
      `sample ratio mismatch: χ² = ${ctx.srm.statistic.toFixed(2)}, p = ${ctx.srm.pValue.toExponential(2)} < ${ctx.srm.threshold} against the configured weights; the assignment or the exposure logging is broken, so no result can be trusted`,
    );
    return { verdict: 'invalid_srm', reasons };
  }
  const short: string[] = [];
  if (v.units < ctx.minUnits) short.push(`${v.key} has ${v.units} units, minimum ${ctx.minUnits}`);
  if (control.units < ctx.minUnits)
    short.push(`${control.key} has ${control.units} units, minimum ${ctx.minUnits}`);
  if (ctx.elapsedSec < ctx.minDuration) {
    short.push(`running for ${Math.floor(ctx.elapsedSec)} s, minimum ${ctx.minDuration} s`);
  }
  if (short.length > 0) return { verdict: 'needs_more_data', reasons: short };

  const primary = comparisons.find((c) => c.role === 'primary')!;
  const p = (c: Comparison) => `adjusted p = ${c.adjustedPValue?.toPrecision(3) ?? 'n/a'}`;
  if (primary.significant && primary.effect === 'worse') {
    reasons.push(
      `primary metric ${primary.event} is significantly worse than ${control.key} (${p(primary)} < ${ctx.alpha})`,
    );
    return { verdict: 'loser', reasons };
  }
  if (primary.significant && primary.effect === 'better') {
    const blockers: string[] = [];
    for (const c of comparisons) {
      if (c.role === 'secondary' && c.significant && c.effect === 'worse') {
        blockers.push(`secondary metric ${c.event} regressed significantly (${p(c)})`);
      }
    }
    if (guardrail?.regression) {
      blockers.push(
        `error rate ${guardrail.errorRate?.toPrecision(3)} is significantly above control (p = ${guardrail.pValue?.toPrecision(3)})`,
      );
    }
    if (blockers.length > 0) {
      return {
        verdict: 'inconclusive',
        reasons: [`primary metric ${primary.event} improved (${p(primary)}) but`, ...blockers],
      };
    }
    reasons.push(
      `primary metric ${primary.event} is significantly better than ${control.key} (${p(primary)} < ${ctx.alpha})`,
    );
    return { verdict: 'winner', reasons };
  }
  const why =
    primary.note ??
    `primary metric ${primary.event} shows no significant difference (${p(primary)} ≥ ${ctx.alpha})`;
  const needed = ctx.sampleSize.unitsNeeded;
  if (needed !== null && needed > 0) {
    return {
      verdict: 'needs_more_data',
      reasons: [
        why,
        `${needed} more units per variant are needed for the configured power (${ctx.sampleSize.requiredPerVariant} per variant)`,
      ],
    };
  }
  return { verdict: 'inconclusive', reasons: [why] };
}
