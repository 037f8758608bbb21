import {
  alignWindow,
  type Flag,
  LatencySketch,
  type MetricsBatch,
  mergeWindows,
  type SerializedWindow,
} from '@rupaya/flags-core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MetricsReporter } from '../src/metrics/reporter';
import { UndiciTransport } from '../src/sync/transport';
import type { MetricsOptions, ServedFlag } from '../src/types';
import { createClient, RequestScope } from '../src/index';
import { RequestFlags } from '../src/request';
import { captureLogger, LoopbackServer, makeSnapshot } from './helpers';

let server: LoopbackServer;
let url: string;
let reporters: MetricsReporter[] = [];

beforeEach(async () => {
  server = new LoopbackServer();
  url = await server.listen();
});

afterEach(async () => {
  for (const r of reporters) await r.close().catch(() => {});
  reporters = [];
  await server.close();
});

function reporter(options: MetricsOptions = {}, target = url) {
  const logger = captureLogger();
  const r = new MetricsReporter({
    transport: new UndiciTransport(1000),
    http: { baseUrl: target, sdkKey: 'k', requestTimeoutMs: 1000, userAgent: 'test' },
    logger,
    instanceId: 'instance-1',
    options: { windowMs: 200, flushIntervalMs: 60_000, ...options },
    snapshot: () => undefined,
    onError: () => {},
  });
  reporters.push(r);
  return { r, logger };
}

/** Accepts every batch once per key (like the control plane), answering 202. */
function acceptAll() {
  const keys = new Set<string>();
  server.handle = (_req, res, body) => {
    const batch = JSON.parse(body) as { batchKey: string };
    const duplicate = keys.has(batch.batchKey);
    keys.add(batch.batchKey);
    res.writeHead(202, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ accepted: 1, duplicate }));
  };
  return keys;
}

const metricsBatches = () =>
  server.received.filter((r) => r.path === '/api/sdk/v1/metrics').map((r) => r.body as MetricsBatch);

