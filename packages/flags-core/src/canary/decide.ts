// The automatic canary decision: a pure function of the canary's state, the aligned windows of its
// treatment and control cohorts, the policy and the time. The control plane's scheduler only
// gathers the windows, calls this, and applies the action.
//
// - Fast path: an absolute breach (error rate, P99, a resource gauge) in `consecutiveWindows`
//   consecutive windows, each with ≥ `minRequestsPerWindow` treatment requests → rollback.
// - Comparative path (stages below 100%): treatment worse than control at level `alpha`, one-sided:
//   errors by the pooled two-proportion z-test, latency by a z-test on the share of treatment
//   requests above the control cohort's P95 against the 5% expected under no difference → rollback.
//   A sample-ratio mismatch (treatment and control distinct units far from their expected ratio)
//   holds: the comparison cannot be trusted.
// - Advance (complete at the last stage) only when the stage's minimum duration has passed, the
//   stage has ≥ `minSampleSize` treatment requests, treatment traffic is current, and every check
//   passes. Missing data is never a pass: no traffic holds, it never advances.

import type { GaugeWindow, SerializedWindow } from '../metrics/types';
import { controlRange, treatmentRange } from '../evaluate/rollout';
import { unitSketchStandardError } from '../metrics/units';
import { WindowAggregate } from '../metrics/window';
import type { CanaryStage, CanaryState } from '../snapshot/types';
import { normal } from '../stats/normal';
import { twoProportionZTest } from '../stats/proportions';
import { type CanaryPolicyInput, type ResolvedCanaryPolicy, resolvePolicy } from './policy';
import { trafficShare } from './traffic';

/** What `decideCanary` needs of a canary flag (a snapshot `Flag` with stages and canary fits). */
export interface CanaryDecisionState {
  /** When set, windows of other flags are ignored. */
  key?: string;
  stages: readonly CanaryStage[];
  canary: CanaryState;
}

/** The windows of one canary: any cohorts, endpoints and instances; merged by cohort and window start. */
export interface CanaryObservations {
  windows: readonly (SerializedWindow | WindowAggregate)[];
  /** Resource gauges per instance and window; the worst instance counts. */
  gauges?: readonly GaugeWindow[];
}

export type CanaryAction = 'advance' | 'hold' | 'rollback' | 'complete';

export type GaugeName = 'heapUsedPercent' | 'cpuPercent' | 'eventLoopDelayP99Ms' | 'dbPoolSaturationPercent';

export interface CanaryCheck {
  /**
   * `stage.minDuration`, `stage.sampleSize`, `traffic.current`, `fast.errorRate`, `fast.p99`,
   * `fast.<gauge>`, `comparative.unitBalance`, `comparative.errorRate`, `comparative.latencyTail`.
   */
  name: string;
  path: 'progress' | 'fast' | 'comparative';
  /**
   * The measured value (latest window for fast checks, p-value for the comparative tests, the gap in
   * percentage points for `comparative.unitBalance`); null: no data.
   */
  observed: number | null;
  threshold: number;
  passed: boolean;
  unit: 'sec' | 'requests' | 'ms' | 'percent' | 'p-value';
  /** Fast checks: breached windows in a row, counting back from the latest. */
  breachedWindows?: number;
}

