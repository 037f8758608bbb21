// Metrics ingest on PGlite and Postgres: concurrent batches of many instances are merged into exactly
// what core's mergeWindows gives for all the windows of a series (counts, quantiles, sketch, top
// errors, reports); gauges keep the worst value per instance and window; evaluation counts are
// summed; a retried batch changes nothing. The NOTIFY that wakes the scheduler names the
// environment and the batch's flags, and is sent only when one of them has stages or a guard; the
// run it wakes evaluates those flags only.
import {
  type GaugeWindow,
  type MetricsBatch,
  mergeWindows,
  type SerializedWindow,
  WindowAggregate,
} from '@rupaya/flags-core';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploymentMetrics, flagUsage, rollbackDecisions } from '../src/db/schema/index';
import { storageKinds } from '../src/index';
import { mergeScopes, type RunScope } from '../src/services/canary-scheduler';
import {
  loadGauges,
  METRICS_CHANNEL,
  metricsNotificationPayload,
  parseMetricsNotification,
} from '../src/services/metrics-ingest';
import { batch, canaryAction, createCanary, postMetrics } from './canary-support';
import { FLAGS, startTestServer, type TestServer } from './helpers';

const W = 1000;

/** A small deterministic generator (mulberry32), so a failure replays. */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface SeriesSpec {
  flag: string;
  cohort?: string;
  variant?: string;
  stage?: number;
  endpoint: string;
}

/** One instance's window of a series: integer latencies (sums stay exact whatever the merge order). */
function instanceWindow(spec: SeriesSpec, start: number, random: () => number): SerializedWindow {
  const w = new WindowAggregate({ ...spec, windowStart: start, durationMs: W });
  const requests = Math.floor(random() * 60);
  for (let i = 0; i < requests; i++) {
    const slow = random() < 0.05;
    const latency = slow ? 400 + Math.floor(random() * 2000) : 5 + Math.floor(random() * 120);
    const error = random() < 0.08;
    const status = [500, 502, 503][Math.floor(random() * 3)]!;
    const endpoint = random() < 0.7 ? spec.endpoint : 'GET /other';
    w.record(latency, error ? { error: true, status, endpoint } : {});
  }
  return w.toSerialized();
}

const seriesKey = (w: SerializedWindow) =>
  [w.flag, w.windowStart, w.stage ?? -1, w.cohort ?? '', w.variant ?? '', w.endpoint].join('|');

describe('notification payload and run scopes', () => {
  it('names the environment and the flags; a long list or a bare name means every flag', () => {
    const p = metricsNotificationPayload('dev', ['a', 'b']);
    expect(parseMetricsNotification(p)).toEqual({ environment: 'dev', flags: ['a', 'b'] });
    const many = Array.from({ length: 400 }, (_, i) => `flag.with-a-rather-long-key-${i}`);
    const long = metricsNotificationPayload('prod', many);
    expect(Buffer.byteLength(long)).toBeLessThan(8000);
    expect(parseMetricsNotification(long)).toEqual({ environment: 'prod', flags: null });
    expect(parseMetricsNotification('staging')).toEqual({ environment: 'staging', flags: null });
    expect(parseMetricsNotification('')).toBeNull();
  });

  it('merges scopes: union of flags, whole environments and "everything" absorb', () => {
    const a: RunScope = new Map([['dev', new Set(['x'])]]);
    const b: RunScope = new Map([
      ['dev', new Set(['y'])],
      ['prod', null],
    ]);
    expect(mergeScopes(a, b)).toEqual(
      new Map([
        ['dev', new Set(['x', 'y'])],
        ['prod', null],
      ]),
    );
    expect(mergeScopes(a, new Map([['dev', null]]))).toEqual(new Map([['dev', null]]));
    expect(mergeScopes(a, undefined)).toBeUndefined();
    expect(mergeScopes(undefined, b)).toBeUndefined();
  });
});

