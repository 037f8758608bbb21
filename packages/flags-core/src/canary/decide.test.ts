import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { GaugeWindow, SerializedWindow } from '../metrics/types';
import { WindowAggregate } from '../metrics/window';
import type { CanaryStage, CanaryStatus } from '../snapshot/types';
import { type CanaryDecision, type CanaryDecisionState, decideCanary } from './decide';

const W = 10_000;
const NOW = 1_700_000_100_000; // aligned to 10 s
const STAGES: CanaryStage[] = [
  { percent: 1, minDurationSec: 60 },
  { percent: 10, minDurationSec: 60 },
  { percent: 25, minDurationSec: 60 },
  { percent: 50, minDurationSec: 60 },
  { percent: 100, minDurationSec: 60 },
];
const FLAG = 'canary.checkout';

function state(stage = 1, startedAgoMs = 120_000, status: CanaryStatus = 'progressing'): CanaryDecisionState {
  return {
    key: FLAG,
    stages: STAGES,
    canary: { stage, status, stageStartedAt: new Date(NOW - startedAgoMs).toISOString(), runId: 'run-1' },
  };
}

interface WindowSpec {
  start: number;
  cohort: 'treatment' | 'control';
  requests: number;
  errors?: number;
  latency?: (i: number) => number;
  stage?: number;
  endpoint?: string;
  flag?: string;
  durationMs?: number;
  /** Unit keys counted in the window's distinct-unit sketch. */
  units?: readonly string[];
}

/** Latencies spread evenly over 20–80 ms. */
const healthyLatency = (i: number) => 20 + ((i * 37) % 61);

function window(spec: WindowSpec): SerializedWindow {
  const w = new WindowAggregate({
    flag: spec.flag ?? FLAG,
    cohort: spec.cohort,
    endpoint: spec.endpoint ?? '*',
    windowStart: spec.start,
    durationMs: spec.durationMs ?? W,
    ...(spec.stage !== undefined ? { stage: spec.stage } : {}),
  });
  const errors = spec.errors ?? 0;
  const latency = spec.latency ?? healthyLatency;
  for (let i = 0; i < spec.requests; i++) {
    // Spread the errors evenly over the window's requests.
    const isError = Math.floor(((i + 1) * errors) / spec.requests) > Math.floor((i * errors) / spec.requests);
    w.record(latency(i), isError ? { error: true, status: 500, endpoint: 'GET /checkout' } : {});
  }
  for (const u of spec.units ?? []) w.recordUnit(u);
  return w.toSerialized();
}

/** One window per 10 s from `fromAgoMs` before NOW up to NOW (complete windows only). */
function series(
  fromAgoMs: number,
  cohort: 'treatment' | 'control',
  requests: number,
  errors = 0,
  extra: Partial<WindowSpec> = {},
  toAgoMs = 0,
): SerializedWindow[] {
  const out: SerializedWindow[] = [];
  for (let start = NOW - fromAgoMs; start + W <= NOW - toAgoMs; start += W) {
    out.push(window({ start, cohort, requests, errors, ...extra }));
  }
  return out;
}

const healthy = (fromAgoMs = 120_000, requests = 100) => [
  ...series(fromAgoMs, 'treatment', requests, 1),
  ...series(fromAgoMs, 'control', requests, 1),
];

const check = (d: CanaryDecision, name: string) => d.checks.find((c) => c.name === name);

