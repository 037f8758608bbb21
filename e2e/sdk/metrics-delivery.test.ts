// Metrics, exposures and events reach the control plane exactly once: across an outage (buffered,
// then delivered after the restart) and when a response is lost after the control plane stored the
// batch (retried under the same batchKey, recognised as a duplicate). Totals are read back through
// the admin API (metrics range, experiment results).
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, type FlagsClient, RequestFlags } from '@rupaya/flags-node';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminApi, PLANE_TIMEOUT_MS, type Plane, removeDir, silent, startPlane, waitFor } from './plane';

let plane: Plane | undefined;
let dataDir: string;
let port: number;
let sdkKey: string;
const clients: FlagsClient[] = [];
const EXPERIMENT = 'experiment.e2e-checkout';
const ROLLOUT = 'e2e.metrics-rollout';

function admin() {
  return new AdminApi(plane!.url);
}

async function requestTotal(): Promise<number> {
  const now = Date.now();
  const res = await admin().ok<{ series: { points: { requests: number }[] }[] }>(
    'GET',
    `/api/admin/deployment/metrics/range?environment=prod&flag=${ROLLOUT}&from=${now - 3_600_000}&to=${now + 60_000}`,
  );
  return res.series.reduce((a, s) => a + s.points.reduce((b, p) => b + p.requests, 0), 0);
}

async function experimentTotals(): Promise<{ exposures: number; purchaseSum: number }> {
  const res = await admin().ok<{
    variants: { exposures: number; metrics: { event: string; sum: number }[] }[];
  }>('GET', `/api/admin/deployment/experiments/${EXPERIMENT}/results?environment=prod&refresh=true`);
  return {
    exposures: res.variants.reduce((a, v) => a + v.exposures, 0),
    purchaseSum: res.variants.reduce(
      (a, v) => a + (v.metrics.find((m) => m.event === 'purchase')?.sum ?? 0),
      0,
    ),
  };
}

/** One served request per user: both flags evaluated, the request recorded, a purchase of 10 tracked. */
function serve(client: FlagsClient, users: string[]): void {
  for (const userId of users) {
    const flags = new RequestFlags(client, () => ({ userId }));
    flags.evaluate(ROLLOUT);
    flags.evaluate(EXPERIMENT);
    flags.record('/checkout/:id', 'POST', 200, 12);
    client.track('purchase', { userId }, 10);
  }
}

const users = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `user-${from + i}`);

beforeAll(async () => {
  plane = await startPlane();
  dataDir = plane.dataDir;
  port = plane.port;
  await admin().createFlag({ key: ROLLOUT, type: 'boolean', enabled: true, rolloutPercentage: 50 });
  await admin().createFlag({
    key: EXPERIMENT,
    type: 'string',
    enabled: true,
    variants: [
      { key: 'control', value: 'old', weight: 50_000 },
      { key: 'variant_a', value: 'new', weight: 50_000 },
    ],
    defaultVariant: 'control',
    experiment: { primaryMetric: { event: 'purchase', kind: 'mean', direction: 'increase' } },
  });
  sdkKey = await admin().sdkKey('prod');
}, PLANE_TIMEOUT_MS);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await plane?.close();
  removeDir(dataDir);
});

