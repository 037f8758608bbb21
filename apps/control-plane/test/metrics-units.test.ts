// Distinct units in canary traffic tracking, on PGlite and Postgres: SDK instances send a unit
// sketch (HyperLogLog) with their windows; ingest merges them per row (union), the 1-minute roll-up
// keeps them, and metrics/health reports the treatment's share of units next to its share of
// requests — a large unit gap (many requests from few users) is a health problem like a request
// gap. Old SDKs without the field keep working (units null, no problem from missing data); a bad
// sketch is a 400 naming the field.
import {
  addUnit,
  alignWindow,
  type CanaryDecision,
  createUnitSketch,
  estimateUnits,
  parseUnitSketch,
  type SerializedWindow,
  WindowAggregate,
} from '@rupaya/flags-core';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploymentMetrics } from '../src/db/schema/index';
import { storageKinds } from '../src/index';
import type { CanaryHealth } from '../src/services/metrics-queries';
import { rollupAndPrune } from '../src/services/metrics-retention';
import { batch, buildWindow, canaryAction, createCanary, postMetrics } from './canary-support';
import { expectError, FLAGS, startTestServer, type TestServer } from './helpers';

const W = 1000;
const STAGES = [
  { percent: 10, minDurationSec: 600 },
  { percent: 50, minDurationSec: 600 },
  { percent: 100, minDurationSec: 0 },
];

type Cohort = 'treatment' | 'control' | 'none';

/**
 * One instance's window of a cohort: `requests` requests spread over `units` (unit keys), on two
 * endpoints; like the SDK, the units ride on the first endpoint's window only.
 */
function instanceWindows(
  flag: string,
  cohort: Cohort,
  start: number,
  requests: number,
  units: readonly string[],
): SerializedWindow[] {
  const endpoints = ['GET /checkout', 'POST /pay'].map(
    (endpoint) =>
      new WindowAggregate({ flag, cohort, stage: 0, endpoint, windowStart: start, durationMs: W }),
  );
  for (let i = 0; i < requests; i++) {
    endpoints[i % 2]!.record(20 + (i % 30));
    if (units.length > 0) endpoints[0]!.recordUnit(units[i % units.length]!);
  }
  return endpoints.filter((e) => e.requests > 0).map((e) => e.toSerialized());
}

const users = (prefix: string, from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => `${prefix}-${from + i}`);

type Traffic = CanaryHealth['traffic'];