describe('decideCanary: advance and complete', () => {
  it('advances a healthy stage after its minimum duration and sample', () => {
    const d = decideCanary(state(), healthy(), {}, NOW);
    expect(d.action).toBe('advance');
    expect(d.reasons[0]).toMatch(/stage 1 \(10%\) healthy .*1200 treatment requests: advance to 25%/);
    expect(d.checks.every((c) => c.passed)).toBe(true);
    expect(d.checks.map((c) => c.name)).toEqual([
      'stage.minDuration',
      'stage.sampleSize',
      'traffic.current',
      'fast.errorRate',
      'fast.p99',
      'comparative.errorRate',
      'comparative.latencyTail',
    ]);
    expect(check(d, 'stage.minDuration')).toMatchObject({ observed: 120, threshold: 60 });
    expect(check(d, 'stage.sampleSize')).toMatchObject({ observed: 1200, threshold: 200 });
    expect(check(d, 'fast.errorRate')).toMatchObject({ observed: 1, threshold: 5, breachedWindows: 0 });
    expect(d.stats.stageTreatment.requests).toBe(1200);
    expect(d.stats.fastWindows.map((w) => w.windowStart)).toEqual([NOW - 10_000, NOW - 20_000]);
    expect(d.stats.latestWindowStart).toBe(NOW - 10_000);
    expect(d.stats.errorTest!.pValue).toBeGreaterThan(0.01);
    expect(d.stats.z).toBe(d.stats.errorTest!.z);
  });

  it('completes the last (100%) stage; there is no control cohort to compare', () => {
    const d = decideCanary(state(4), series(120_000, 'treatment', 100, 1), {}, NOW);
    expect(d.action).toBe('complete');
    expect(d.checks.some((c) => c.path === 'comparative')).toBe(false);
    expect(d.stats.comparison).toBeNull();
  });

  it('holds before the stage minimum duration', () => {
    const d = decideCanary(state(1, 50_000), healthy(50_000), {}, NOW);
    expect(d.action).toBe('hold');
    expect(d.reasons).toContain('stage minimum duration not reached (50 of 60 s)');
  });

  it('holds below the minimum sample (200 treatment requests in the stage)', () => {
    const d = decideCanary(state(), healthy(120_000, 16), {}, NOW);
    expect(d.action).toBe('hold');
    expect(check(d, 'stage.sampleSize')).toMatchObject({ observed: 192, passed: false });
    expect(d.reasons).toContain('not enough treatment requests in this stage (192 of 200)');
  });

  it('no traffic is never healthy: holds with a reason', () => {
    const d = decideCanary(state(1, 3_600_000), [], {}, NOW);
    expect(d.action).toBe('hold');
    expect(d.reasons).toContain('no treatment traffic in this stage (no traffic is never healthy)');
    expect(d.reasons).toContain('no treatment traffic reported');
    expect(check(d, 'fast.errorRate')).toMatchObject({ observed: null, passed: false });
  });

  it('traffic that stopped is not current: holds even with an earlier healthy sample', () => {
    const d = decideCanary(
      state(1, 600_000),
      healthy(600_000, 100).filter((w) => w.windowStart < NOW - 300_000),
      {},
      NOW,
    );
    expect(d.action).toBe('hold');
    expect(check(d, 'traffic.current')).toMatchObject({ observed: 300_000, passed: false });
  });

  it('holds without enough control traffic to compare', () => {
    const d = decideCanary(
      state(),
      [...series(120_000, 'treatment', 100, 1), ...series(20_000, 'control', 10)],
      {},
      NOW,
    );
    expect(d.action).toBe('hold');
    expect(d.reasons).toContain('not enough traffic to compare (treatment 1200, control 20; need 50 each)');
    expect(check(d, 'comparative.errorRate')).toMatchObject({ observed: null, passed: false });
  });

  it('a stage with no start time holds', () => {
    const s = state();
    s.canary.stageStartedAt = null;
    const d = decideCanary(s, healthy(), {}, NOW);
    expect(d.action).toBe('hold');
    expect(d.reasons).toContain('stage has no start time');
  });
});