describe('metrics delivery', () => {
  it(
    'delivers what was recorded during an outage exactly once after the control plane returns',
    async () => {
      const url = plane!.url;
      const client = createClient({
        url,
        sdkKey,
        streaming: false,
        pollIntervalMs: 500,
        backoff: { initialMs: 50, maxMs: 400 },
        metrics: { flushIntervalMs: 200 },
        logger: silent,
      });
      clients.push(client);
      expect(await client.ready({ timeoutMs: 10_000 })).toBe('READY');
      expect(client.snapshot?.metricsWindowMs).toBe(500);

      serve(client, users(0, 20));
      await waitFor(async () => (await requestTotal()) === 20, 15_000, '20 requests before the outage');

      await plane!.close();
      plane = undefined;
      serve(client, users(20, 50));
      await new Promise((r) => setTimeout(r, 1500)); // windows close, flushes fail, batches wait

      plane = await startPlane({ dataDir, port });
      await waitFor(async () => (await requestTotal()) >= 50, 20_000, '50 requests after the outage');
      await waitFor(async () => (await experimentTotals()).exposures >= 50, 20_000, '50 exposures');
      // A few more flush cycles: nothing arrives twice.
      await new Promise((r) => setTimeout(r, 1500));
      expect(await requestTotal()).toBe(50);
      expect(await experimentTotals()).toEqual({ exposures: 50, purchaseSum: 500 });
    },
    PLANE_TIMEOUT_MS,
  );

  it('retries a batch whose response was lost under the same key, and the control plane counts it once', async () => {
    const before = await requestTotal();
    const beforeExp = await experimentTotals();
    const upstream = plane!.url;
    const lost = new Map<string, string[]>(); // path → batch keys whose response was dropped
    const seenKeys: { path: string; key: string }[] = [];
    const proxy: Server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', async () => {
        const up = await request(upstream + req.url, {
          method: req.method as 'GET' | 'POST',
          headers: Object.fromEntries(
            ['authorization', 'content-type', 'accept', 'if-none-match']
              .filter((h) => typeof req.headers[h] === 'string')
              .map((h) => [h, req.headers[h] as string]),
          ),
          body: req.method === 'POST' ? body : undefined,
        });
        const text = await up.body.text();
        if (req.method === 'POST') {
          const key = (JSON.parse(body) as { batchKey: string }).batchKey;
          seenKeys.push({ path: req.url!, key });
          if (!lost.has(req.url!)) {
            lost.set(req.url!, [key]);
            res.destroy(); // the control plane stored it; the SDK never hears back
            return;
          }
        }
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(up.headers))
          if (typeof v === 'string' && k !== 'transfer-encoding') headers[k] = v;
        res.writeHead(up.statusCode, headers);
        res.end(text);
      });
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    try {
      const client = createClient({
        url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
        sdkKey,
        streaming: false,
        backoff: { initialMs: 50, maxMs: 200 },
        metrics: { flushIntervalMs: 200 },
        logger: silent,
      });
      clients.push(client);
      expect(await client.ready({ timeoutMs: 10_000 })).toBe('READY');
      serve(client, users(100, 110));
      await waitFor(async () => (await requestTotal()) >= before + 10, 20_000, '10 more requests');
      await waitFor(
        async () => (await experimentTotals()).exposures >= beforeExp.exposures + 10,
        20_000,
        'exposures',
      );
      await waitFor(
        async () => (await experimentTotals()).purchaseSum >= beforeExp.purchaseSum + 100,
        20_000,
        'events',
      );
      await new Promise((r) => setTimeout(r, 1000));
      expect(await requestTotal()).toBe(before + 10);
      expect(await experimentTotals()).toEqual({
        exposures: beforeExp.exposures + 10,
        purchaseSum: beforeExp.purchaseSum + 100,
      });
      // Each of the three ingest routes lost one response, and the same key was sent again.
      for (const path of ['/api/sdk/v1/metrics', '/api/sdk/v1/exposures', '/api/sdk/v1/events']) {
        const [key] = lost.get(path) ?? [];
        expect(key, path).toBeDefined();
        expect(seenKeys.filter((s) => s.path === path && s.key === key).length, path).toBeGreaterThanOrEqual(
          2,
        );
      }
      await client.close();
    } finally {
      await new Promise<void>((r) => proxy.close(() => r()));
    }
  });

  it(
    'keeps what a client closing during an outage could not send in its spool file, and the next client delivers it once',
    async () => {
      const spoolFile = join(mkdtempSync(join(tmpdir(), 'rupaya-spool-')), 'metrics-spool.json');
      const before = await requestTotal();
      const beforeExp = await experimentTotals();
      const options = {
        sdkKey,
        streaming: false,
        backoff: { initialMs: 50, maxMs: 400 },
        metrics: { flushIntervalMs: 60_000, spoolFile },
        logger: silent,
      };
      const first = createClient({ url: plane!.url, ...options });
      expect(await first.ready({ timeoutMs: 10_000 })).toBe('READY');
      serve(first, users(200, 215));
      await plane!.close();
      plane = undefined;
      await first.close(); // the final flush fails: the batches go to the spool
      const spooled = JSON.parse(readFileSync(spoolFile, 'utf8')) as { batches: { kind: string }[] };
      expect(new Set(spooled.batches.map((b) => b.kind))).toEqual(
        new Set(['metrics', 'exposures', 'events']),
      );

      plane = await startPlane({ dataDir, port });
      const second = createClient({
        url: plane.url,
        ...options,
        metrics: { flushIntervalMs: 200, spoolFile },
      });
      clients.push(second);
      expect(existsSync(spoolFile)).toBe(false); // taken by the new client
      expect(await second.ready({ timeoutMs: 10_000 })).toBe('READY');
      await waitFor(async () => (await requestTotal()) >= before + 15, 20_000, '15 spooled requests');
      await waitFor(
        async () => (await experimentTotals()).purchaseSum >= beforeExp.purchaseSum + 150,
        20_000,
        'spooled events',
      );
      await new Promise((r) => setTimeout(r, 1000));
      expect(await requestTotal()).toBe(before + 15);
      expect(await experimentTotals()).toEqual({
        exposures: beforeExp.exposures + 15,
        purchaseSum: beforeExp.purchaseSum + 150,
      });
      await second.close();
      expect(existsSync(spoolFile)).toBe(false); // everything delivered: nothing spooled again
    },
    PLANE_TIMEOUT_MS,
  );

  it('leaves a spool written for another SDK key alone', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rupaya-spool-'));
    const spoolFile = join(dir, 'spool.json');
    const foreign = {
      format: 'rupaya-flags-metrics-spool',
      version: 1,
      keyFingerprint: 'sha256:0000000000000000',
      savedAt: new Date().toISOString(),
      batches: [],
    };
    writeFileSync(spoolFile, JSON.stringify(foreign));
    const warnings: string[] = [];
    const client = createClient({
      url: 'http://127.0.0.1:1',
      sdkKey,
      streaming: false,
      pollIntervalMs: 60_000,
      metrics: { spoolFile },
      logger: { ...silent, warn: (m: string) => warnings.push(m) },
    });
    clients.push(client);
    expect(JSON.parse(readFileSync(spoolFile, 'utf8'))).toEqual(foreign);
    expect(warnings.some((w) => w.includes('another SDK key'))).toBe(true);
    removeDir(dir);
  });
});