describe('request metrics', () => {
  it('aggregates per (flag, cohort or variant, endpoint) in aligned windows with latency sketches', async () => {
    acceptAll();
    const { r } = reporter();
    const served = [
      { flag: 'canary.pay', cohort: 'treatment', stage: 1 },
      { flag: 'experiment.checkout', variant: 'variant_a' },
    ];
    const t0 = Date.now();
    for (let i = 0; i < 100; i++) {
      r.recordRequest({
        route: '/pay/:id',
        method: 'post',
        status: i < 7 ? 503 : i < 10 ? 404 : 200,
        durationMs: i + 1,
        served,
      });
    }
    r.recordRequest({
      route: '/pay/:id',
      method: 'POST',
      status: 200,
      durationMs: 5,
      served: [{ flag: 'canary.pay', cohort: 'control', stage: 1 }],
    });
    r.recordRequest({ route: '/health', method: 'GET', status: 200, durationMs: 1, served: [] }); // nothing served: not recorded
    await r.close(); // final flush: the partial window too
    const windows = metricsBatches().flatMap((b) => b.windows);
    const byKey = (flag: string, part: string) =>
      windows.filter((w) => w.flag === flag && (w.cohort === part || w.variant === part));
    const treatment = byKey('canary.pay', 'treatment');
    const sum = (ws: SerializedWindow[], f: (w: SerializedWindow) => number) =>
      ws.reduce((a, w) => a + f(w), 0);
    expect(sum(treatment, (w) => w.requests)).toBe(100);
    expect(sum(treatment, (w) => w.errors)).toBe(7); // 5xx only
    expect(treatment[0]).toMatchObject({ endpoint: 'POST /pay/:id', stage: 1, durationMs: 200 });
    expect(treatment[0]?.topErrors[0]).toMatchObject({ endpoint: 'POST /pay/:id', status: 503 });
    expect(sum(byKey('experiment.checkout', 'variant_a'), (w) => w.requests)).toBe(100);
    expect(sum(byKey('canary.pay', 'control'), (w) => w.requests)).toBe(1);
    for (const w of windows) {
      expect(w.windowStart).toBe(alignWindow(w.windowStart, 200));
      expect(w.windowStart).toBeGreaterThanOrEqual(alignWindow(t0, 200));
    }
    // The sketch is core's: its P99 of 1..100 ms is within 1% relative accuracy.
    const merged = new LatencySketch();
    for (const w of treatment) merged.merge(LatencySketch.fromSerialized(w.latency));
    expect(merged.quantile(0.99)).toBeGreaterThan(98 * 0.99);
    expect(merged.quantile(0.99)).toBeLessThan(100 * 1.01);
    expect(windows.some((w) => w.endpoint === 'GET /health')).toBe(false);
  });

  it('counts every request in its own series when more series interleave than the recent-series cache holds', async () => {
    acceptAll();
    const { r } = reporter();
    // 2 routes × 2 methods × 3 cohorts + 2 variants on a second flag: 20 series, interleaved.
    const kinds: { route: string; method: string; served: ServedFlag }[] = [];
    for (const route of ['/a/:id', '/b'])
      for (const method of ['GET', 'POST']) {
        for (const cohort of ['treatment', 'control', 'none'])
          kinds.push({ route, method, served: { flag: 'canary.pay', cohort, stage: 2 } });
        for (const variant of ['control', 'variant_a'])
          kinds.push({ route, method, served: { flag: 'experiment.checkout', variant } });
      }
    const expected = new Map<string, number>();
    const keyOf = (endpoint: string, flag: string, part: string) => `${endpoint} ${flag} ${part}`;
    let seed = 7;
    for (let i = 0; i < 2_000; i++) {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      const k = kinds[(seed >>> 16) % kinds.length]!;
      r.recordServed(k.route, k.method, 200, 3, [k.served]);
      const key = keyOf(`${k.method} ${k.route}`, k.served.flag, k.served.cohort ?? k.served.variant!);
      expected.set(key, (expected.get(key) ?? 0) + 1);
    }
    await r.close();
    const observed = new Map<string, number>();
    for (const w of metricsBatches().flatMap((b) => b.windows)) {
      const key = keyOf(w.endpoint, w.flag, w.cohort ?? w.variant!);
      observed.set(key, (observed.get(key) ?? 0) + w.requests);
    }
    expect(observed).toEqual(expected);
    expect(observed.size).toBe(kinds.length);
  });

  it('counts distinct units per (flag, cohort or variant, stage) across endpoints, sent on one window', async () => {
    acceptAll();
    const { r } = reporter({ windowMs: 100_000 });
    // 600 requests from 20 treatment users over 3 endpoints; 5 control users; anonymous requests.
    for (let i = 0; i < 600; i++) {
      r.recordRequest({
        route: `/r${i % 3}`,
        method: 'GET',
        status: 200,
        durationMs: 2,
        served: [{ flag: 'canary.pay', cohort: 'treatment', stage: 1, unit: `u${i % 20}` }],
      });
    }
    for (let i = 0; i < 50; i++) {
      r.recordRequest({
        route: '/r0',
        method: 'GET',
        status: 200,
        durationMs: 2,
        served: [{ flag: 'canary.pay', cohort: 'control', stage: 1, unit: `c${i % 5}` }],
      });
    }
    r.recordRequest({
      route: '/r0',
      method: 'GET',
      status: 200,
      durationMs: 2,
      served: [{ flag: 'canary.pay', cohort: 'none', stage: 1 }],
    });
    await r.close();
    const windows = metricsBatches().flatMap((b) => b.windows);
    const treatment = windows.filter((w) => w.cohort === 'treatment');
    expect(treatment).toHaveLength(3);
    // One sketch per series: on exactly one of its endpoint windows (payload stays one sketch per series).
    expect(treatment.filter((w) => w.units !== undefined)).toHaveLength(1);
    expect(treatment.find((w) => w.units)?.units).toMatchObject({ p: 12, encoding: 'sparse' });
    const units = (cohort: string) =>
      mergeWindows(windows.filter((w) => w.cohort === cohort))?.summary().units ?? null;
    expect(Math.round(units('treatment')!)).toBe(20);
    expect(Math.round(units('control')!)).toBe(5);
    expect(units('none')).toBeNull(); // no unit key: no sketch at all
    const sparseBytes = JSON.stringify(treatment.find((w) => w.units)?.units).length;
    expect(sparseBytes).toBeLessThan(150); // 20 units ≈ 80 base64 chars
  });

  it('a request through RequestFlags carries the unit key of the flag (bucketBy), not always userId', async () => {
    acceptAll();
    const stages = [
      { percent: 50, minDurationSec: 60 },
      { percent: 100, minDurationSec: 0 },
    ];
    const flag = (key: string, bucketBy?: string): Flag => ({
      key,
      type: 'boolean',
      enabled: true,
      ...(bucketBy ? { bucketBy } : {}),
      stages,
      canary: { stage: 0, status: 'progressing', stageStartedAt: '2026-01-01T00:00:00Z' },
    });
    const snapshot = makeSnapshot(1, [flag('canary.user'), flag('canary.org', 'orgId')], {
      metricsWindowMs: 100_000,
    });
    const c = createClient({
      url,
      sdkKey: 'k',
      streaming: false,
      pollIntervalMs: 60_000,
      bootstrap: snapshot,
      logger: captureLogger(),
      metrics: { flushIntervalMs: 60_000, gauges: false },
    });
    try {
      // 200 requests: 100 users in 4 orgs.
      for (let i = 0; i < 200; i++) {
        const req = new RequestFlags(c, () => ({ userId: `user-${i % 100}`, orgId: `org-${i % 4}` }));
        req.isEnabled('canary.user');
        req.isEnabled('canary.org');
        expect(req.scope.served.map((s) => s.unit)).toEqual([`user-${i % 100}`, `org-${i % 4}`]);
        req.record('/x', 'GET', 200, 1);
      }
      // What a request was served is read-only: only evaluations add to it.
      const req = new RequestFlags(c, () => ({ userId: 'user-1' }));
      // A RequestScope, its own scope; nothing served before its first evaluation, and every
      // request starts from the same (frozen) empty list.
      expect(req).toBeInstanceOf(RequestScope);
      expect(req.scope).toBe(req);
      expect(req.served).toEqual([]);
      expect(Object.isFrozen(req.served)).toBe(true);
      expect(req.served).toBe(new RequestFlags(c, () => ({})).served);
      expect(req.startedAt).toBeGreaterThan(0);
      req.isEnabled('canary.user');
      expect(() => {
        (req as unknown as { served: unknown }).served = [];
      }).toThrow(TypeError);
      expect(req.served.map((s) => s.flag)).toEqual(['canary.user']);
    } finally {
      await c.close();
    }
    const windows = metricsBatches().flatMap((b) => b.windows);
    const unitsOf = (flagKey: string) =>
      Math.round(mergeWindows(windows.filter((w) => w.flag === flagKey))!.summary().units!);
    // An estimate (standard error 1.6%): exact for a few units, within a couple at 100.
    expect(Math.abs(unitsOf('canary.user') - 100)).toBeLessThanOrEqual(3);
    expect(unitsOf('canary.org')).toBe(4);
  });

  it('sends only closed windows on a regular flush', async () => {
    acceptAll();
    const { r } = reporter({ windowMs: 100_000 });
    r.recordRequest({
      route: '/a',
      method: 'GET',
      status: 200,
      durationMs: 3,
      served: [{ flag: 'f.x', cohort: 'none' }],
    });
    await r.flush({ final: false });
    expect(metricsBatches().flatMap((b) => b.windows)).toHaveLength(0);
    await r.flush({ final: true });
    expect(metricsBatches().flatMap((b) => b.windows)).toHaveLength(1);
  });

  it('requests aggregated in runs still count in the window of their own end, whatever the run size', async () => {
    acceptAll();
    const { r } = reporter({ windowMs: 1000 });
    const served = [{ flag: 'canary.pay', cohort: 'treatment', unit: 'u' }];
    const first = alignWindow(Date.now(), 1000) - 5000;
    // 131 requests alternating between two past windows: more than one run of the queue, ending
    // part-way through one; the last ones are aggregated only when the flush cuts the windows.
    const latencies: number[][] = [[], []];
    for (let i = 0; i < 131; i++) {
      const w = i % 2;
      const latency = 1 + i;
      latencies[w]!.push(latency);
      r.recordServed('/pay', 'GET', i % 10 === 0 ? 503 : 200, latency, served, first + w * 1000 + 10 + i);
    }
    await r.flush({ final: false }); // both windows ended long ago: sent and cut
    const sent = metricsBatches().flatMap((b) => b.windows);
    expect(sent.map((w) => [w.windowStart, w.requests, w.errors]).sort((a, b) => a[0]! - b[0]!)).toEqual([
      [first, 66, 14],
      [first + 1000, 65, 0],
    ]);
    for (const [w, window] of [...sent].sort((a, b) => a.windowStart - b.windowStart).entries()) {
      const sketch = LatencySketch.fromSerialized(window.latency);
      expect(sketch.count).toBe(latencies[w]!.length);
      expect(sketch.max).toBe(Math.max(...latencies[w]!));
    }
    // A request recorded after close is not counted (nothing queued is left behind either).
    await r.close();
    r.recordServed('/pay', 'GET', 200, 1, served, first + 10);
    await r.flush({ final: true });
    expect(metricsBatches().flatMap((b) => b.windows)).toHaveLength(2);
  });

  it('a request for a window already sent opens that window again (late requests are not lost)', async () => {
    acceptAll();
    const { r } = reporter({ windowMs: 1000 });
    const served = [{ flag: 'canary.pay', cohort: 'treatment' }];
    const past = alignWindow(Date.now(), 1000) - 5000;
    r.recordServed('/pay', 'GET', 200, 4, served, past + 10);
    r.recordServed('/pay', 'GET', 200, 6, served, past + 20);
    await r.flush({ final: false }); // the window ended long ago: sent and cut
    r.recordServed('/pay', 'GET', 200, 8, served, past + 30); // same window, same series
    await r.flush({ final: false });
    const sent = metricsBatches().flatMap((b) => b.windows);
    expect(sent.map((w) => [w.windowStart, w.requests])).toEqual([
      [past, 2],
      [past, 1],
    ]);
  });

  it('counts evaluations per flag and variant exactly, interleaved and across flushes', async () => {
    acceptAll();
    const { r } = reporter({});
    const calls: [string, string | null][] = [
      ['f.a', 'on'],
      ['f.b', 'x'],
      ['f.a', 'on'],
      ['f.a', 'off'],
      ['f.b', null],
      ['f.b', 'x'],
      ['f.a', 'on'],
    ];
    for (const [flag, variant] of calls) r.recordEvaluation(flag, variant);
    await r.flush({ final: false });
    r.recordEvaluation('f.a', 'on'); // counted from zero in the next batch, not lost to a memo
    r.recordEvaluation('f.c', 'on');
    await r.close();
    const sorted = (b: MetricsBatch) =>
      [...(b.evaluations ?? [])].sort((x, y) =>
        `${x.flag}${x.variant}`.localeCompare(`${y.flag}${y.variant}`),
      );
    const [first, second] = metricsBatches();
    expect(sorted(first!)).toEqual([
      { flag: 'f.a', variant: 'off', count: 1 },
      { flag: 'f.a', variant: 'on', count: 3 },
      { flag: 'f.b', variant: null, count: 1 },
      { flag: 'f.b', variant: 'x', count: 2 },
    ]);
    expect(sorted(second!)).toEqual([
      { flag: 'f.a', variant: 'on', count: 1 },
      { flag: 'f.c', variant: 'on', count: 1 },
    ]);
  });

  it('reports evaluation counts and gauges', async () => {
    acceptAll();
    const { r } = reporter({ dbPool: () => ({ saturationPercent: 42.5, waiters: 3 }) });
    r.recordEvaluation('f.a', 'on');
    r.recordEvaluation('f.a', 'on');
    r.recordEvaluation('f.a', null);
    await r.close();
    const batch = metricsBatches()[0]!;
    expect(batch.evaluations).toEqual(
      expect.arrayContaining([
        { flag: 'f.a', variant: 'on', count: 2 },
        { flag: 'f.a', variant: null, count: 1 },
      ]),
    );
    const g = batch.gauges?.[0];
    expect(g?.rssBytes).toBeGreaterThan(1_000_000);
    expect(g?.heapUsedPercent).toBeGreaterThan(0);
    expect(g?.heapUsedPercent).toBeLessThan(100);
    expect(g?.cpuPercent).toBeGreaterThanOrEqual(0);
    expect(g).toMatchObject({ dbPoolSaturationPercent: 42.5, dbPoolWaiters: 3 });
    expect(batch.sdk?.name).toBe('@rupaya/flags-node');
  });
});