describe('decideCanary: fast path', () => {
  it('rolls back on an error rate above 5% in 2 consecutive windows, even before the minimum duration', () => {
    const windows = [...healthy(30_000), ...series(20_000, 'treatment', 100, 20, {}, 0)];
    // Replace the last two treatment windows by failing ones.
    const failing = windows.filter(
      (w) => !(w.cohort === 'treatment' && w.windowStart >= NOW - 20_000 && w.errors === 1),
    );
    const d = decideCanary(state(1, 30_000), failing, {}, NOW);
    expect(d.action).toBe('rollback');
    expect(d.reasons[0]).toBe('fast path: treatment error rate 20% > 5% in 2 consecutive windows');
    expect(check(d, 'fast.errorRate')).toMatchObject({
      observed: 20,
      threshold: 5,
      passed: false,
      breachedWindows: 2,
    });
  });

  it('one breached window holds (no rollback, no advance)', () => {
    const windows = [
      ...series(120_000, 'treatment', 100, 1, {}, 10_000),
      window({ start: NOW - W, cohort: 'treatment', requests: 100, errors: 7 }),
      ...series(120_000, 'control', 100, 1),
    ];
    const d = decideCanary(state(), windows, {}, NOW);
    expect(d.action).toBe('hold');
    expect(d.reasons).toContain(
      'fast.errorRate: breached in 1 of the last 2 windows (rollback needs 2 in a row)',
    );
  });

  it('a breached window with fewer than 50 treatment requests does not count', () => {
    const windows = [
      window({ start: NOW - 2 * W, cohort: 'treatment', requests: 49, errors: 40 }),
      window({ start: NOW - W, cohort: 'treatment', requests: 100, errors: 40 }),
    ];
    const d = decideCanary(state(1, 30_000), windows, {}, NOW);
    expect(d.action).toBe('hold');
    expect(check(d, 'fast.errorRate')!.breachedWindows).toBe(1);
  });

  it('breaches separated by a window without traffic are not consecutive', () => {
    const windows = [
      window({ start: NOW - 3 * W, cohort: 'treatment', requests: 100, errors: 40 }),
      window({ start: NOW - W, cohort: 'treatment', requests: 100, errors: 40 }),
    ];
    const d = decideCanary(state(1, 60_000), windows, {}, NOW);
    expect(d.action).toBe('hold');
    expect(d.stats.fastWindows).toHaveLength(1);
  });

  it('rolls back on P99 above 2000 ms in 2 consecutive windows', () => {
    const slow = (i: number) => (i % 10 === 0 ? 2600 : 40);
    const windows = [
      ...healthy(120_000),
      ...series(20_000, 'treatment', 100, 0, { latency: slow }).map((w) => ({ ...w, endpoint: 'GET /slow' })),
    ].filter((w) => !(w.cohort === 'treatment' && w.endpoint === '*' && w.windowStart >= NOW - 20_000));
    const d = decideCanary(state(), windows, {}, NOW);
    expect(d.action).toBe('rollback');
    expect(
      d.reasons.some((r) =>
        /^fast path: treatment P99 2[56]\d\d ms > 2000 ms in 2 consecutive windows$/.test(r),
      ),
    ).toBe(true);
  });

  it('rolls back on a resource gauge sustained over its limit (worst instance counts)', () => {
    const gauges: GaugeWindow[] = [];
    for (const start of [NOW - 2 * W, NOW - W]) {
      gauges.push({ windowStart: start, durationMs: W, heapUsedPercent: 40 });
      gauges.push({ windowStart: start, durationMs: W, heapUsedPercent: 95, cpuPercent: 30 });
    }
    const d = decideCanary(state(), { windows: healthy(), gauges }, {}, NOW);
    expect(d.action).toBe('rollback');
    expect(d.reasons).toContain('fast path: heapUsedPercent 95 over its limit 90 in 2 consecutive windows');
    expect(check(d, 'fast.cpuPercent')).toMatchObject({ observed: 30, passed: true });
    expect(d.stats.fastWindows[0]!.gauges.heapUsedPercent).toBe(95);
  });

  it('a gauge reported in an earlier window but not the latest does not block an advance', () => {
    const gauges: GaugeWindow[] = [{ windowStart: NOW - 2 * W, durationMs: W, heapUsedPercent: 40 }];
    const d = decideCanary(state(), { windows: healthy(), gauges }, {}, NOW);
    expect(check(d, 'fast.heapUsedPercent')).toMatchObject({ observed: null, passed: true });
    expect(d.action).toBe('advance');
  });

  it('a DB pool at 100% is a breach only with waiters', () => {
    const pool = (waiters: number): GaugeWindow[] =>
      [NOW - 2 * W, NOW - W].map((windowStart) => ({
        windowStart,
        durationMs: W,
        dbPoolSaturationPercent: 100,
        dbPoolWaiters: waiters,
      }));
    expect(decideCanary(state(), { windows: healthy(), gauges: pool(0) }, {}, NOW).action).toBe('advance');
    const d = decideCanary(state(), { windows: healthy(), gauges: pool(3) }, {}, NOW);
    expect(d.action).toBe('rollback');
    expect(d.reasons[0]).toMatch(/dbPoolSaturationPercent 100/);
  });

  it('event-loop delay over 500 ms sustained rolls back; gauges in windows without traffic do not', () => {
    const gauges = [NOW - 2 * W, NOW - W].map((windowStart) => ({
      windowStart,
      durationMs: W,
      eventLoopDelayP99Ms: 800,
    }));
    expect(decideCanary(state(), { windows: healthy(), gauges }, {}, NOW).action).toBe('rollback');
    expect(decideCanary(state(1, 30_000), { windows: [], gauges }, {}, NOW).action).toBe('hold');
  });

  it('thresholds come from the policy', () => {
    const windows = [...series(120_000, 'treatment', 100, 8), ...series(120_000, 'control', 100, 7)];
    expect(decideCanary(state(), windows, {}, NOW).action).toBe('rollback');
    expect(decideCanary(state(), windows, { errorRateThreshold: 10 }, NOW).action).toBe('advance');
    const three = decideCanary(state(), windows, { consecutiveWindows: 3 }, NOW);
    expect(three.action).toBe('rollback');
    expect(three.reasons[0]).toMatch(/in 3 consecutive windows/);
  });
});

