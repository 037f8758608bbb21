// Canary automation over the real HTTP API on PGlite and Postgres: metric batches (built with core's
// window/sketch code, as the SDK builds them) are ingested over HTTP; the scheduler is run with an
// explicit time so every decision is deterministic; decisions, transitions, logs and outbox events
// are read back from the API and the database.
import { alignWindow } from '@rupaya/flags-core';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploymentMetrics, outbox, rollbackDecisions } from '../src/db/schema/index';
import { storageKinds } from '../src/index';
import { rollupAndPrune } from '../src/services/metrics-retention';
import {
  batch,
  buildWindow,
  canaryAction,
  cohortSeries,
  createCanary,
  getFlagJson,
  postMetrics,
} from './canary-support';
import { expectError, FLAGS, startTestServer, type TestServer } from './helpers';

const W = 1000;

interface Decision {
  action: string;
  outcome: string;
  reasons: string[];
  checks: { name: string; passed: boolean; observed: number | null }[];
  z: number | null;
  pValue: number | null;
  applied: boolean;
  canaryLogId: number | null;
}

describe.each(storageKinds)('canary automation on %s', (kind) => {
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

  const run = (nowMs: number) => s.cp.app.canaryScheduler.run('manual', nowMs);
  const decisions = async (key: string) =>
    (await s.call<{ decisions: Decision[] }>('GET', `${FLAGS}/${key}/rollback-decisions?environment=dev`))
      .body.decisions;

  /** Resumes the canary and returns the first aligned window start after its stage began. */
  async function start(key: string): Promise<number> {
    const c = await canaryAction(s, key, 'resume');
    return alignWindow(Date.parse(c.stageStartedAt), W) + W;
  }

  it('ingest merges windows of many instances, is idempotent, and validates with field paths', async () => {
    const t = alignWindow(Date.now(), W) - 10 * W;
    const w1 = buildWindow({
      flag: 'feature.x',
      cohort: 'treatment',
      start: t,
      durationMs: W,
      requests: 40,
      errors: 4,
    });
    const w2 = buildWindow({
      flag: 'feature.x',
      cohort: 'treatment',
      start: t,
      durationMs: W,
      requests: 60,
      errors: 1,
    });
    const first = batch([w1], { evaluations: [{ flag: 'feature.x', variant: 'on', count: 7 }] });
    expect((await postMetrics(s, sdk, first)).body).toEqual({ accepted: 1, duplicate: false });
    expect((await postMetrics(s, sdk, first)).body).toEqual({ accepted: 0, duplicate: true });
    const r2 = await postMetrics(s, sdk, batch([w2], { instanceId: 'instance-b' }));
    expect(r2.status).toBe(202);
    const rows = await s.cp.db.db
      .select()
      .from(deploymentMetrics)
      .where(and(eq(deploymentMetrics.flagKey, 'feature.x'), eq(deploymentMetrics.windowStartMs, t)));
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      requests: 100,
      errors: 5,
      errorRate: 0.05,
      reports: 2,
      cohort: 'treatment',
    });
    expect(rows[0]!.sketch!.count).toBe(100);
    expect(rows[0]!.rps).toBe(100);

    const bad = batch([{ ...w1, latency: { ...w1.latency, count: 3 } }]);
    expectError(await postMetrics(s, sdk, bad), 400, 'VALIDATION_FAILED', 'windows[0].latency.count');
    expectError(
      await postMetrics(s, sdk, batch([{ ...w1, errors: 99 }])),
      400,
      'VALIDATION_FAILED',
      'windows[0].errors',
    );
    const unaligned = await postMetrics(s, sdk, batch([{ ...w1, windowStart: t + 1 }]));
    expectError(unaligned, 400, 'VALIDATION_FAILED', 'windows[0].windowStart');
    expectError(await postMetrics(s, sdk, { instanceId: 'x', windows: [] }), 400, 'VALIDATION_FAILED');
    const malformed = await s.call('POST', '/api/sdk/v1/metrics', { rawBody: '{"instanceId":', token: sdk });
    expect(malformed.status).toBe(400);
    expect((await s.call('POST', '/api/sdk/v1/metrics', { body: first, token: null })).status).toBe(401);
    // The admin token is not an SDK key.
    expect((await s.call('POST', '/api/sdk/v1/metrics', { body: batch([w1]) })).status).toBe(401);
    // Nothing half-written by the rejected batches.
    const after = await s.cp.db.db
      .select()
      .from(deploymentMetrics)
      .where(eq(deploymentMetrics.flagKey, 'feature.x'));
    expect(after.reduce((n, r) => n + r.requests, 0)).toBe(100);

    const usage = await s.call<{ totals: Record<string, Record<string, number>> }>(
      'GET',
      '/api/admin/deployment/metrics/flag-usage?environment=dev&flag=feature.x',
    );
    expect(usage.body.totals['feature.x']).toEqual({ on: 7 });
  });

  it('a healthy canary advances stage by stage and completes; never twice on the same windows', async () => {
    const key = 'canary.auto-healthy';
    await createCanary(s, key, {}, [
      { percent: 1, minDurationSec: 10 },
      { percent: 10, minDurationSec: 10 },
      { percent: 100, minDurationSec: 0 },
    ]);
    let from = await start(key);
    const healthy = { requests: 100, errors: 1 };
    await postMetrics(s, sdk, batch(cohortSeries(key, from, from + 20 * W, W, healthy, healthy, 0)));
    const rev0 = s.cp.app.snapshots.get('dev')!.revision;
    let now = from + 20 * W;
    const [r1] = (await run(now)).filter((r) => r.key === key);
    expect(r1).toMatchObject({ outcome: 'advanced' });
    expect((await getFlagJson(s, key)).canary).toMatchObject({ stage: 1, status: 'progressing' });
    expect(s.cp.app.snapshots.get('dev')!.revision).toBe(rev0 + 1);
    // Same windows again: the stage just started, nothing of it is measured yet → hold.
    const [again] = (await run(now)).filter((r) => r.key === key);
    expect(again).toMatchObject({ outcome: 'held' });
    expect((await getFlagJson(s, key)).canary!.stage).toBe(1);

    from = alignWindow(now, W) + W;
    await postMetrics(s, sdk, batch(cohortSeries(key, from, from + 15 * W, W, healthy, healthy, 1)));
    now = from + 15 * W;
    expect((await run(now)).find((r) => r.key === key)).toMatchObject({ outcome: 'advanced' });
    from = alignWindow(now, W) + W;
    const onlyTreatment = cohortSeries(key, from, from + 5 * W, W, healthy, { requests: 0 }, 2).filter(
      (w) => w.cohort === 'treatment',
    );
    await postMetrics(s, sdk, batch(onlyTreatment));
    expect((await run(from + 5 * W)).find((r) => r.key === key)).toMatchObject({ outcome: 'completed' });
    expect((await getFlagJson(s, key)).canary!.status).toBe('completed');

    const ds = await decisions(key);
    expect(ds.map((d) => d.outcome)).toEqual(['completed', 'advanced', 'held', 'advanced']);
    expect(ds.every((d) => d.checks.length > 0)).toBe(true);
    const logs = await s.call<{
      logs: { action: string; automatic: boolean; actor: string; metrics: unknown }[];
    }>('GET', `${FLAGS}/${key}/canary-logs?environment=dev`);
    expect(logs.body.logs.map((l) => [l.action, l.automatic, l.actor])).toEqual([
      ['complete', true, 'scheduler'],
      ['advance', true, 'scheduler'],
      ['advance', true, 'scheduler'],
      ['resume', false, expect.stringContaining('admin')],
    ]);
    expect(logs.body.logs[0]!.metrics).toMatchObject({
      checks: expect.any(Array),
      stats: expect.any(Object),
    });
  });

  it('a failing treatment is rolled back by the fast path; events go to the outbox; restart starts a new run', async () => {
    const key = 'canary.auto-failing';
    await createCanary(s, key);
    const from = await start(key);
    const windows = cohortSeries(
      key,
      from,
      from + 2 * W,
      W,
      { requests: 100, errors: 20 },
      { requests: 100, errors: 1 },
      0,
    );
    await postMetrics(s, sdk, batch(windows));
    const rev0 = s.cp.app.snapshots.get('dev')!.revision;
    const [r] = (await run(from + 2 * W)).filter((x) => x.key === key);
    expect(r).toMatchObject({ outcome: 'rolled_back' });
    expect(r!.decision.reasons[0]).toBe('fast path: treatment error rate 20% > 5% in 2 consecutive windows');
    expect((await getFlagJson(s, key)).canary!.status).toBe('rolled_back');
    expect(s.cp.app.snapshots.get('dev')!.revision).toBe(rev0 + 1);
    const [d] = await decisions(key);
    expect(d).toMatchObject({ action: 'rollback', outcome: 'rolled_back', applied: true });
    expect(d!.canaryLogId).toEqual(expect.any(Number));
    expect(d!.checks.find((c) => c.name === 'fast.errorRate')).toMatchObject({ passed: false, observed: 20 });
    const topics = (await s.cp.db.db.select().from(outbox)).filter(
      (o) => (o.payload as { key?: string }).key === key,
    );
    expect(topics.map((o) => o.topic)).toEqual(
      expect.arrayContaining(['canary.rolled_back', 'rollback.triggered']),
    );

    // Rolled back: the scheduler leaves it alone.
    expect((await run(from + 3 * W)).find((x) => x.key === key)).toBeUndefined();
    // Restart once the failing windows are in the past (as they would be in real life).
    await new Promise((r) => setTimeout(r, Math.max(0, from + 2 * W - Date.now() + 20)));
    const c = await canaryAction(s, key, 'restart');
    expect(c).toMatchObject({ stage: 0, status: 'progressing' });
    expect(c.runId).toEqual(expect.any(String));
    // The failed run's windows are before the new stage start: no traffic yet → hold, not rollback.
    const [after] = (await run(Date.parse(c.stageStartedAt) + 5 * W)).filter((x) => x.key === key);
    expect(after).toMatchObject({ outcome: 'held' });
    expect(after!.decision.reasons).toContain(
      'no treatment traffic in this stage (no traffic is never healthy)',
    );
  });

  it('a treatment worse than control under the absolute threshold is rolled back by the comparative path', async () => {
    const key = 'canary.auto-worse';
    await createCanary(s, key);
    const from = await start(key);
    // 3% vs 0.3%: under the 5% threshold, significantly worse.
    const windows = cohortSeries(
      key,
      from,
      from + 6 * W,
      W,
      { requests: 200, errors: 6 },
      { requests: 200, errors: 0 },
      0,
    );
    windows.push(
      buildWindow({
        flag: key,
        cohort: 'control',
        start: from,
        durationMs: W,
        requests: 200,
        errors: 4,
        stage: 0,
      }),
    );
    await postMetrics(s, sdk, batch(windows));
    const [r] = (await run(from + 6 * W)).filter((x) => x.key === key);
    expect(r).toMatchObject({ outcome: 'rolled_back' });
    expect(r!.decision.reasons[0]).toMatch(/^comparative path: treatment error rate 3% > control 0.286%/);
    const [d] = await decisions(key);
    expect(d!.z).toBeGreaterThan(2.33);
    expect(d!.pValue).toBeLessThan(0.01);
  });

  it('no traffic holds and never advances, however long the stage', async () => {
    const key = 'canary.auto-idle';
    await createCanary(s, key);
    const from = await start(key);
    for (const t of [from + 60 * W, from + 3600 * W]) {
      const [r] = (await run(t)).filter((x) => x.key === key);
      expect(r).toMatchObject({ outcome: 'held' });
    }
    expect((await getFlagJson(s, key)).canary).toMatchObject({ stage: 0, status: 'progressing' });
  });

  it('autoRollback: false logs "would roll back" and changes nothing', async () => {
    const key = 'canary.auto-manual';
    await createCanary(s, key, { autoRollback: false });
    const from = await start(key);
    await postMetrics(
      s,
      sdk,
      batch(cohortSeries(key, from, from + 2 * W, W, { requests: 100, errors: 50 }, { requests: 100 }, 0)),
    );
    const [r] = (await run(from + 2 * W)).filter((x) => x.key === key);
    expect(r).toMatchObject({ outcome: 'would_roll_back' });
    const [d] = await decisions(key);
    expect(d!.reasons).toContain(
      'would roll back: automatic rollback is off for this flag (autoRollback: false)',
    );
    expect(d!.applied).toBe(false);
    expect((await getFlagJson(s, key)).canary!.status).toBe('progressing');
  });

  it('the environment threshold flag and the flag policy override the defaults', async () => {
    const key = 'canary.auto-threshold';
    await createCanary(s, key);
    const from = await start(key);
    // 8% errors in both cohorts: over the default 5%, not worse than control.
    await postMetrics(
      s,
      sdk,
      batch(
        cohortSeries(
          key,
          from,
          from + 2 * W,
          W,
          { requests: 100, errors: 8 },
          { requests: 100, errors: 8 },
          0,
        ),
      ),
    );
    const put = await s.call('PUT', `${FLAGS}/rollback.error-rate-threshold?environment=dev`, {
      body: { value: 10 },
    });
    expect(put.status).toBe(200);
    const [r] = (await run(from + 2 * W)).filter((x) => x.key === key);
    expect(r!.outcome).toBe('held');
    expect(r!.decision.policy.errorRateThreshold).toBe(10);
    // A flag's own policy wins over the environment flag.
    await s.call('PUT', `${FLAGS}/${key}?environment=dev`, { body: { policy: { errorRateThreshold: 7 } } });
    const [r2] = (await run(from + 2 * W)).filter((x) => x.key === key);
    expect(r2!.outcome).toBe('rolled_back');
    expect(r2!.decision.policy.errorRateThreshold).toBe(7);
    await s.call('PUT', `${FLAGS}/rollback.error-rate-threshold?environment=dev`, { body: { value: 5 } });
  });

  it('a guarded rollout returns to its last healthy percentage on a breach', async () => {
    const key = 'feature.guarded';
    const created = await s.call('POST', `${FLAGS}?environment=dev`, {
      body: { key, type: 'boolean', enabled: true, rolloutPercentage: 20, guard: true },
    });
    expect(created.status).toBe(201);
    let t = alignWindow(Date.now(), W) + W;
    const healthy = { requests: 100, errors: 0 };
    await postMetrics(s, sdk, batch(cohortSeries(key, t, t + 4 * W, W, healthy, healthy)));
    const [ok] = (await run(t + 4 * W)).filter((x) => x.key === key);
    expect(ok).toMatchObject({ kind: 'guard', outcome: 'held' });
    expect(ok!.decision.action).toBe('complete');

    await s.call('PUT', `${FLAGS}/${key}?environment=dev`, { body: { rolloutPercentage: 40 } });
    t = alignWindow(Date.now(), W) + 2 * W;
    await postMetrics(
      s,
      sdk,
      batch(cohortSeries(key, t, t + 2 * W, W, { requests: 100, errors: 30 }, healthy)),
    );
    const [bad] = (await run(t + 2 * W)).filter((x) => x.key === key);
    expect(bad).toMatchObject({ kind: 'guard', outcome: 'rolled_back' });
    expect((await getFlagJson(s, key)).rolloutPercentage).toBe(20);
    const audit = await s.call<{ entries?: { actor: string }[]; audit?: { actor: string }[] }>(
      'GET',
      `${FLAGS}/${key}/audit?environment=dev`,
    );
    expect(JSON.stringify(audit.body)).toContain('rollback-monitor');
  });

  it('metrics/health reports cohorts, traffic share and the last decision; metrics/range the series', async () => {
    const key = 'canary.auto-health';
    await createCanary(s, key);
    await canaryAction(s, key, 'resume');
    const now = Date.now();
    const from = alignWindow(now, W) - 6 * W;
    // 1% treatment, 1% control, 98% none: observed share matches the configured 1%.
    const windows = cohortSeries(
      key,
      from,
      from + 5 * W,
      W,
      { requests: 20, errors: 1 },
      { requests: 20 },
      0,
    );
    for (let st = from; st < from + 5 * W; st += W) {
      windows.push(buildWindow({ flag: key, cohort: 'none', start: st, durationMs: W, requests: 1960 }));
    }
    await postMetrics(s, sdk, batch(windows));
    await run(now);
    const h = await s.call<{
      status: string;
      canaries: {
        key: string;
        cohorts: { treatment: { requests: number; errorRate: number } };
        traffic: { observedPercent: number; configuredPercent: number; ok: boolean };
        lastDecision: { action: string } | null;
      }[];
    }>('GET', '/api/admin/deployment/metrics/health?environment=dev');
    expect(h.status).toBe(200);
    const c = h.body.canaries.find((x) => x.key === key)!;
    expect(c.cohorts.treatment).toMatchObject({ requests: 100, errorRate: 5 });
    expect(c.traffic).toMatchObject({ configuredPercent: 1, observedPercent: 1, ok: true });
    expect(c.lastDecision).toMatchObject({ action: 'hold' });

    const range = await s.call<{
      granularity: string;
      series: { cohort: string; points: { requests: number; errorRate: number; p99: number }[] }[];
    }>(
      'GET',
      `/api/admin/deployment/metrics/range?environment=dev&flag=${key}&from=${from}&to=${from + 5 * W}&cohort=treatment`,
    );
    expect(range.body.granularity).toBe('raw');
    expect(range.body.series).toHaveLength(1);
    expect(range.body.series[0]!.points).toHaveLength(5);
    expect(range.body.series[0]!.points[0]).toMatchObject({ requests: 20, errorRate: 5 });
    expect(range.body.series[0]!.points[0]!.p99).toBeGreaterThan(70);
    expectError(
      await s.call('GET', '/api/admin/deployment/metrics/range?environment=dev&from=yesterday'),
      400,
      'VALIDATION_FAILED',
      'from',
    );
    for (const path of ['metrics/range', 'metrics/flag-usage']) {
      expectError(
        await s.call('GET', `/api/admin/deployment/${path}?environment=dev&from=2000&to=1000`),
        400,
        'VALIDATION_FAILED',
        'from',
      );
    }
    const health = await s.call<{ deployment: { errorRate: number; p99ResponseTime: number } }>(
      'GET',
      '/health',
      { token: null },
    );
    expect(health.body.deployment.p99ResponseTime).toBeGreaterThan(0);
  });

  it('retention rolls raw windows older than the limit up into 1-minute rows, exactly once', async () => {
    const key = 'feature.old-metrics';
    const base = alignWindow(Date.now() - 10 * 86_400_000, 60_000);
    const windows = [];
    for (let i = 0; i < 12; i++) {
      windows.push(
        buildWindow({
          flag: key,
          cohort: 'treatment',
          start: base + i * 10_000,
          durationMs: 10_000,
          requests: 10,
          errors: i % 2,
        }),
      );
    }
    await postMetrics(s, sdk, batch(windows));
    const settings = { rawRetentionMs: 7 * 86_400_000, rollupRetentionMs: 90 * 86_400_000 };
    const res = await rollupAndPrune(s.cp.db.db, settings, Date.now());
    expect(res.rolledUp).toBeGreaterThanOrEqual(12);
    await rollupAndPrune(s.cp.db.db, settings, Date.now());
    const rows = await s.cp.db.db.select().from(deploymentMetrics).where(eq(deploymentMetrics.flagKey, key));
    expect(rows.map((r) => [r.granularity, r.windowStartMs, r.requests, r.errors])).toEqual([
      ['1m', base, 60, 3],
      ['1m', base + 60_000, 60, 3],
    ]);
    expect(rows[0]!.sketch!.count).toBe(60);
    const range = await s.call<{ granularity: string; series: { points: { requests: number }[] }[] }>(
      'GET',
      `/api/admin/deployment/metrics/range?environment=dev&flag=${key}&from=${base}&to=${base + 120_000}`,
    );
    expect(range.body.granularity).toBe('1m');
    expect(range.body.series[0]!.points.map((p) => p.requests)).toEqual([60, 60]);
    // Roll-ups past their own retention go too.
    await rollupAndPrune(s.cp.db.db, { rawRetentionMs: 1, rollupRetentionMs: 86_400_000 }, Date.now());
    expect(
      await s.cp.db.db.select().from(deploymentMetrics).where(eq(deploymentMetrics.flagKey, key)),
    ).toEqual([]);
  });

  it('every evaluation is recorded in rollback_decisions', async () => {
    const rows = await s.cp.db.db.select().from(rollbackDecisions);
    expect(rows.length).toBeGreaterThan(10);
    expect(rows.every((r) => r.leader.length > 0 && Array.isArray(r.reasons) && r.reasons.length > 0)).toBe(
      true,
    );
  });
});