describe('exposures and events', () => {
  it('deduplicates exposures per unit, flag and variant within a window', async () => {
    acceptAll();
    const { r } = reporter({ windowMs: 60_000 });
    for (let i = 0; i < 5; i++) r.recordExposure('exp.a', 'u1', 'control', 3);
    r.recordExposure('exp.a', 'u2', 'variant_a', 3);
    r.recordExposure('exp.b', 'u1', 'control', 3);
    r.track('purchase', 'u1', 42.5);
    r.track('signup', 'u2');
    await r.close();
    const exposures = server.received.filter((x) => x.path === '/api/sdk/v1/exposures');
    expect(exposures).toHaveLength(1);
    const list = (exposures[0]!.body as { exposures: { flag: string; unitKey: string }[] }).exposures;
    expect(list.map((e) => `${e.flag}/${e.unitKey}`)).toEqual(['exp.a/u1', 'exp.a/u2', 'exp.b/u1']);
    const events = server.received.filter((x) => x.path === '/api/sdk/v1/events');
    expect((events[0]!.body as { events: unknown[] }).events).toEqual([
      expect.objectContaining({ event: 'purchase', unitKey: 'u1', value: 42.5 }),
      expect.objectContaining({ event: 'signup', unitKey: 'u2' }),
    ]);
  });

  it("an event counts for the context's unit of every attribute the experiments bucket by", async () => {
    acceptAll();
    const experiment = (key: string, bucketBy?: string): Flag => ({
      key,
      type: 'string',
      enabled: true,
      ...(bucketBy ? { bucketBy } : {}),
      variants: [
        { key: 'control', value: 'control', weight: 50_000 },
        { key: 'variant_a', value: 'variant_a', weight: 50_000 },
      ],
      defaultVariant: 'control',
    });
    const logger = captureLogger();
    const c = createClient({
      url,
      sdkKey: 'k',
      streaming: false,
      pollIntervalMs: 60_000,
      bootstrap: makeSnapshot(1, [experiment('exp.user'), experiment('exp.org', 'orgId')]),
      logger,
      metrics: { flushIntervalMs: 60_000, gauges: false },
    });
    try {
      c.track('purchase', { userId: 'u-1', orgId: 'o-7', plan: 'pro' }, 12.5);
      // Each unit once, however many attributes name it.
      c.track('signup', { userId: 'same', orgId: 'same' });
      // An org-level event (no user): the org's experiments only.
      c.track('upgrade', { orgId: 'o-7' });
      // The caller names the unit: that unit alone.
      c.track('invite', { unitKey: 'o-9', userId: 'u-2', orgId: 'o-7' });
      // No unit of these attributes: nothing sent, and the log says why.
      c.track('lost', { sessionId: 's-1' });
    } finally {
      await c.close();
    }
    const events = server.received
      .filter((x) => x.path === '/api/sdk/v1/events')
      .flatMap((x) => (x.body as { events: { event: string; unitKey: string; value?: number }[] }).events);
    expect(events.map((e) => `${e.event}/${e.unitKey}/${e.value ?? '-'}`)).toEqual([
      'purchase/u-1/12.5',
      'purchase/o-7/12.5',
      'signup/same/-',
      'upgrade/o-7/-',
      'invite/o-9/-',
    ]);
    expect(logger.lines.some((l) => /track\("lost"\) ignored.*userId, orgId/.test(l.message))).toBe(true);
  });

  it('reports a unit again when its variant changes within a window (so the server can exclude it)', async () => {
    acceptAll();
    const { r } = reporter({ windowMs: 60_000 });
    r.recordExposure('exp.a', 'u1', 'control', 3);
    r.recordExposure('exp.a', 'u1', 'control', 3);
    r.recordExposure('exp.a', 'u1', 'variant_a', 4);
    await r.close();
    const exposures = server.received.filter((x) => x.path === '/api/sdk/v1/exposures');
    const list = exposures.flatMap(
      (b) => (b.body as { exposures: { unitKey: string; variant: string }[] }).exposures,
    );
    expect(list.map((e) => `${e.unitKey}/${e.variant}`)).toEqual(['u1/control', 'u1/variant_a']);
  });
});