describe('decideCanary: comparative path', () => {
  it('rolls back a treatment worse than control under the absolute threshold (two-proportion z, as R)', () => {
    // 6 windows × 200 requests: treatment 36 errors (3%), control 6 (0.5%); absolute threshold 5% not hit.
    const windows = [...series(60_000, 'treatment', 200, 6), ...series(60_000, 'control', 200, 1)];
    const d = decideCanary(state(1, 60_000), windows, {}, NOW);
    expect(d.action).toBe('rollback');
    expect(check(d, 'fast.errorRate')!.passed).toBe(true);
    // R: prop.test(c(36, 6), c(1200, 1200), alternative = "greater", correct = FALSE)
    expect(d.stats.errorTest!.z).toBeCloseTo(4.67014462494304, 12);
    expect(d.stats.errorTest!.pValue / 1.5049387794089e-6).toBeCloseTo(1, 6);
    expect(d.reasons[0]).toBe(
      'comparative path: treatment error rate 3% > control 0.5% (z = 4.67, one-sided p = 1.50e-6 < 0.01)',
    );
    expect(check(d, 'comparative.errorRate')).toMatchObject({ threshold: 0.01, passed: false });
  });

  it('a treatment better than control is not a rollback (one-sided)', () => {
    const windows = [...series(120_000, 'treatment', 200, 0), ...series(120_000, 'control', 200, 8)];
    const d = decideCanary(state(), windows, {}, NOW);
    expect(d.stats.errorTest!.z).toBeLessThan(0);
    expect(check(d, 'comparative.errorRate')!.passed).toBe(true);
  });

  it('rolls back a treatment slower in the tail than control (under the absolute P99)', () => {
    // Control uniform-ish 20–80 ms; 20% of treatment requests take 150 ms.
    const tail = (i: number) => (i % 5 === 0 ? 150 : healthyLatency(i));
    const windows = [
      ...series(120_000, 'treatment', 100, 1, { latency: tail }),
      ...series(120_000, 'control', 100, 1),
    ];
    const d = decideCanary(state(), windows, {}, NOW);
    expect(d.action).toBe('rollback');
    const lt = d.stats.latencyTest!;
    expect(lt.treatmentCount).toBe(1200);
    expect(lt.share).toBeCloseTo(0.2, 12);
    expect(lt.z).toBeCloseTo((lt.share - 0.05) / Math.sqrt((0.05 * 0.95) / 1200), 12);
    expect(
      d.reasons.some((r) => r.startsWith('comparative path: ') && r.includes('slower than control P95')),
    ).toBe(true);
    expect(check(d, 'fast.p99')!.passed).toBe(true);
  });

  it('the latency z-test p-value matches R for a modest excess (6% above P95, n = 600)', () => {
    // Treatment with exactly 36 of 600 requests above every control value.
    const windows = [
      ...series(60_000, 'treatment', 100, 0, { latency: (i) => (i % 100 < 6 ? 500 : 30) }),
      ...series(60_000, 'control', 100, 0, { latency: (i) => 20 + (i % 50) }),
    ];
    const d = decideCanary(state(1, 60_000), windows, {}, NOW);
    expect(d.stats.latencyTest!.treatmentAbove).toBe(36);
    // R: pnorm((0.06 - 0.05) / sqrt(0.05 * 0.95 / 600), lower.tail = FALSE)
    expect(d.stats.latencyTest!.pValue / 0.130527094789829).toBeCloseTo(1, 6);
    expect(check(d, 'comparative.latencyTail')!.passed).toBe(true);
  });

  it('the tail test needs 100 treatment latencies: a few slow requests in a small sample hold, never roll back', () => {
    const slowFew = (i: number) => (i % 4 === 0 ? 400 : healthyLatency(i));
    const windows = [
      ...series(30_000, 'treatment', 13, 0, { latency: slowFew }),
      ...series(30_000, 'control', 12, 0),
    ];
    const d = decideCanary(state(1, 30_000), windows, { minRequestsPerWindow: 10, minSampleSize: 20 }, NOW);
    expect(d.stats.latencyTest).toBeNull();
    expect(check(d, 'comparative.latencyTail')).toMatchObject({ observed: null, passed: false });
    expect(d.action).toBe('hold');
    expect(d.reasons).toContain(
      'not enough latency samples to compare tails (need 100 treatment, 20 control)',
    );
  });

  it('comparisonWindowMs limits the comparison to recent windows', () => {
    const windows = [
      ...series(120_000, 'treatment', 200, 6, {}, 60_000),
      ...series(60_000, 'treatment', 200, 1),
      ...series(120_000, 'control', 200, 1),
    ];
    expect(decideCanary(state(), windows, {}, NOW).action).toBe('rollback');
    const recent = decideCanary(state(), windows, { comparisonWindowMs: 60_000 }, NOW);
    expect(recent.action).toBe('advance');
    expect(recent.stats.comparison).toMatchObject({ from: NOW - 60_000, to: NOW, windows: 6 });
  });
});