describe('circuit breaker off (pglite)', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer('pglite', {
      SCHEDULER_ENABLED: 'false',
      METRICS_AGGREGATION_INTERVAL: String(W),
      ROLLBACK_CIRCUIT_BREAKER_ENABLED: 'false',
    });
  });
  afterAll(async () => {
    await s?.close();
  });

  it('does not roll back; the decision says it would have', async () => {
    const sdk = await s.sdkKey('dev');
    const key = 'canary.breaker';
    await createCanary(s, key);
    const c = await canaryAction(s, key, 'resume');
    const from = alignWindow(Date.parse(c.stageStartedAt), W) + W;
    await postMetrics(
      s,
      sdk,
      batch(cohortSeries(key, from, from + 2 * W, W, { requests: 100, errors: 40 }, { requests: 100 }, 0)),
    );
    const [r] = (await s.cp.app.canaryScheduler.run('manual', from + 2 * W)).filter((x) => x.key === key);
    expect(r).toMatchObject({ outcome: 'would_roll_back' });
    expect(r!.decision.action).toBe('rollback');
    const rows = await s.cp.db.db.select().from(rollbackDecisions).where(eq(rollbackDecisions.flagKey, key));
    expect(rows[0]!.reasons).toContain('would roll back: ROLLBACK_CIRCUIT_BREAKER_ENABLED=false');
    expect((await getFlagJson(s, key)).canary!.status).toBe('progressing');
    const triggered = (await s.cp.db.db.select().from(outbox)).filter(
      (o) => o.topic === 'rollback.triggered',
    );
    expect(triggered.map((o) => (o.payload as { applied: boolean }).applied)).toEqual([false]);
  });

  it('logs every evaluation but announces "would roll back" once per window', async () => {
    const sdk = await s.sdkKey('dev');
    const key = 'canary.breaker-once';
    await createCanary(s, key);
    const c = await canaryAction(s, key, 'resume');
    const from = alignWindow(Date.parse(c.stageStartedAt), W) + W;
    const bad = { requests: 100, errors: 40 };
    const emitted: unknown[] = [];
    const listener = (e: { key: string }) => e.key === key && emitted.push(e);
    s.cp.app.events.on('rollback.triggered', listener);
    try {
      await postMetrics(s, sdk, batch(cohortSeries(key, from, from + 2 * W, W, bad, { requests: 100 }, 0)));
      const runAt = async (nowMs: number) =>
        (await s.cp.app.canaryScheduler.run('manual', nowMs)).filter((x) => x.key === key);
      // The same latest window judged three times (say an ingest, then the timer twice).
      for (const now of [from + 2 * W, from + 2 * W + 300, from + 2 * W + 600])
        expect(await runAt(now)).toMatchObject([{ outcome: 'would_roll_back' }]);
      // A new window, still failing: announced again.
      await postMetrics(
        s,
        sdk,
        batch(cohortSeries(key, from + 2 * W, from + 3 * W, W, bad, { requests: 100 }, 0)),
      );
      expect(await runAt(from + 3 * W)).toMatchObject([{ outcome: 'would_roll_back' }]);
    } finally {
      s.cp.app.events.off('rollback.triggered', listener);
    }
    const rows = await s.cp.db.db.select().from(rollbackDecisions).where(eq(rollbackDecisions.flagKey, key));
    expect(rows.map((r) => r.outcome)).toEqual(Array(4).fill('would_roll_back'));
    const triggered = (await s.cp.db.db.select().from(outbox)).filter(
      (o) => o.topic === 'rollback.triggered' && (o.payload as { key: string }).key === key,
    );
    expect(triggered).toHaveLength(2);
    expect(emitted).toHaveLength(2);
    expect((await getFlagJson(s, key)).canary!.status).toBe('progressing');
  });
});