describe('delivery', () => {
  it('retries a failed batch with the same batchKey and never sends it twice once accepted', async () => {
    let failures = 2;
    const keys = acceptAll();
    const accept = server.handle;
    server.handle = (req, res, body) => {
      if (failures-- > 0) {
        res.writeHead(503);
        res.end('{"error":{"code":"STORAGE_UNAVAILABLE","message":"down"}}');
        return;
      }
      accept(req, res, body);
    };
    const { r } = reporter({ gauges: false });
    r.track('purchase', 'u1', 1);
    expect(await r.flush({ final: true })).toBe(false);
    expect(await r.flush({ final: true })).toBe(false);
    expect(await r.flush({ final: true })).toBe(true);
    expect(await r.flush({ final: true })).toBe(true);
    const sent = server.received
      .filter((x) => x.path === '/api/sdk/v1/events')
      .map((x) => (x.body as { batchKey: string }).batchKey);
    expect(sent).toHaveLength(3);
    expect(new Set(sent).size).toBe(1);
    expect(keys.size).toBe(1);
  });

  it('resends a batch whose response was lost, under the same key', async () => {
    const keys = acceptAll();
    const accept = server.handle;
    let lose = true;
    server.handle = (req, res, body) => {
      if (lose) {
        lose = false;
        accept(req, { writeHead: () => {}, end: () => res.destroy() } as never, body); // stored, answer lost
        return;
      }
      accept(req, res, body);
    };
    const { r } = reporter({ gauges: false });
    r.track('purchase', 'u1', 1);
    expect(await r.flush({ final: true })).toBe(false);
    expect(await r.flush({ final: true })).toBe(true);
    const sent = server.received.map((x) => (x.body as { batchKey: string }).batchKey);
    expect(sent).toHaveLength(2);
    expect(sent[0]).toBe(sent[1]);
    expect(keys.size).toBe(1);
  });

  it('drops a batch the server rejects as invalid (4xx) instead of retrying it forever', async () => {
    server.handle = (_req, res) => {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end('{"error":{"code":"VALIDATION_FAILED","message":"events[0].event: bad"}}');
    };
    const { r, logger } = reporter({ gauges: false });
    r.track('purchase', 'u1', 1);
    expect(await r.flush({ final: true })).toBe(true);
    expect(r.rejected).toBe(1);
    expect(logger.lines.some((l) => l.level === 'error' && /VALIDATION_FAILED/.test(l.message))).toBe(true);
  });

  it('bounds the buffer during an outage, drops the oldest and reports the drop count', async () => {
    const down = new LoopbackServer();
    const deadUrl = await down.listen();
    await down.close();
    const { r } = reporter({ maxBufferedRecords: 50, gauges: false }, deadUrl);
    for (let i = 0; i < 80; i++) r.track('click', `u${i}`);
    expect(r.buffered).toBe(50);
    expect(r.dropped).toBe(30);
    await r.flush({ final: false });
    for (let i = 80; i < 100; i++) r.track('click', `u${i}`);
    expect(r.buffered).toBeLessThanOrEqual(50);
    // 30, then the 20 new ones, plus records pushed out by the batch that carries the count.
    expect(r.dropped).toBeGreaterThanOrEqual(50);
    // Point the same reporter at a live server: the survivors and the drop count arrive.
    acceptAll();
    (r as unknown as { deps: { http: { baseUrl: string } } }).deps.http.baseUrl = url;
    expect(await r.flush({ final: true })).toBe(true);
    const events = server.received
      .filter((x) => x.path === '/api/sdk/v1/events')
      .flatMap((x) => (x.body as { events: { unitKey: string }[] }).events.map((e) => e.unitKey));
    expect(events.length).toBeLessThanOrEqual(50);
    expect(events.at(-1)).toBe('u99'); // newest kept
    expect(events).not.toContain('u0'); // oldest dropped
    const reported = metricsBatches().reduce((a, b) => a + (b.dropped ?? 0), 0);
    expect(reported).toBe(r.dropped);
  });
});