/** `n` unit keys of one cohort, each window of a series gets its own slice (distinct across windows). */
function withUnits(windows: SerializedWindow[], prefix: string, n: number): SerializedWindow[] {
  const per = Math.ceil(n / windows.length);
  return windows.map((w, i) => {
    const units = Array.from(
      { length: Math.max(0, Math.min(per, n - i * per)) },
      (_, j) => `${prefix}-${i * per + j}`,
    );
    const agg = WindowAggregate.fromSerialized(w);
    for (const u of units) agg.recordUnit(u);
    return agg.toSerialized();
  });
}

describe('decideCanary: sample-ratio check (distinct units of treatment and control)', () => {
  const balanced = (tUnits: number, cUnits: number, requests = 100) => [
    ...withUnits(series(120_000, 'treatment', requests, 1), 't', tUnits),
    ...withUnits(series(120_000, 'control', requests, 1), 'c', cUnits),
  ];

  it('equal cohorts up to 50%: balanced units advance, with the check and its figures', () => {
    const d = decideCanary(state(), balanced(1000, 1000), {}, NOW);
    expect(d.action).toBe('advance');
    expect(check(d, 'comparative.unitBalance')).toMatchObject({
      path: 'comparative',
      passed: true,
      unit: 'percent',
    });
    const b = d.stats.unitBalance!;
    expect(b.expectedPercent).toBe(50);
    // HyperLogLog estimates: within a few percent of the true 1,000 each.
    expect(Math.abs(b.treatmentUnits - 1000)).toBeLessThan(50);
    expect(Math.abs(b.controlUnits - 1000)).toBeLessThan(50);
    expect(Math.abs(b.gap)).toBeLessThan(b.allowedGap);
    expect(b.observedPercent).toBeCloseTo((100 * b.treatmentUnits) / (b.treatmentUnits + b.controlUnits), 0);
  });

  it('a mismatch holds (no advance), names the figures, and is not a rollback', () => {
    const d = decideCanary(state(), balanced(1500, 700), {}, NOW);
    expect(d.action).toBe('hold');
    const c = check(d, 'comparative.unitBalance')!;
    expect(c.passed).toBe(false);
    expect(c.observed!).toBeGreaterThan(c.threshold);
    expect(d.reasons.join(' ')).toMatch(
      /sample ratio mismatch: the treatment has \d+ of the \d+ distinct units of treatment and control \(6\d\.\d%\), expected 50\.0% ± \d+\.\d points/,
    );
    // Everything else is healthy: only this check failed.
    expect(d.checks.filter((x) => !x.passed).map((x) => x.name)).toEqual(['comparative.unitBalance']);
  });

  it('the allowed gap follows the policy (sampleRatioSigmas), and 0 turns the check off', () => {
    const windows = balanced(1500, 700);
    const off = decideCanary(state(), windows, { sampleRatioSigmas: 0 }, NOW);
    expect(off.action).toBe('advance');
    expect(check(off, 'comparative.unitBalance')).toBeUndefined();
    expect(off.stats.unitBalance).toBeNull();
    const lax = decideCanary(state(), windows, { sampleRatioSigmas: 100 }, NOW);
    expect(lax.action).toBe('advance');
    const strict = decideCanary(state(), balanced(1000, 1000), { sampleRatioSigmas: 4 }, NOW);
    expect(lax.stats.unitBalance!.allowedGap).toBeGreaterThan(strict.stats.unitBalance!.allowedGap);
  });

  it('above 50% the control cohort is every other unit: 75% treatment splits 3 to 1', () => {
    const s = {
      ...state(),
      stages: [
        { percent: 75, minDurationSec: 60 },
        { percent: 100, minDurationSec: 0 },
      ],
    };
    s.canary = { ...s.canary, stage: 0 };
    const ok = decideCanary(s, balanced(1500, 500), {}, NOW);
    expect(ok.stats.unitBalance).toMatchObject({ expectedPercent: 75, ok: true });
    expect(ok.action).toBe('advance');
    const even = decideCanary(s, balanced(1000, 1000), {}, NOW);
    expect(even.action).toBe('hold');
    expect(even.stats.unitBalance).toMatchObject({ expectedPercent: 75, ok: false });
  });

  it('fewer than 100 units in all are not judged; without unit sketches there is no check', () => {
    const few = decideCanary(state(), balanced(60, 20), {}, NOW);
    expect(check(few, 'comparative.unitBalance')).toMatchObject({ passed: true });
    expect(few.action).toBe('advance');
    const none = decideCanary(state(), healthy(), {}, NOW);
    expect(check(none, 'comparative.unitBalance')).toBeUndefined();
    expect(none.stats.unitBalance).toBeNull();
  });

  it('a breach still rolls back under a mismatch (rolling back is always safe)', () => {
    const windows = [
      ...withUnits(series(120_000, 'treatment', 100, 20), 't', 1500),
      ...withUnits(series(120_000, 'control', 100, 1), 'c', 700),
    ];
    const d = decideCanary(state(), windows, {}, NOW);
    expect(d.action).toBe('rollback');
    expect(check(d, 'comparative.unitBalance')!.passed).toBe(false);
  });
});