describe.each(storageKinds)('metrics ingest on %s', (kind) => {
  let s: TestServer;
  let sdk: string;

  beforeAll(async () => {
    s = await startTestServer(kind, { SCHEDULER_ENABLED: 'false', METRICS_AGGREGATION_INTERVAL: String(W) });
    sdk = await s.sdkKey('dev');
  });
  afterAll(async () => {
    await s?.close();
  });

  it('concurrent batches of many instances merge into what core merges from all their windows', async () => {
    const random = rng(kind === 'pglite' ? 6 : 7);
    const t = Math.floor(Date.now() / W) * W - 20 * W;
    const specs: SeriesSpec[] = [];
    for (const flag of ['ingest.eq-a', 'ingest.eq-b']) {
      for (const endpoint of ['GET /checkout', 'POST /pay']) {
        specs.push({ flag, cohort: 'treatment', stage: 0, endpoint });
        specs.push({ flag, cohort: 'control', stage: 0, endpoint });
        specs.push({ flag, variant: 'blue', endpoint });
      }
    }
    specs.push({ flag: 'ingest.eq-c', endpoint: 'GET /' });
    const all: SerializedWindow[] = [];
    const batches: MetricsBatch[] = [];
    for (let instance = 0; instance < 12; instance++) {
      for (let b = 0; b < 2; b++) {
        const windows: SerializedWindow[] = [];
        for (const spec of specs) {
          for (const start of [t, t + W]) {
            windows.push(instanceWindow(spec, start, random));
            // Now and then the same series twice in one batch (merged before it is stored).
            if (random() < 0.1) windows.push(instanceWindow(spec, start, random));
          }
        }
        all.push(...windows);
        batches.push(batch(windows, { instanceId: `eq-${instance}` }));
      }
    }
    let next = 0;
    const worker = async () => {
      while (next < batches.length) {
        const r = await postMetrics(s, sdk, batches[next++]);
        expect(r.status).toBe(202);
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);

    const bySeries = new Map<string, SerializedWindow[]>();
    for (const w of all) {
      const list = bySeries.get(seriesKey(w)) ?? [];
      list.push(w);
      bySeries.set(seriesKey(w), list);
    }
    const rows = (await s.cp.db.db.select().from(deploymentMetrics)).filter((r) =>
      r.flagKey.startsWith('ingest.eq-'),
    );
    expect(rows).toHaveLength(bySeries.size);
    for (const row of rows) {
      const key = [row.flagKey, row.windowStartMs, row.stage, row.cohort, row.variant, row.endpoint].join(
        '|',
      );
      const windows = bySeries.get(key);
      expect(windows, key).toBeDefined();
      const agg = mergeWindows(windows!)!;
      const summary = agg.summary(20);
      expect(row, key).toMatchObject({
        granularity: 'raw',
        durationMs: W,
        requests: summary.requests,
        errors: summary.errors,
        errorRate: summary.errorRate,
        p50: summary.p50,
        p95: summary.p95,
        p99: summary.p99,
        rps: summary.rps,
        reports: windows!.length,
      });
      expect(row.sketch, key).toEqual(agg.latency.serialize());
      expect(row.topErrors, key).toEqual(summary.topErrors);
    }
  });

  it('gauges keep the worst value per instance and window; evaluations are summed; a retry changes nothing', async () => {
    const t = Math.floor(Date.now() / W) * W - 5 * W;
    const g = (extra: Partial<GaugeWindow>): GaugeWindow => ({ windowStart: t, durationMs: W, ...extra });
    const first = batch([], {
      instanceId: 'gauge-a',
      gauges: [g({ heapUsedPercent: 50, cpuPercent: 20 }), g({ windowStart: t + W, dbPoolWaiters: 2 })],
      evaluations: [
        { flag: 'ingest.usage', variant: 'on', count: 3 },
        { flag: 'ingest.usage', variant: 'on', count: 2 },
        { flag: 'ingest.usage', variant: null, count: 4 },
      ],
    });
    expect((await postMetrics(s, sdk, first)).body).toEqual({ accepted: 0, duplicate: false });
    const second = batch([], {
      instanceId: 'gauge-a',
      gauges: [g({ heapUsedPercent: 40, cpuPercent: 70, eventLoopDelayP99Ms: 5 })],
      evaluations: [{ flag: 'ingest.usage', variant: 'on', count: 10 }],
    });
    expect((await postMetrics(s, sdk, second)).status).toBe(202);
    expect((await postMetrics(s, sdk, second)).body).toEqual({ accepted: 0, duplicate: true });
    await postMetrics(s, sdk, batch([], { instanceId: 'gauge-b', gauges: [g({ rssBytes: 1.5e9 })] }));

    const gauges = (await loadGauges(s.cp.db.db, 'dev', t)).sort(
      (a, b) => a.windowStart - b.windowStart || (a.rssBytes ?? 0) - (b.rssBytes ?? 0),
    );
    expect(gauges).toEqual([
      { windowStart: t, durationMs: W, heapUsedPercent: 50, cpuPercent: 70, eventLoopDelayP99Ms: 5 },
      { windowStart: t, durationMs: W, rssBytes: 1.5e9 },
      { windowStart: t + W, durationMs: W, dbPoolWaiters: 2 },
    ]);
    const usage = await s.cp.db.db
      .select()
      .from(flagUsage)
      .where(and(eq(flagUsage.environment, 'dev'), eq(flagUsage.flagKey, 'ingest.usage')));
    const totals: Record<string, number> = {};
    for (const u of usage) totals[u.variant] = (totals[u.variant] ?? 0) + u.count;
    expect(totals).toEqual({ on: 15, '': 4 });
  });
});

describe.each(storageKinds)('ingest wakes the scheduler for its canary flags only, on %s', (kind) => {
  let s: TestServer;
  let sdk: string;
  const notifications: string[] = [];
  let unlisten: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    // The timer runs once at start, then not for an hour: every later run is woken by ingest.
    s = await startTestServer(kind, { METRICS_AGGREGATION_INTERVAL: '3600000' });
    sdk = await s.sdkKey('dev');
    unlisten = await s.cp.db.listen(METRICS_CHANNEL, (payload) => notifications.push(payload));
  });
  afterAll(async () => {
    await unlisten?.();
    await s?.close();
  });

  async function until<T>(f: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const v = await f();
      if (v !== undefined) return v;
      if (Date.now() > end) throw new Error('timed out');
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  const decisionsOf = (key: string) =>
    s.cp.db.db.select().from(rollbackDecisions).where(eq(rollbackDecisions.flagKey, key));

  it('no NOTIFY for flags without stages or guard; the woken run evaluates the batch’s canaries only', async () => {
    await createCanary(s, 'canary.scope-a');
    await createCanary(s, 'canary.scope-b');
    await canaryAction(s, 'canary.scope-a', 'resume');
    await canaryAction(s, 'canary.scope-b', 'resume');
    const plain = await s.call('POST', `${FLAGS}?environment=dev`, {
      body: { key: 'plain.scope-c', type: 'boolean', enabled: true },
    });
    expect(plain.status).toBe(201);
    const t = Math.floor(Date.now() / W) * W - 2 * W;
    const win = (flag: string, cohort: string) => {
      const w = new WindowAggregate({
        flag,
        cohort,
        stage: 0,
        endpoint: 'GET /',
        windowStart: t,
        durationMs: W,
      });
      for (let i = 0; i < 20; i++) w.record(10 + i);
      return w.toSerialized();
    };

    // A plain flag and a flag that does not exist: nothing for the scheduler to do, no NOTIFY.
    await postMetrics(s, sdk, batch([win('plain.scope-c', 'treatment'), win('unknown.scope-d', 'control')]));
    // A canary and a plain flag: one NOTIFY naming both.
    await postMetrics(
      s,
      sdk,
      batch([
        win('canary.scope-a', 'treatment'),
        win('canary.scope-a', 'control'),
        win('plain.scope-c', 'control'),
      ]),
    );
    const payload = await until(async () => notifications[0]);
    expect(notifications).toHaveLength(1);
    expect(parseMetricsNotification(payload)).toEqual({
      environment: 'dev',
      flags: ['canary.scope-a', 'plain.scope-c'],
    });
    const [decided] = await until(async () => {
      const d = await decisionsOf('canary.scope-a');
      return d.length > 0 ? d : undefined;
    });
    expect(decided).toMatchObject({ trigger: 'ingest', kind: 'canary' });
    // The other canary was not part of the batch: the ingest-woken run left it to the timer.
    expect(await decisionsOf('canary.scope-b')).toEqual([]);
    expect(notifications).toHaveLength(1);
  });
});
