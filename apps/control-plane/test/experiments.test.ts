// Experiments over real HTTP on PGlite and Postgres: exposure/event ingest (validation, idempotency,
// units in two variants, events before exposure), the incrementally maintained statistics against
// a cold rebuild and against core's tests on the raw per-unit data, SRM, verdicts, and conclude.
import {
  type ExperimentAnalysis,
  type Flag,
  holmAdjust,
  LatencySketch,
  twoProportionZTest,
  welchTTest,
} from '@rupaya/flags-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storageKinds } from '../src/index';
import { expectError, FLAGS, startTestServer, type TestServer } from './helpers';

const EXP = '/api/admin/deployment/experiments';
const T0 = Date.UTC(2026, 10, 25, 12, 0, 0);

// mulberry32: a small seeded generator so every run sees the same simulated users.
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function experimentFlag(
  key: string,
  weights: Record<string, number>,
  extra: Partial<Flag['experiment']> = {},
): Flag {
  return {
    key,
    type: 'string',
    enabled: true,
    variants: Object.entries(weights).map(([k, weight]) => ({ key: k, value: k, weight })),
    experiment: {
      hypothesis: 'The new checkout converts better',
      primaryMetric: { event: 'purchase', kind: 'conversion', direction: 'increase' },
      secondaryMetrics: [{ event: 'revenue', kind: 'mean', direction: 'increase' }],
      minimumDetectableEffect: 0.3,
      minUnitsPerVariant: 50,
      minDurationSec: 0,
      status: 'running',
      ...extra,
    },
  };
}

interface Unit {
  key: string;
  variant: string;
  purchases: number;
  revenue: number;
}