describe('decideCanary: status, stage and window selection', () => {
  it('paused: never advances, but still rolls back on a breach', () => {
    expect(decideCanary(state(1, 120_000, 'paused'), healthy(), {}, NOW)).toMatchObject({
      action: 'hold',
      reasons: ['canary is paused'],
    });
    const failing = [...series(120_000, 'treatment', 100, 30), ...series(120_000, 'control', 100, 1)];
    expect(decideCanary(state(1, 120_000, 'paused'), failing, {}, NOW).action).toBe('rollback');
  });

  it('completed and rolled-back canaries are left alone', () => {
    const failing = series(120_000, 'treatment', 100, 30);
    for (const status of ['completed', 'rolled_back'] as const) {
      const d = decideCanary(state(1, 120_000, status), failing, {}, NOW);
      expect(d).toMatchObject({
        action: 'hold',
        reasons: [`canary is ${status}; nothing to decide`],
        checks: [],
      });
    }
  });

  it('an unknown stage holds', () => {
    expect(decideCanary(state(9), healthy(), {}, NOW).reasons[0]).toBe(
      'canary stage 9 does not exist (5 stages)',
    );
  });

  it('windows from before the stage started (e.g. the failed run before a restart) are ignored', () => {
    const old = series(300_000, 'treatment', 100, 50, {}, 60_000);
    const d = decideCanary(state(0, 60_000), [...old, ...healthy(60_000)], {}, NOW);
    expect(d.action).toBe('advance');
    expect(d.stats.stageTreatment.requests).toBe(600);
  });

  it('windows labelled with another stage, another flag, no cohort, or still open are ignored', () => {
    const noise = [
      ...series(120_000, 'treatment', 100, 60, { stage: 0 }),
      ...series(120_000, 'treatment', 100, 60, { flag: 'canary.other' }),
      window({ start: NOW, cohort: 'treatment', requests: 100, errors: 100 }),
      { ...window({ start: NOW - W, cohort: 'treatment', requests: 100, errors: 100 }), cohort: 'none' },
    ];
    const d = decideCanary(state(), [...healthy(), ...noise], {}, NOW);
    expect(d.action).toBe('advance');
    expect(d.stats.stageTreatment.requests).toBe(1200);
  });

  it('the all-endpoints row is used when present, else per-endpoint rows are summed', () => {
    const perEndpoint = [
      ...series(120_000, 'treatment', 60, 1, { endpoint: 'GET /a' }),
      ...series(120_000, 'treatment', 40, 0, { endpoint: 'GET /b' }),
      ...series(120_000, 'control', 100, 1),
    ];
    const d1 = decideCanary(state(), perEndpoint, {}, NOW);
    expect(d1.stats.stageTreatment.requests).toBe(1200);
    const d2 = decideCanary(state(), [...perEndpoint, ...series(120_000, 'treatment', 100, 1)], {}, NOW);
    expect(d2.stats.stageTreatment.requests).toBe(1200);
  });

  it('windows merge across instances', () => {
    const twoInstances = [...healthy(120_000, 50), ...healthy(120_000, 50)];
    const d = decideCanary(state(), twoInstances, {}, NOW);
    expect(d.stats.stageTreatment.requests).toBe(1200);
    expect(d.stats.fastWindows[0]!.treatment.requests).toBe(100);
    expect(d.action).toBe('advance');
  });

  it('is pure: the same input gives the same decision', () => {
    const input = healthy();
    expect(decideCanary(state(), input, {}, NOW)).toEqual(decideCanary(state(), input, {}, NOW));
  });
});