describe.each(storageKinds)('canary traffic tracking by units on %s', (kind) => {
  let s: TestServer;
  let sdk: string;

  beforeAll(async () => {
    s = await startTestServer(kind, {
      SCHEDULER_ENABLED: 'false',
      METRICS_AGGREGATION_INTERVAL: String(W),
      METRICS_WINDOW_SIZE: '60',
    });
    sdk = await s.sdkKey('dev');
  });
  afterAll(async () => {
    await s?.close();
  });

  async function health(key: string) {
    const h = await s.call<{ status: string; canaries: { key: string; health: string; traffic: Traffic }[] }>(
      'GET',
      '/api/admin/deployment/metrics/health?environment=dev',
    );
    expect(h.status).toBe(200);
    return h.body.canaries.find((c) => c.key === key)!;
  }

  async function canary(key: string) {
    await createCanary(s, key, {}, STAGES);
    await canaryAction(s, key, 'resume');
  }

  it('several instances with overlapping units: health shows the union and the right unit share', async () => {
    const key = 'units.healthy';
    await canary(key);
    // 2,000 users: 200 treatment (10%), 200 control, 1,600 none. Three instances over four windows,
    // each seeing an overlapping two thirds of every cohort's users (each user on two instances).
    const cohorts: [Cohort, string[]][] = [
      ['treatment', users('t', 0, 200)],
      ['control', users('c', 0, 200)],
      ['none', users('n', 0, 1600)],
    ];
    const from = alignWindow(Date.now(), W) - 6 * W;
    for (let instance = 0; instance < 3; instance++) {
      const windows: SerializedWindow[] = [];
      for (let st = from; st < from + 4 * W; st += W) {
        for (const [cohort, all] of cohorts) {
          const seen = all.filter((_, i) => i % 3 !== instance);
          windows.push(...instanceWindows(key, cohort, st, seen.length, seen));
        }
      }
      expect((await postMetrics(s, sdk, batch(windows, { instanceId: `units-${instance}` }))).status).toBe(
        202,
      );
    }
    const c = await health(key);
    const t = c.traffic;
    expect(t.configuredPercent).toBe(10);
    expect(t.observedPercent).toBeCloseTo(10, 6); // 3 × 4 × (133 + 133 + 1066) requests, 10% treatment
    // Distinct, not summed: 2,000 units, not the 3 × 4 × 1,333 unit-windows reported.
    expect(Math.abs(t.units! - 2000) / 2000).toBeLessThan(4 * 0.0163);
    expect(Math.abs(t.unitGap!)).toBeLessThan(0.6);
    expect(t.observedUnitPercent! - t.unitGap!).toBeCloseTo(10, 9);
    expect(t.allowedUnitGap).toBeGreaterThan(1);
    expect(t).toMatchObject({ ok: true });
    expect(c.health).toBe('healthy');

    // Rows carry the merged sketch and its estimate; the series' units sit on its first endpoint row.
    const rows = (await s.cp.db.db.select().from(deploymentMetrics)).filter(
      (r) => r.flagKey === key && r.windowStartMs === from && r.cohort === 'treatment',
    );
    const withUnits = rows.filter((r) => r.unitSketch !== null);
    expect(withUnits.map((r) => r.endpoint)).toEqual(['GET /checkout']);
    const parsed = parseUnitSketch(withUnits[0]!.unitSketch);
    expect(parsed.ok).toBe(true);
    if (parsed.ok) expect(withUnits[0]!.units).toBe(Math.round(estimateUnits(parsed.sketch)));
    expect(Math.abs(withUnits[0]!.units! - 200)).toBeLessThanOrEqual(4);

    // metrics/range: units per point (a union over instances), null with an endpoint filter.
    const range = await s.call<{
      series: { cohort: string; points: { requests: number; units: number }[] }[];
    }>(
      'GET',
      `/api/admin/deployment/metrics/range?environment=dev&flag=${key}&from=${from}&to=${from + 4 * W}&cohort=treatment`,
    );
    expect(range.status).toBe(200);
    const points = range.body.series[0]!.points;
    expect(points).toHaveLength(4);
    for (const p of points) expect(Math.abs(p.units - 200)).toBeLessThanOrEqual(4);
    const byEndpoint = await s.call<{ series: { points: { units: number | null }[] }[] }>(
      'GET',
      `/api/admin/deployment/metrics/range?environment=dev&flag=${key}&from=${from}&to=${from + 4 * W}&cohort=treatment&endpoint=${encodeURIComponent('GET /checkout')}`,
    );
    expect(byEndpoint.body.series[0]!.points.every((p) => p.units === null)).toBe(true);
  });

  it('many requests from few treatment users: the request share is right, the unit share is a health problem', async () => {
    const key = 'units.skewed';
    await canary(key);
    // Treatment: 10% of requests, but from 40 heavy users (2% of 2,000 units).
    const from = alignWindow(Date.now(), W) - 6 * W;
    const windows: SerializedWindow[] = [];
    for (let st = from; st < from + 4 * W; st += W) {
      windows.push(...instanceWindows(key, 'treatment', st, 300, users('heavy', 0, 40)));
      windows.push(...instanceWindows(key, 'control', st, 300, users('c', 0, 200)));
      windows.push(...instanceWindows(key, 'none', st, 2400, users('n', 0, 1760)));
    }
    expect((await postMetrics(s, sdk, batch(windows))).status).toBe(202);
    const c = await health(key);
    expect(c.traffic.observedPercent).toBeCloseTo(10, 6);
    expect(Math.abs(c.traffic.gap!)).toBeLessThan(c.traffic.allowedGap!);
    expect(c.traffic.observedUnitPercent).toBeGreaterThan(1.5);
    expect(c.traffic.observedUnitPercent).toBeLessThan(2.5);
    expect(Math.abs(c.traffic.unitGap!)).toBeGreaterThan(c.traffic.allowedUnitGap!);
    expect(c.traffic.ok).toBe(false);
    expect(c.health).toBe('degraded');
  });

  it('the scheduler holds a canary whose treatment and control units do not match (sample ratio mismatch)', async () => {
    const run = (nowMs: number) => s.cp.app.canaryScheduler.run('manual', nowMs);
    const stages = [
      { percent: 10, minDurationSec: 1 },
      { percent: 100, minDurationSec: 0 },
    ];
    const cases = [
      { key: 'units.srm-balanced', treatmentUsers: 200, extra: {} },
      { key: 'units.srm-skewed', treatmentUsers: 40, extra: {} },
      { key: 'units.srm-off', treatmentUsers: 40, extra: { policy: { sampleRatioSigmas: 0 } } },
    ];
    const results: Record<string, { outcome: string; decision: CanaryDecision }> = {};
    for (const c of cases) {
      await createCanary(s, c.key, c.extra, stages);
      const started = await canaryAction(s, c.key, 'resume');
      const from = alignWindow(Date.parse(started.stageStartedAt), W) + W;
      // The same requests in both cohorts; the treatment's come from `treatmentUsers` users, the
      // control's from 200 (equal cohorts at 10%: a 40-user treatment means broken assignment).
      const windows: SerializedWindow[] = [];
      for (let st = from; st < from + 10 * W; st += W) {
        windows.push(...instanceWindows(c.key, 'treatment', st, 300, users('t', 0, c.treatmentUsers)));
        windows.push(...instanceWindows(c.key, 'control', st, 300, users('c', 0, 200)));
      }
      expect((await postMetrics(s, sdk, batch(windows))).status).toBe(202);
      const [r] = (await run(from + 10 * W)).filter((x) => x.key === c.key);
      results[c.key] = r as { outcome: string; decision: CanaryDecision };
    }
    const balanced = results['units.srm-balanced']!;
    expect(balanced.outcome).toBe('advanced');
    expect(balanced.decision.stats.unitBalance).toMatchObject({ expectedPercent: 50, ok: true });
    expect(Math.abs(balanced.decision.stats.unitBalance!.treatmentUnits - 200)).toBeLessThanOrEqual(4);
    const skewed = results['units.srm-skewed']!;
    expect(skewed.outcome).toBe('held');
    expect(skewed.decision.reasons.join(' ')).toMatch(
      /sample ratio mismatch: the treatment has 40 of the \d+ distinct units/,
    );
    expect(skewed.decision.checks.find((x) => x.name === 'comparative.unitBalance')).toMatchObject({
      passed: false,
    });
    // Held, not rolled back: the canary stays at its stage.
    const flag = await s.call<{ flag: { canary: { stage: number; status: string } } }>(
      'GET',
      `${FLAGS}/units.srm-skewed?environment=dev`,
    );
    expect(flag.body.flag.canary).toMatchObject({ stage: 0, status: 'progressing' });
    const off = results['units.srm-off']!;
    expect(off.outcome).toBe('advanced');
    expect(off.decision.policy.sampleRatioSigmas).toBe(0);
    expect(off.decision.stats.unitBalance).toBeNull();
  });

  it('an old SDK without unit sketches keeps working: units null, no health problem from missing data', async () => {
    const key = 'units.old-sdk';
    await canary(key);
    const from = alignWindow(Date.now(), W) - 6 * W;
    const windows: SerializedWindow[] = [];
    for (let st = from; st < from + 4 * W; st += W) {
      for (const [cohort, requests] of [
        ['treatment', 100],
        ['control', 100],
        ['none', 800],
      ] as const) {
        windows.push(buildWindow({ flag: key, cohort, start: st, durationMs: W, requests, stage: 0 }));
      }
    }
    expect(windows.every((w) => w.units === undefined)).toBe(true);
    expect((await postMetrics(s, sdk, batch(windows))).status).toBe(202);
    const c = await health(key);
    expect(c.traffic).toMatchObject({
      observedPercent: 10,
      units: null,
      observedUnitPercent: null,
      unitGap: null,
      allowedUnitGap: null,
      ok: true,
    });
    expect(c.health).toBe('healthy');
  });

  it('a bad unit sketch is a 400 VALIDATION_FAILED naming the field; nothing is written', async () => {
    const key = 'units.bad';
    const t = alignWindow(Date.now(), W) - 3 * W;
    const good = instanceWindows(key, 'treatment', t, 10, users('u', 0, 10));
    const cases: [unknown, string][] = [
      [{ p: 12, encoding: 'sparse', data: 'not base64!' }, 'windows[1].units.data'],
      [{ p: 40, encoding: 'dense', data: '' }, 'windows[1].units.p'],
      [{ p: 12, encoding: 'hll', data: '' }, 'windows[1].units.encoding'],
      ['AAAB', 'windows[1].units'],
    ];
    for (const [units, field] of cases) {
      const body = batch([good[0]!, { ...good[1]!, units } as SerializedWindow]);
      expectError(await postMetrics(s, sdk, body), 400, 'VALIDATION_FAILED', field);
    }
    const rows = await s.cp.db.db.select().from(deploymentMetrics).where(eq(deploymentMetrics.flagKey, key));
    expect(rows).toEqual([]);
  });

  it('the 1-minute roll-up keeps the units (union of the minute, not a sum)', async () => {
    const key = 'units.rollup';
    const base = alignWindow(Date.now() - 10 * 86_400_000, 60_000);
    const windows: SerializedWindow[] = [];
    const minute = createUnitSketch();
    // Six 10-s windows of one minute, the same 50 users in each, plus 10 new users per window.
    for (let i = 0; i < 6; i++) {
      const w = new WindowAggregate({
        flag: key,
        cohort: 'treatment',
        endpoint: 'GET /checkout',
        windowStart: base + i * 10_000,
        durationMs: 10_000,
      });
      for (const u of [...users('same', 0, 50), ...users(`new${i}`, 0, 10)]) {
        w.record(10);
        w.recordUnit(u);
        addUnit(minute, u);
      }
      windows.push(w.toSerialized());
    }
    await postMetrics(s, sdk, batch(windows));
    await rollupAndPrune(s.cp.db.db, { rawRetentionMs: 7 * 86_400_000, rollupRetentionMs: 90 * 86_400_000 });
    const rows = await s.cp.db.db.select().from(deploymentMetrics).where(eq(deploymentMetrics.flagKey, key));
    expect(rows.map((r) => [r.granularity, r.requests])).toEqual([['1m', 360]]);
    // The registers of the union are exactly those of one sketch of the minute's 110 users.
    const expected = Math.round(estimateUnits(minute));
    expect(Math.abs(expected - 110)).toBeLessThanOrEqual(2);
    expect(rows[0]!.units).toBe(expected);
    const range = await s.call<{ granularity: string; series: { points: { units: number }[] }[] }>(
      'GET',
      `/api/admin/deployment/metrics/range?environment=dev&flag=${key}&from=${base}&to=${base + 60_000}`,
    );
    expect(range.body.granularity).toBe('1m');
    expect(range.body.series[0]!.points.map((p) => p.units)).toEqual([expected]);
  });
});