describe.each(storageKinds)('experiments on %s', (kind) => {
  let s: TestServer;
  let sdk: string;
  let batch = 0;
  const post = (path: string, body: unknown, token: string | null = sdk) =>
    s.call(path.startsWith('/') ? 'POST' : 'POST', path, { body, token });
  const exposures = (
    list: { flag: string; unitKey: string; variant: string; timestamp: number }[],
    key = `b${++batch}`,
  ) => post('/api/sdk/v1/exposures', { instanceId: 'test-1', batchKey: key, exposures: list });
  const events = (
    list: { event: string; unitKey: string; value?: number; timestamp: number }[],
    key = `b${++batch}`,
  ) => post('/api/sdk/v1/events', { instanceId: 'test-1', batchKey: key, events: list });
  const significance = async (key: string) => {
    const r = await s.call<{ analysis: ExperimentAnalysis; excludedUnits: number }>(
      'GET',
      `${EXP}/${key}/statistical-significance?environment=dev&refresh=true`,
    );
    expect(r.status).toBe(200);
    return r.body;
  };

  // 3 variants, 600 units, conversion 10% / 20% / 10%, revenue per purchase ~ 30–50.
  const units: Unit[] = [];
  beforeAll(async () => {
    s = await startTestServer(kind);
    sdk = await s.sdkKey('dev');
    const created = await s.call('POST', `${FLAGS}?environment=dev`, {
      body: experimentFlag('experiment.checkout-test', {
        control: 34_000,
        variant_a: 33_000,
        variant_b: 33_000,
      }),
    });
    expect(created.status).toBe(201);
    const random = rng(2);
    const rate: Record<string, number> = { control: 0.1, variant_a: 0.2, variant_b: 0.1 };
    for (let i = 0; i < 600; i++) {
      const variant = ['control', 'variant_a', 'variant_b'][i % 3]!;
      let purchases = 0;
      let revenue = 0;
      if (random() < rate[variant]!) {
        purchases = 1 + (random() < 0.3 ? 1 : 0);
        for (let p = 0; p < purchases; p++) revenue += 30 + Math.floor(random() * 21);
      }
      units.push({ key: `u${i}`, variant, purchases, revenue });
    }
  }, 180_000);
  afterAll(async () => {
    await s?.close();
  });

  it('ingests exposures and events per unit and answers with core’s tests on the per-unit data', async () => {
    const xs = units.map((u, i) => ({
      flag: 'experiment.checkout-test',
      unitKey: u.key,
      variant: u.variant,
      timestamp: T0 + i,
    }));
    // A unit exposed twice to the same variant is one unit; exposures count both.
    xs.push({ ...xs[0]!, timestamp: T0 + 5000 });
    const r1 = await exposures(xs.slice(0, 300));
    expect(r1.status).toBe(202);
    expect(r1.body).toEqual({ accepted: 300, duplicate: false, ignored: 0 });
    expect((await exposures(xs.slice(300))).body).toMatchObject({ accepted: 301, duplicate: false });

    const evs: { event: string; unitKey: string; value?: number; timestamp: number }[] = [];
    for (const u of units) {
      // One event of each unit *before* its exposure, which must be ignored.
      evs.push({ event: 'purchase', unitKey: u.key, timestamp: T0 - 1000 });
      for (let p = 0; p < u.purchases; p++) {
        evs.push({ event: 'purchase', unitKey: u.key, timestamp: T0 + 10_000 + p });
        evs.push({
          event: 'revenue',
          unitKey: u.key,
          value: u.revenue / u.purchases,
          timestamp: T0 + 10_000 + p,
        });
      }
    }
    evs.push({ event: 'not_a_metric', unitKey: 'u1', timestamp: T0 + 10_000 });
    const half = Math.floor(evs.length / 2);
    expect((await events(evs.slice(0, half))).status).toBe(202);
    const r2 = await events(evs.slice(half));
    expect(r2.body).toMatchObject({ duplicate: false, ignored: 1 });

    const res = await s.call<{
      variants: {
        key: string;
        units: number;
        exposures: number;
        metrics: { event: string; conversionRate?: number; mean?: number; sum: number }[];
      }[];
    }>('GET', `${EXP}/experiment.checkout-test/results?environment=dev&refresh=true`);
    expect(res.status).toBe(200);
    const byKey = Object.fromEntries(res.body.variants.map((v) => [v.key, v]));
    for (const variant of ['control', 'variant_a', 'variant_b']) {
      const us = units.filter((u) => u.variant === variant);
      expect(byKey[variant]!.units).toBe(200);
      const converted = us.filter((u) => u.purchases > 0).length;
      expect(byKey[variant]!.metrics[0]!.conversionRate).toBeCloseTo(converted / 200, 12);
      const revenue = us.reduce((t, u) => t + u.revenue, 0);
      expect(byKey[variant]!.metrics[1]!.sum).toBeCloseTo(revenue, 6);
    }
    expect(byKey.control!.exposures).toBe(201);

    const sig = await significance('experiment.checkout-test');
    const a = sig.analysis;
    expect(a.confidenceLevel).toBe(0.95);
    const control = units.filter((u) => u.variant === 'control');
    const directP: number[] = [];
    for (const [i, variant] of ['variant_a', 'variant_b'].entries()) {
      const us = units.filter((u) => u.variant === variant);
      const conv = twoProportionZTest(
        { successes: us.filter((u) => u.purchases > 0).length, trials: 200 },
        { successes: control.filter((u) => u.purchases > 0).length, trials: 200 },
      );
      directP.push(conv.pValue);
      const v = a.variants.find((x) => x.key === variant)!;
      const c = v.comparisons.find((x) => x.event === 'purchase')!;
      expect(c.test).toBe('two-proportion-z');
      expect(c.statistic).toBeCloseTo(conv.z, 10);
      expect(c.pValue).toBeCloseTo(conv.pValue, 12);
      expect(c.ci![0]).toBeCloseTo(conv.ci[0], 12);
      // Revenue: Welch on the raw per-unit values (zeros included) — same numbers from the SQL sums.
      const w = welchTTest(
        us.map((u) => u.revenue),
        control.map((u) => u.revenue),
      );
      const m = v.comparisons.find((x) => x.event === 'revenue')!;
      expect(m.test).toBe('welch-t');
      expect(Math.abs(m.statistic! - w.t) / Math.abs(w.t)).toBeLessThan(1e-9);
      expect(Math.abs(m.df! - w.df) / w.df).toBeLessThan(1e-9);
      expect(Math.abs(m.pValue! - w.pValue) / w.pValue).toBeLessThan(1e-8);
      expect(i).toBeLessThan(2);
    }
    const holm = holmAdjust(directP);
    expect(a.variants.find((x) => x.key === 'variant_a')!.comparisons[0]!.adjustedPValue).toBeCloseTo(
      holm[0]!,
      12,
    );
    expect(a.variants.find((x) => x.key === 'variant_a')!.verdict).toBe('winner');
    expect(a.variants.find((x) => x.key === 'variant_b')!.verdict).not.toBe('winner');
    expect(a.srm!.flagged).toBe(false);
  });

  it('is idempotent per (instanceId, batchKey), and the maintained statistics equal a cold rebuild', async () => {
    const before = await significance('experiment.checkout-test');
    const again = await exposures(
      [{ flag: 'experiment.checkout-test', unitKey: 'u-new', variant: 'control', timestamp: T0 }],
      'fixed-key',
    );
    expect(again.body).toMatchObject({ accepted: 1, duplicate: false });
    const dup = await exposures(
      [{ flag: 'experiment.checkout-test', unitKey: 'u-new', variant: 'control', timestamp: T0 }],
      'fixed-key',
    );
    expect(dup.body).toEqual({ accepted: 1, duplicate: true, ignored: 0 });
    const evDup = await events([{ event: 'purchase', unitKey: 'u-new', timestamp: T0 + 1 }], 'ev-key');
    expect(
      (await events([{ event: 'purchase', unitKey: 'u-new', timestamp: T0 + 1 }], 'ev-key')).body,
    ).toMatchObject({
      duplicate: true,
    });
    expect(evDup.body).toMatchObject({ duplicate: false });
    const after = await significance('experiment.checkout-test');
    const units = (x: typeof before) => Object.fromEntries(x.analysis.variants.map((v) => [v.key, v.units]));
    expect(units(after).control).toBe(units(before).control! + 1);

    const incremental = after.analysis.variants.map((v) => [v.key, v.units, v.metrics.map((m) => m.sum)]);
    const rebuilt = await s.call<{ variants: number; metrics: number; ms: number }>(
      'POST',
      `${EXP}/experiment.checkout-test/rebuild?environment=dev`,
    );
    expect(rebuilt.status).toBe(200);
    expect(rebuilt.body.variants).toBe(3);
    const cold = (await significance('experiment.checkout-test')).analysis.variants.map((v) => [
      v.key,
      v.units,
      v.metrics.map((m) => m.sum),
    ]);
    expect(cold).toEqual(incremental);
  });

  it('excludes and counts a unit seen in two variants, and applies events that arrive before the exposure', async () => {
    const before = await significance('experiment.checkout-test');
    const a0 = before.analysis.variants.find((v) => v.key === 'variant_a')!;
    const u = units.find((x) => x.variant === 'variant_a' && x.purchases > 0)!;
    await exposures([
      { flag: 'experiment.checkout-test', unitKey: u.key, variant: 'variant_b', timestamp: T0 + 20_000 },
    ]);
    const after = await significance('experiment.checkout-test');
    expect(after.excludedUnits).toBe(1);
    const a1 = after.analysis.variants.find((v) => v.key === 'variant_a')!;
    expect(a1.units).toBe(a0.units - 1);
    expect(a1.metrics[0]!.sum).toBe(a0.metrics[0]!.sum - 1);
    expect(a1.metrics[1]!.sum).toBeCloseTo(a0.metrics[1]!.sum - u.revenue, 6);
    // Its later events count nowhere.
    await events([{ event: 'purchase', unitKey: u.key, timestamp: T0 + 30_000 }]);
    expect(
      (await significance('experiment.checkout-test')).analysis.variants.find((v) => v.key === 'variant_a')!
        .metrics[0]!.sum,
    ).toBe(a1.metrics[0]!.sum);

    // Event first, exposure second (batches from one SDK can arrive out of order).
    await events([{ event: 'revenue', unitKey: 'late-unit', value: 99, timestamp: T0 + 50_000 }]);
    await exposures([
      {
        flag: 'experiment.checkout-test',
        unitKey: 'late-unit',
        variant: 'variant_b',
        timestamp: T0 + 40_000,
      },
    ]);
    const b = (await significance('experiment.checkout-test')).analysis.variants.find(
      (v) => v.key === 'variant_b',
    )!;
    const b0 = before.analysis.variants.find((v) => v.key === 'variant_b')!;
    expect(b.metrics[1]!.sum).toBeCloseTo(b0.metrics[1]!.sum + 99, 6);

    // The cold rebuild (per-unit metric rows grouped by their variant, the excluded unit's rows left
    // out) gives what ingest maintained: units, exclusions and every metric's sums and spread.
    const view = (x: Awaited<ReturnType<typeof significance>>) => ({
      excluded: x.excludedUnits,
      variants: x.analysis.variants.map((v) => [
        v.key,
        v.units,
        v.metrics.map((m) => [m.event, m.sum, m.value, m.sd]),
      ]),
    });
    const maintained = view(await significance('experiment.checkout-test'));
    const rebuilt = await s.call<{ variants: number; metrics: number }>(
      'POST',
      `${EXP}/experiment.checkout-test/rebuild?environment=dev`,
    );
    expect(rebuilt.body).toMatchObject({ variants: 3, metrics: 6 });
    expect(view(await significance('experiment.checkout-test'))).toEqual(maintained);
  });

  it('serves a cached analysis until an ingest touches the experiment; ?refresh=true recomputes', async () => {
    const path = `${EXP}/experiment.checkout-test/statistical-significance?environment=dev`;
    await s.call('GET', `${path}&refresh=true`);
    const cached = await s.call<{ cached: boolean; computedAt: string }>('GET', path);
    expect(cached.body.cached).toBe(true);
    await exposures([
      { flag: 'experiment.checkout-test', unitKey: 'cache-unit', variant: 'control', timestamp: T0 },
    ]);
    const fresh = await s.call<{ cached: boolean }>('GET', path);
    expect(fresh.body.cached).toBe(false);
  });

  it('flags a sample ratio mismatch and withholds verdicts before the minimum units', async () => {
    await s.call('POST', `${FLAGS}?environment=dev`, {
      body: experimentFlag(
        'experiment.srm-test',
        { control: 50_000, variant_a: 50_000 },
        { minUnitsPerVariant: 100 },
      ),
    });
    const xs = Array.from({ length: 500 }, (_, i) => ({
      flag: 'experiment.srm-test',
      unitKey: `s${i}`,
      variant: i < 300 ? 'control' : 'variant_a',
      timestamp: T0,
    }));
    await exposures(xs);
    const srm = await significance('experiment.srm-test');
    expect(srm.analysis.srm!.flagged).toBe(true);
    expect(srm.analysis.srm!.pValue).toBeLessThan(0.001);
    expect(srm.analysis.variants[1]!.verdict).toBe('invalid_srm');

    await s.call('POST', `${FLAGS}?environment=dev`, {
      body: experimentFlag(
        'experiment.small-test',
        { control: 50_000, variant_a: 50_000 },
        { minUnitsPerVariant: 1000 },
      ),
    });
    await exposures(
      Array.from({ length: 40 }, (_, i) => ({
        flag: 'experiment.small-test',
        unitKey: `m${i}`,
        variant: i % 2 ? 'control' : 'variant_a',
        timestamp: T0,
      })),
    );
    const small = await significance('experiment.small-test');
    expect(small.analysis.variants[1]!.verdict).toBe('needs_more_data');
    expect(small.analysis.variants[1]!.reasons.join(' ')).toMatch(/20 units, minimum 1000/);
  });

  it('shows error rate and P99 per variant from the SDK request metrics as guardrails, and a regression blocks winner', async () => {
    await s.call('POST', `${FLAGS}?environment=dev`, {
      body: experimentFlag('experiment.guard-test', { control: 50_000, variant_a: 50_000 }),
    });
    const xs = Array.from({ length: 1000 }, (_, i) => ({
      flag: 'experiment.guard-test',
      unitKey: `g${i}`,
      variant: i % 2 ? 'control' : 'variant_a',
      timestamp: Date.now() - 60_000,
    }));
    await exposures(xs);
    // variant_a converts much better…
    await events(
      xs
        .filter((x, i) => (x.variant === 'variant_a' ? i % 4 === 0 : i % 20 === 1))
        .map((x) => ({ event: 'purchase', unitKey: x.unitKey, timestamp: Date.now() - 30_000 })),
    );
    // …but fails requests: 2% errors in control, 6% in variant_a.
    const windowStart = Math.floor((Date.now() - 20_000) / 10_000) * 10_000;
    const sketch = (ms: number) => {
      const sk = new LatencySketch();
      for (let k = 0; k < 5000; k++) sk.add(ms);
      return sk.serialize();
    };
    const win = (variant: string, errors: number) => ({
      windowStart,
      durationMs: 10_000,
      flag: 'experiment.guard-test',
      variant,
      endpoint: 'GET /checkout',
      requests: 5000,
      errors,
      topErrors: [],
      latency: sketch(variant === 'control' ? 100 : 300),
    });
    const m = await s.call('POST', '/api/sdk/v1/metrics', {
      token: sdk,
      body: {
        instanceId: 'test-1',
        batchKey: 'guard-1',
        windows: [win('control', 100), win('variant_a', 300)],
      },
    });
    expect(m.status).toBe(202);
    const sig = await significance('experiment.guard-test');
    const a = sig.analysis.variants.find((v) => v.key === 'variant_a')!;
    expect(a.comparisons[0]!.effect).toBe('better');
    expect(a.comparisons[0]!.significant).toBe(true);
    expect(a.guardrail).toMatchObject({ requests: 5000, errors: 300, errorRate: 0.06, regression: true });
    expect(Math.abs(a.guardrail!.p99Ms! - 300) / 300).toBeLessThan(0.01);
    expect(sig.analysis.variants.find((v) => v.key === 'control')!.guardrail).toMatchObject({
      requests: 5000,
      errors: 100,
    });
    expect(a.verdict).toBe('inconclusive');
    expect(a.reasons.join(' ')).toMatch(/error rate/);
    const results = await s.call<{ variants: { key: string; guardrails: { errorRate: number } | null }[] }>(
      'GET',
      `${EXP}/experiment.guard-test/results?environment=dev`,
    );
    expect(results.body.variants.find((v) => v.key === 'variant_a')!.guardrails!.errorRate).toBe(0.06);
  });

  it('rejects bad batches with the field named, and unknown keys', async () => {
    const bad = await post('/api/sdk/v1/exposures', {
      instanceId: 'i',
      batchKey: 'k',
      exposures: [
        { flag: 'experiment.checkout-test', unitKey: 'x', variant: 'control', timestamp: 'yesterday' },
      ],
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error?.code).toBe('VALIDATION_FAILED');
    expect(bad.body.error?.message).toMatch(/timestamp/);
    const missing = await post('/api/sdk/v1/events', { instanceId: 'i', events: [] });
    expect(missing.status).toBe(400);
    expect(missing.body.error?.message).toMatch(/batchKey/);
    const extra = await post('/api/sdk/v1/events', {
      instanceId: 'i',
      batchKey: 'k',
      events: [],
      surprise: 1,
    });
    expect(extra.status).toBe(400);
    expectError(
      await post('/api/sdk/v1/events', { instanceId: 'i', batchKey: 'k', events: [] }, null),
      401,
      'UNAUTHORIZED',
    );
    // Nothing half-written: the rejected batch key is still free.
    expect((await exposures([], 'k')).body).toMatchObject({ duplicate: false });

    expectError(await s.call('GET', `${EXP}/experiment.nope/results?environment=dev`), 404, 'FLAG_NOT_FOUND');
    expectError(
      await s.call('GET', `${EXP}/feature.new-dashboard/statistical-significance?environment=dev`),
      409,
      'NOT_AN_EXPERIMENT',
    );
    const list = await s.call<{ experiments: { key: string }[] }>('GET', `${EXP}?environment=dev`);
    expect(list.body.experiments.map((e) => e.key)).toContain('experiment.checkout-test');
  });

  it('concludes: ships the variant to 100%, audited, once', async () => {
    expectError(
      await s.call('POST', `${EXP}/experiment.checkout-test/conclude?environment=dev`, {
        body: { variant: 'variant_z', reason: 'x' },
      }),
      400,
      'VALIDATION_FAILED',
      'variant',
    );
    const events: unknown[] = [];
    s.cp.app.events.on('experiment.concluded', (e) => events.push(e));
    const r = await s.call<{ flag: Flag; version: number }>(
      'POST',
      `${EXP}/experiment.checkout-test/conclude?environment=dev`,
      { body: { variant: 'variant_a', reason: 'variant_a won' } },
    );
    expect(r.status).toBe(200);
    expect(r.body.flag.variants!.map((v) => [v.key, v.weight])).toEqual([
      ['control', 0],
      ['variant_a', 100_000],
      ['variant_b', 0],
    ]);
    expect(r.body.flag.experiment).toMatchObject({ status: 'concluded', concludedVariant: 'variant_a' });
    expect(events).toHaveLength(1);
    const audit = await s.call<{ entries?: { action: string; reason: string }[] }>(
      'GET',
      `${FLAGS}/experiment.checkout-test/audit?environment=dev`,
    );
    expect(JSON.stringify(audit.body)).toContain('experiment.conclude');
    expect(JSON.stringify(audit.body)).toContain('variant_a won');
    const again = await s.call('POST', `${EXP}/experiment.checkout-test/conclude?environment=dev`, {
      body: { variant: 'variant_a', reason: 'again' },
    });
    expectError(again, 409, 'EXPERIMENT_CONCLUDED');
    // Exposures of a concluded experiment are accepted but ignored.
    const late = await exposures([
      { flag: 'experiment.checkout-test', unitKey: 'u1', variant: 'variant_a', timestamp: T0 },
    ]);
    expect(late.body).toMatchObject({ ignored: 1 });
    const snapshot = await s.call<{ flags: Flag[] }>('GET', '/api/sdk/v1/snapshot', { token: sdk });
    const f = snapshot.body.flags.find((x) => x.key === 'experiment.checkout-test')!;
    expect(f.variants!.find((v) => v.key === 'variant_a')!.weight).toBe(100_000);
  });
});