describe('decideCanary properties', () => {
  const policyArb = fc.record(
    {
      errorRateThreshold: fc.double({ min: 0, max: 100, noNaN: true }),
      consecutiveWindows: fc.integer({ min: 1, max: 4 }),
      minRequestsPerWindow: fc.integer({ min: 0, max: 200 }),
      minSampleSize: fc.integer({ min: 0, max: 2000 }),
      alpha: fc.double({ min: 0.0001, max: 0.5, noNaN: true }),
    },
    { requiredKeys: [] },
  );
  const cohortWindowArb = fc.record({
    slot: fc.integer({ min: 0, max: 30 }),
    cohort: fc.constantFrom('treatment' as const, 'control' as const),
    requests: fc.integer({ min: 0, max: 150 }),
    errorShare: fc.double({ min: 0, max: 1, noNaN: true }),
    slow: fc.boolean(),
  });
  const build = (
    specs: {
      slot: number;
      cohort: 'treatment' | 'control';
      requests: number;
      errorShare: number;
      slow: boolean;
    }[],
  ) =>
    specs.map((s) =>
      window({
        start: NOW - (s.slot + 1) * W,
        cohort: s.cohort,
        requests: s.requests,
        errors: Math.ceil(s.requests * s.errorShare),
        latency: s.slow ? (i) => 100 + i : healthyLatency,
      }),
    );
  const stageArb = fc.integer({ min: 0, max: STAGES.length - 1 });
  const agoArb = fc.integer({ min: 0, max: 400_000 });

  it('never advances or completes without treatment traffic', () => {
    fc.assert(
      fc.property(
        fc.array(cohortWindowArb, { maxLength: 20 }),
        policyArb,
        stageArb,
        agoArb,
        (specs, policy, stage, ago) => {
          const windows = build(specs.map((s) => (s.cohort === 'treatment' ? { ...s, requests: 0 } : s)));
          const d = decideCanary(state(stage, ago), windows, policy, NOW);
          return d.action === 'hold' || d.action === 'rollback';
        },
      ),
      { numRuns: 200 },
    );
  });

  it('never advances before the stage minimum duration or below the minimum sample', () => {
    fc.assert(
      fc.property(
        fc.array(cohortWindowArb, { maxLength: 30 }),
        policyArb,
        stageArb,
        agoArb,
        (specs, policy, stage, ago) => {
          const d = decideCanary(state(stage, ago), build(specs), policy, NOW);
          if (d.action !== 'advance' && d.action !== 'complete') return true;
          const minSample = Math.max(1, policy.minSampleSize ?? 200);
          return ago >= STAGES[stage]!.minDurationSec * 1000 && d.stats.stageTreatment.requests >= minSample;
        },
      ),
      { numRuns: 300 },
    );
  });

  it('advances only when every check passed; the last stage completes instead', () => {
    fc.assert(
      fc.property(fc.array(cohortWindowArb, { maxLength: 30 }), stageArb, (specs, stage) => {
        const d = decideCanary(
          state(stage, 300_000),
          build(specs),
          { minRequestsPerWindow: 5, minSampleSize: 20 },
          NOW,
        );
        if (d.action === 'advance') return stage < STAGES.length - 1 && d.checks.every((c) => c.passed);
        if (d.action === 'complete') return stage === STAGES.length - 1 && d.checks.every((c) => c.passed);
        return true;
      }),
      { numRuns: 300 },
    );
  });

  it('rolls back whenever the error-rate breach persists for consecutiveWindows windows', () => {
    fc.assert(
      fc.property(
        fc.array(cohortWindowArb, { maxLength: 20 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 50, max: 150 }),
        fc.double({ min: 0.07, max: 1, noNaN: true }),
        stageArb,
        fc.constantFrom<CanaryStatus>('progressing', 'paused'),
        fc.integer({ min: 0, max: 400_000 }),
        (history, n, requests, share, stage, status, ago) => {
          // Any history before the last n windows, then n breached windows in a row.
          const older = history.map((h) => ({ ...h, slot: h.slot + n }));
          const breached = Array.from({ length: n }, (_, slot) => ({
            slot,
            cohort: 'treatment' as const,
            requests,
            errorShare: share,
            slow: false,
          }));
          const startedAgo = Math.max(ago, n * W);
          const d = decideCanary(
            state(stage, startedAgo, status),
            build([...older, ...breached]),
            { consecutiveWindows: n },
            NOW,
          );
          return (
            d.action === 'rollback' && d.reasons.some((r) => r.startsWith('fast path: treatment error rate'))
          );
        },
      ),
      { numRuns: 200 },
    );
  });
});