export interface CohortStats {
  requests: number;
  errors: number;
  /** errors / requests, fraction; null without requests. */
  errorRate: number | null;
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

export interface FastWindowStats {
  windowStart: number;
  durationMs: number;
  treatment: CohortStats;
  gauges: Partial<Record<GaugeName | 'dbPoolWaiters', number>>;
}

export interface ErrorTestStats {
  z: number;
  pValue: number;
  /** Treatment − control error rate (fractions). */
  difference: number;
  treatmentErrorRate: number;
  controlErrorRate: number;
}

export interface LatencyTestStats {
  z: number;
  pValue: number;
  controlP95: number;
  treatmentAbove: number;
  treatmentCount: number;
  /** treatmentAbove / treatmentCount. */
  share: number;
  expectedShare: number;
}

/** The sample-ratio check: treatment and control distinct units over the comparison horizon. */
export interface UnitBalanceStats {
  /** Distinct units of each cohort (HyperLogLog estimates, rounded). */
  treatmentUnits: number;
  controlUnits: number;
  /** Treatment units ÷ (treatment + control units), percent. */
  observedPercent: number;
  /**
   * What that share should be: 50 up to a 50% stage (the control range is as large as the
   * treatment), p above it (the control cohort is every other unit).
   */
  expectedPercent: number;
  /** observed − expected, percentage points; and the largest |gap| that is fine. */
  gap: number;
  allowedGap: number;
  /** Within the allowed gap, or fewer than 100 units in all (too few to judge). */
  ok: boolean;
}

export interface CanaryDecisionStats {
  stage: number;
  percent: number;
  stageStartedAtMs: number | null;
  stageElapsedSec: number | null;
  /** Treatment over every complete window of the stage. */
  stageTreatment: CohortStats;
  /** The windows the fast path used, latest first. */
  fastWindows: FastWindowStats[];
  /** Cohorts over the comparison horizon (null at 100%, where there is no control). */
  comparison: {
    from: number;
    to: number;
    windows: number;
    treatment: CohortStats;
    control: CohortStats;
  } | null;
  errorTest: ErrorTestStats | null;
  latencyTest: LatencyTestStats | null;
  /** The sample-ratio check (null: off, at 100%, or no unit sketches reported). */
  unitBalance: UnitBalanceStats | null;
  /** z and p-value of the error-rate test (null when it did not run). */
  z: number | null;
  pValue: number | null;
  /** Start of the latest complete window seen (any cohort), for "never act twice on a window". */
  latestWindowStart: number | null;
}

export interface CanaryDecision {
  action: CanaryAction;
  reasons: string[];
  checks: CanaryCheck[];
  stats: CanaryDecisionStats;
  policy: ResolvedCanaryPolicy;
}

/** Share of control requests above the control P95, by definition. */
const EXPECTED_TAIL_SHARE = 0.05;
/** Treatment latencies the tail test needs (n · 0.05 ≥ 5). */
export const MIN_TAIL_SAMPLE = 100;

interface Slot {
  start: number;
  durationMs: number;
  treatment: WindowAggregate | null;
  control: WindowAggregate | null;
  gauges: Partial<Record<GaugeName | 'dbPoolWaiters', number>>;
}

const gaugeNames: readonly GaugeName[] = [
  'heapUsedPercent',
  'cpuPercent',
  'eventLoopDelayP99Ms',
  'dbPoolSaturationPercent',
];

function cohortStats(w: WindowAggregate | null): CohortStats {
  if (!w) return { requests: 0, errors: 0, errorRate: null, p50: null, p95: null, p99: null };
  return {
    requests: w.requests,
    errors: w.errors,
    errorRate: w.errorRate,
    p50: w.quantile(0.5),
    p95: w.quantile(0.95),
    p99: w.quantile(0.99),
  };
}

/** Short human form for reasons: integers as is, tiny values in exponent form, else 3 significant digits. */
const fmt = (x: number, digits = 3): string => {
  if (Number.isInteger(x)) return String(x);
  if (x !== 0 && Math.abs(x) < 1e-3) return x.toExponential(digits - 1);
  return String(Number(x.toPrecision(digits)));
};
const pct = (fraction: number): string => `${fmt(fraction * 100)}%`;

/**
 * Decide what an automatic canary does now. Pure: `nowMs` is the time, nothing is read from a clock.
 * `policy` may be a partial policy (resolved over the defaults).
 */
export function decideCanary(
  state: CanaryDecisionState,
  observations: CanaryObservations | readonly (SerializedWindow | WindowAggregate)[],
  policyInput: CanaryPolicyInput | ResolvedCanaryPolicy = {},
  nowMs: number,
): CanaryDecision {
  const policy = resolvePolicy(policyInput);
  const obs: CanaryObservations = isObservationList(observations) ? { windows: observations } : observations;
  const stageIndex = state.canary?.stage;
  const stage = typeof stageIndex === 'number' ? state.stages?.[stageIndex] : undefined;
  const startedAt = state.canary?.stageStartedAt ? Date.parse(state.canary.stageStartedAt) : Number.NaN;
  const stageStartMs = Number.isFinite(startedAt) ? startedAt : null;

  const stats: CanaryDecisionStats = {
    stage: typeof stageIndex === 'number' ? stageIndex : -1,
    percent: stage?.percent ?? 0,
    stageStartedAtMs: stageStartMs,
    stageElapsedSec: stageStartMs === null ? null : Math.max(0, (nowMs - stageStartMs) / 1000),
    stageTreatment: cohortStats(null),
    fastWindows: [],
    comparison: null,
    errorTest: null,
    latencyTest: null,
    unitBalance: null,
    z: null,
    pValue: null,
    latestWindowStart: null,
  };
  const hold = (reason: string): CanaryDecision => ({
    action: 'hold',
    reasons: [reason],
    checks: [],
    stats,
    policy,
  });

  if (!stage || !Number.isInteger(stageIndex)) {
    return hold(`canary stage ${String(stageIndex)} does not exist (${state.stages?.length ?? 0} stages)`);
  }
  const status = state.canary.status;
  if (status === 'completed' || status === 'rolled_back') {
    return hold(`canary is ${status}; nothing to decide`);
  }

  const slots = collectSlots(state, obs, stageIndex, stageStartMs, nowMs);
  stats.latestWindowStart = slots.length > 0 ? slots[slots.length - 1]!.start : null;
  const checks: CanaryCheck[] = [];
  const reasons: string[] = [];
  const rollbackReasons: string[] = [];

  // Progress: minimum stage duration and minimum sample.
  const elapsedSec = stats.stageElapsedSec;
  checks.push({
    name: 'stage.minDuration',
    path: 'progress',
    observed: elapsedSec,
    threshold: stage.minDurationSec,
    passed: elapsedSec !== null && elapsedSec >= stage.minDurationSec,
    unit: 'sec',
  });
  const stageTreatment = mergeSlots(slots, 'treatment');
  stats.stageTreatment = cohortStats(stageTreatment);
  const stageRequests = stageTreatment?.requests ?? 0;
  checks.push({
    name: 'stage.sampleSize',
    path: 'progress',
    observed: stageRequests,
    threshold: policy.minSampleSize,
    passed: stageRequests >= policy.minSampleSize,
    unit: 'requests',
  });
  // Traffic must be current: the latest window with treatment requests ended at most two windows ago.
  const withTraffic = slots.filter((s) => (s.treatment?.requests ?? 0) > 0);
  const lastTraffic = withTraffic[withTraffic.length - 1];
  const trafficAge = lastTraffic ? nowMs - (lastTraffic.start + lastTraffic.durationMs) : null;
  checks.push({
    name: 'traffic.current',
    path: 'progress',
    observed: trafficAge,
    threshold: 2 * policy.windowMs,
    passed: trafficAge !== null && trafficAge <= 2 * policy.windowMs,
    unit: 'ms',
  });

  // Fast path over the latest run of consecutive windows with treatment traffic.
  const run = latestRun(withTraffic, policy.consecutiveWindows);
  stats.fastWindows = run.map((s) => ({
    windowStart: s.start,
    durationMs: s.durationMs,
    treatment: cohortStats(s.treatment),
    gauges: { ...s.gauges },
  }));
  const enough = (s: Slot): boolean => (s.treatment?.requests ?? 0) >= policy.minRequestsPerWindow;
  const fastCheck = (
    name: string,
    unit: CanaryCheck['unit'],
    threshold: number,
    value: (s: Slot) => number | null,
    breached: (s: Slot, v: number) => boolean,
    describe: (v: number) => string,
    /** Gauges are optional per window: missing data is not a failure, only a breach is. */
    optional = false,
  ): void => {
    let inRow = 0;
    while (inRow < run.length) {
      const s = run[inRow]!;
      const v = value(s);
      if (!(enough(s) && v !== null && breached(s, v))) break;
      inRow++;
    }
    const breaches = run.filter((s) => {
      const v = value(s);
      return enough(s) && v !== null && breached(s, v);
    }).length;
    const anyBreach = breaches > 0;
    const latest = run[0] ? value(run[0]) : null;
    checks.push({
      name,
      path: 'fast',
      observed: latest,
      threshold,
      passed: optional ? !anyBreach : run.length > 0 && latest !== null && !anyBreach,
      unit,
      breachedWindows: inRow,
    });
    if (inRow >= policy.consecutiveWindows && latest !== null) {
      rollbackReasons.push(`fast path: ${describe(latest)} in ${inRow} consecutive windows`);
    } else if (anyBreach) {
      reasons.push(
        `${name}: breached in ${breaches} of the last ${run.length} windows (rollback needs ${policy.consecutiveWindows} in a row)`,
      );
    }
  };
  fastCheck(
    'fast.errorRate',
    'percent',
    policy.errorRateThreshold,
    (s) =>
      s.treatment && s.treatment.requests > 0 ? (100 * s.treatment.errors) / s.treatment.requests : null,
    (_s, v) => v > policy.errorRateThreshold,
    (v) => `treatment error rate ${fmt(v)}% > ${policy.errorRateThreshold}%`,
  );
  fastCheck(
    'fast.p99',
    'ms',
    policy.p99ThresholdMs,
    (s) => s.treatment?.quantile(0.99) ?? null,
    (_s, v) => v > policy.p99ThresholdMs,
    (v) => `treatment P99 ${fmt(v)} ms > ${policy.p99ThresholdMs} ms`,
  );
  for (const g of gaugeNames) {
    if (!run.some((s) => s.gauges[g] !== undefined)) continue;
    const limit = policy.gauges[g];
    fastCheck(
      `fast.${g}`,
      g === 'eventLoopDelayP99Ms' ? 'ms' : 'percent',
      limit,
      (s) => s.gauges[g] ?? null,
      // A DB pool is saturated when fully used with callers waiting; other gauges breach above the limit.
      g === 'dbPoolSaturationPercent'
        ? (s, v) => v >= limit && (s.gauges.dbPoolWaiters ?? 0) > 0
        : (_s, v) => v > limit,
      (v) => `${g} ${fmt(v)} over its limit ${limit}`,
      true,
    );
  }

  // Comparative path over the comparison horizon; at 100% there is no control cohort.
  if (stage.percent < 100) {
    const from =
      policy.comparisonWindowMs > 0 ? nowMs - policy.comparisonWindowMs : (stageStartMs ?? -Infinity);
    const horizon = slots.filter((s) => s.start + s.durationMs > from);
    const t = mergeSlots(horizon, 'treatment');
    const c = mergeSlots(horizon, 'control');
    stats.comparison = {
      from: horizon[0]?.start ?? nowMs,
      to:
        horizon.length > 0
          ? horizon[horizon.length - 1]!.start + horizon[horizon.length - 1]!.durationMs
          : nowMs,
      windows: horizon.length,
      treatment: cohortStats(t),
      control: cohortStats(c),
    };
    const balance = unitBalance(t, c, stage.percent, policy.sampleRatioSigmas);
    if (balance) {
      stats.unitBalance = balance;
      checks.push({
        name: 'comparative.unitBalance',
        path: 'comparative',
        observed: balance.gap,
        threshold: balance.allowedGap,
        passed: balance.ok,
        unit: 'percent',
      });
      if (!balance.ok) {
        reasons.push(
          `sample ratio mismatch: the treatment has ${balance.treatmentUnits} of the ${balance.treatmentUnits + balance.controlUnits} distinct units of treatment and control (${balance.observedPercent.toFixed(1)}%), expected ${balance.expectedPercent.toFixed(1)}% ± ${balance.allowedGap.toFixed(1)} points; the assignment or the metrics reporting is broken, so the comparison is not trusted and the canary holds`,
        );
      }
    }
    const tn = t?.requests ?? 0;
    const cn = c?.requests ?? 0;
    const min = policy.minRequestsPerWindow;
    if (!t || !c || tn < min || cn < min) {
      const why = `not enough traffic to compare (treatment ${tn}, control ${cn}; need ${min} each)`;
      for (const name of ['comparative.errorRate', 'comparative.latencyTail']) {
        checks.push({
          name,
          path: 'comparative',
          observed: null,
          threshold: policy.alpha,
          passed: false,
          unit: 'p-value',
        });
      }
      reasons.push(why);
    } else {
      const test = twoProportionZTest(
        { successes: t.errors, trials: t.requests },
        { successes: c.errors, trials: c.requests },
        { alternative: 'greater' },
      );
      stats.errorTest = {
        z: test.z,
        pValue: test.pValue,
        difference: test.difference,
        treatmentErrorRate: test.estimates[0],
        controlErrorRate: test.estimates[1],
      };
      stats.z = test.z;
      stats.pValue = test.pValue;
      const errorsWorse = test.pValue < policy.alpha;
      checks.push({
        name: 'comparative.errorRate',
        path: 'comparative',
        observed: test.pValue,
        threshold: policy.alpha,
        passed: !errorsWorse,
        unit: 'p-value',
      });
      if (errorsWorse) {
        rollbackReasons.push(
          `comparative path: treatment error rate ${pct(test.estimates[0])} > control ${pct(test.estimates[1])}` +
            ` (z = ${fmt(test.z, 4)}, one-sided p = ${fmt(test.pValue, 3)} < ${policy.alpha})`,
        );
      }

      const latency = latencyTailTest(t, c, min, policy.latencyToleranceMs);
      if (!latency) {
        checks.push({
          name: 'comparative.latencyTail',
          path: 'comparative',
          observed: null,
          threshold: policy.alpha,
          passed: false,
          unit: 'p-value',
        });
        reasons.push(
          `not enough latency samples to compare tails (need ${Math.max(min, MIN_TAIL_SAMPLE)} treatment, ${Math.max(min, 20)} control)`,
        );
      } else {
        stats.latencyTest = latency;
        const slower = latency.pValue < policy.alpha;
        checks.push({
          name: 'comparative.latencyTail',
          path: 'comparative',
          observed: latency.pValue,
          threshold: policy.alpha,
          passed: !slower,
          unit: 'p-value',
        });
        if (slower) {
          rollbackReasons.push(
            `comparative path: ${pct(latency.share)} of treatment requests slower than control P95 ` +
              `${fmt(latency.controlP95)} ms, expected 5% (z = ${fmt(latency.z, 4)}, one-sided p = ` +
              `${fmt(latency.pValue, 3)} < ${policy.alpha})`,
          );
        }
      }
    }
  }

  if (rollbackReasons.length > 0) {
    return { action: 'rollback', reasons: rollbackReasons, checks, stats, policy };
  }
  if (status === 'paused') {
    return { action: 'hold', reasons: ['canary is paused', ...reasons], checks, stats, policy };
  }
  const failed = checks.filter((c) => !c.passed);
  if (failed.length === 0) {
    const last = stageIndex === state.stages.length - 1;
    return {
      action: last ? 'complete' : 'advance',
      reasons: [
        last
          ? `stage ${stageIndex} (${stage.percent}%) healthy for ${fmt(elapsedSec ?? 0)} s with ${stageRequests} treatment requests: complete`
          : `stage ${stageIndex} (${stage.percent}%) healthy for ${fmt(elapsedSec ?? 0)} s with ${stageRequests} treatment requests: advance to ${state.stages[stageIndex + 1]!.percent}%`,
      ],
      checks,
      stats,
      policy,
    };
  }
  for (const c of failed) {
    if (c.name === 'stage.minDuration') {
      if (c.observed === null) reasons.push('stage has no start time');
      else reasons.push(`stage minimum duration not reached (${fmt(c.observed ?? 0)} of ${c.threshold} s)`);
    } else if (c.name === 'stage.sampleSize') {
      reasons.push(
        c.observed === 0
          ? 'no treatment traffic in this stage (no traffic is never healthy)'
          : `not enough treatment requests in this stage (${c.observed} of ${c.threshold})`,
      );
    } else if (c.name === 'traffic.current') {
      reasons.push(
        c.observed === null
          ? 'no treatment traffic reported'
          : `no recent treatment traffic (last window ended ${fmt(c.observed)} ms ago)`,
      );
    }
  }
  return { action: 'hold', reasons: dedupe(reasons), checks, stats, policy };
}

function dedupe(xs: string[]): string[] {
  return [...new Set(xs)];
}

function isObservationList(
  x: CanaryObservations | readonly (SerializedWindow | WindowAggregate)[],
): x is readonly (SerializedWindow | WindowAggregate)[] {
  return Array.isArray(x);
}

/**
 * The complete windows of the current stage, merged per window start and cohort, oldest first.
 * A window belongs to the stage when its `stage` (if reported) is the current one and it ends after
 * the stage started. Per cohort and window, rows for endpoint `*` (all endpoints) are used when
 * present; otherwise the per-endpoint rows are summed.
 */
function collectSlots(
  state: CanaryDecisionState,
  obs: CanaryObservations,
  stageIndex: number,
  stageStartMs: number | null,
  nowMs: number,
): Slot[] {
  const byStart = new Map<
    number,
    { durationMs: number; rows: Map<string, (SerializedWindow | WindowAggregate)[]> }
  >();
  for (const w of obs.windows) {
    if (state.key !== undefined && w.flag !== state.key) continue;
    if (w.cohort !== 'treatment' && w.cohort !== 'control') continue;
    if (w.stage !== undefined && w.stage !== stageIndex) continue;
    const end = w.windowStart + w.durationMs;
    if (!(end <= nowMs)) continue;
    if (stageStartMs !== null && !(end > stageStartMs)) continue;
    let slot = byStart.get(w.windowStart);
    if (!slot) {
      slot = { durationMs: w.durationMs, rows: new Map() };
      byStart.set(w.windowStart, slot);
    }
    slot.durationMs = Math.max(slot.durationMs, w.durationMs);
    const starKey = `${w.cohort}|${w.endpoint === '*' ? '*' : 'e'}`;
    const list = slot.rows.get(starKey);
    if (list) list.push(w);
    else slot.rows.set(starKey, [w]);
  }
  const gaugesByStart = new Map<number, Slot['gauges']>();
  for (const g of obs.gauges ?? []) {
    const acc = gaugesByStart.get(g.windowStart) ?? {};
    for (const name of [...gaugeNames, 'dbPoolWaiters'] as const) {
      const v = g[name];
      if (typeof v === 'number' && Number.isFinite(v))
        acc[name] = Math.max(acc[name] ?? Number.NEGATIVE_INFINITY, v);
    }
    gaugesByStart.set(g.windowStart, acc);
  }
  const slots: Slot[] = [];
  for (const [start, { durationMs, rows }] of byStart) {
    const cohort = (name: 'treatment' | 'control'): WindowAggregate | null => {
      const list = rows.get(`${name}|*`) ?? rows.get(`${name}|e`);
      if (!list || list.length === 0) return null;
      const agg = new WindowAggregate({
        flag: list[0]!.flag,
        cohort: name,
        endpoint: '*',
        windowStart: start,
        durationMs,
      });
      for (const w of list) agg.merge(w);
      return agg;
    };
    slots.push({
      start,
      durationMs,
      treatment: cohort('treatment'),
      control: cohort('control'),
      gauges: gaugesByStart.get(start) ?? {},
    });
  }
  return slots.sort((a, b) => a.start - b.start);
}

/** Up to `n` latest windows that follow each other without a gap, latest first. */
function latestRun(slots: Slot[], n: number): Slot[] {
  const run: Slot[] = [];
  for (let i = slots.length - 1; i >= 0 && run.length < n; i--) {
    const s = slots[i]!;
    const previous = run[run.length - 1];
    if (previous && s.start + s.durationMs !== previous.start) break;
    run.push(s);
  }
  return run;
}

/**
 * The sample-ratio check: with deterministic bucketing the control range holds as many units as the
 * treatment up to 50% (every other unit above), so their distinct units must split in that ratio. Judged
 * like the health report's traffic share (`trafficShare`: `sigmas` binomial standard deviations plus
 * the sketches' error, at least 1 point, not below 100 units). Null when off or without unit sketches.
 */
function unitBalance(
  t: WindowAggregate | null,
  c: WindowAggregate | null,
  percent: number,
  sigmas: number,
): UnitBalanceStats | null {
  if (!(sigmas > 0) || !(percent > 0 && percent < 100) || !t?.units || !c?.units) return null;
  const tu = t.unitCount ?? 0;
  const cu = c.unitCount ?? 0;
  // The cohorts' sizes from the one place that defines their bucket ranges.
  const [tStart, tEnd] = treatmentRange(percent);
  const [cStart, cEnd] = controlRange(percent);
  if (tEnd - tStart <= 0 || cEnd - cStart <= 0) return null;
  const expectedPercent = (100 * (tEnd - tStart)) / (tEnd - tStart + (cEnd - cStart));
  const share = trafficShare(expectedPercent, tu, tu + cu, {
    sketchError: unitSketchStandardError(Math.min(t.units.p, c.units.p)),
    sigmas,
  });
  if (share.observedPercent === null || share.gap === null || share.allowedGap === null) return null;
  return {
    treatmentUnits: Math.round(tu),
    controlUnits: Math.round(cu),
    observedPercent: share.observedPercent,
    expectedPercent,
    gap: share.gap,
    allowedGap: share.allowedGap,
    ok: share.ok,
  };
}

function mergeSlots(slots: Slot[], cohort: 'treatment' | 'control'): WindowAggregate | null {
  let agg: WindowAggregate | null = null;
  for (const s of slots) {
    const w = s[cohort];
    if (!w) continue;
    if (!agg)
      agg = new WindowAggregate({
        flag: w.flag,
        cohort,
        endpoint: '*',
        windowStart: w.windowStart,
        durationMs: w.durationMs,
      });
    agg.merge(w);
  }
  return agg;
}

/**
 * One-sided z-test of the share of treatment requests above the control cohort's P95 (plus the
 * policy's practical margin) against 5%: z = (p̂ − 0.05) / √(0.05 · 0.95 / n). Counted from the sketches, so a request within the
 * sketch's relative accuracy of the P95 is not counted as slower (conservative).
 */
function latencyTailTest(
  t: WindowAggregate,
  c: WindowAggregate,
  min: number,
  toleranceMs: number,
): LatencyTestStats | null {
  const n = t.latency.count;
  // The normal approximation of the binomial share needs n · 5% ≥ 5; a control P95 needs ≥ 20 values.
  if (n < Math.max(min, MIN_TAIL_SAMPLE) || c.latency.count < Math.max(min, 20)) return null;
  const controlP95 = c.latency.quantile(1 - EXPECTED_TAIL_SHARE);
  const above = t.latency.countAbove(controlP95 + toleranceMs);
  const share = above / n;
  const z = (share - EXPECTED_TAIL_SHARE) / Math.sqrt((EXPECTED_TAIL_SHARE * (1 - EXPECTED_TAIL_SHARE)) / n);
  return {
    z,
    pValue: normal.sf(z),
    controlP95,
    treatmentAbove: above,
    treatmentCount: n,
    share,
    expectedShare: EXPECTED_TAIL_SHARE,
  };
}
