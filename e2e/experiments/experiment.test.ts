// Issue 7 end to end: simulated users (seeded PRNG) hit a real Express app with the Rupaya
// middleware; the app serves the experiment's variant and tracks purchases through the real SDK,
// which reports exposures and events to a real control plane. The verdicts come back from the
// admin API. Also: a 52/48 split on a 50/50 experiment (invalid_srm), 500 units (needs_more_data),
// and a unit that sees two variants after a mid-run weight change (excluded).
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ExperimentAnalysis } from '@rupaya/flags-core';
import { flagsMiddleware } from '@rupaya/flags-express';
import { createClient, type FlagsClient } from '@rupaya/flags-node';
import express from 'express';
import { Pool, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminApi, type Plane, removeDir, silent, startPlane } from '../sdk/plane';

const MAIN = 'experiment.e2e-checkout-redesign';
const SMALL = 'experiment.e2e-small';
const SRM = 'experiment.e2e-srm';
const SWITCH = 'experiment.e2e-switch';
/** Bucketed by organisation: its events come from `track` calls that name a user and an org. */
const ORG = 'experiment.e2e-org';
/** Units of the main scenario (the figure). */
const UNITS = Number(process.env.RUPAYA_E2E_EXPERIMENT_UNITS ?? 30_000);
/**
 * Every unit visits the Express app over HTTP (middleware → SDK) and buys through it; the env variable
 * can make the first N do so and serve the rest by the same SDK client in-process (`client.variant` /
 * `client.track`). Either way every exposure and event travels SDK → control plane over HTTP.
 */
const HTTP_UNITS = Math.min(UNITS, Number(process.env.RUPAYA_E2E_EXPERIMENT_HTTP_UNITS ?? UNITS));
const RATES: Record<string, number> = { control: 0.1, variant_a: 0.12, variant_b: 0.1 };

// mulberry32
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

function experimentFlag(key: string, weights: Record<string, number>, extra: Record<string, unknown> = {}) {
  return {
    key,
    type: 'string',
    enabled: true,
    variants: Object.entries(weights).map(([k, weight]) => ({ key: k, value: k, weight })),
    defaultVariant: 'control',
    experiment: {
      hypothesis: 'The redesigned checkout converts more visitors',
      primaryMetric: { event: 'purchase', kind: 'conversion', direction: 'increase' },
      secondaryMetrics: [{ event: 'revenue', kind: 'mean', direction: 'increase' }],
      minimumDetectableEffect: 0.2,
      minUnitsPerVariant: 1000,
      // The product default is 24 h; shortened by configuration for the test.
      minDurationSec: 1,
      status: 'running',
      ...extra,
    },
  };
}

let plane: Plane;
let admin: AdminApi;
let client: FlagsClient;
let app: Server;
let appUrl: string;
let pool: Pool;

async function significance(key: string): Promise<{ analysis: ExperimentAnalysis; excludedUnits: number }> {
  return admin.ok(
    'GET',
    `/api/admin/deployment/experiments/${key}/statistical-significance?environment=prod&refresh=true`,
  );
}

async function totalUnits(key: string): Promise<number> {
  const s = await significance(key);
  return s.analysis.variants.reduce((t, v) => t + v.units, 0) + s.excludedUnits;
}

/** One visit: the app evaluates the experiment for the user and answers the variant. */
async function visit(flag: string, userId: string): Promise<string> {
  const res = await pool.request({
    path: `/checkout?flag=${flag}`,
    method: 'GET',
    headers: { 'x-user-id': userId },
  });
  const body = (await res.body.json()) as { variant: string };
  return body.variant;
}

async function purchase(userId: string, amount: number): Promise<void> {
  const res = await pool.request({
    path: '/purchase',
    method: 'POST',
    headers: { 'x-user-id': userId, 'content-type': 'application/json' },
    body: JSON.stringify({ amount }),
  });
  await res.body.text();
  expect(res.statusCode).toBe(204);
}

/** Polls `predicate` every 300 ms (each poll recomputes an analysis, so not faster). */
async function waitFor(predicate: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** Runs `fn` over `items` with `concurrency` in flight. */
async function inParallel<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

beforeAll(async () => {
  plane = await startPlane({ memory: true });
  admin = new AdminApi(plane.url);
  await admin.createFlag(
    experimentFlag(MAIN, { control: 33_334, variant_a: 33_333, variant_b: 33_333 }),
    'prod',
  );
  await admin.createFlag(experimentFlag(SMALL, { control: 50_000, variant_a: 50_000 }), 'prod');
  await admin.createFlag(experimentFlag(SRM, { control: 50_000, variant_a: 50_000 }), 'prod');
  await admin.createFlag(
    experimentFlag(SWITCH, { control: 50_000, variant_a: 50_000 }, { minUnitsPerVariant: 1 }),
    'prod',
  );
  await admin.createFlag(
    {
      ...experimentFlag(ORG, { control: 50_000, variant_a: 50_000 }, { minUnitsPerVariant: 1 }),
      bucketBy: 'orgId',
    },
    'prod',
  );
  const sdkKey = await admin.sdkKey('prod');
  client = createClient({
    url: plane.url,
    sdkKey,
    metrics: { flushIntervalMs: 200, maxBufferedRecords: 200_000 },
    logger: silent,
  });
  expect(await client.ready({ timeoutMs: 10_000 })).toBe('READY');

  const web = express();
  web.use(express.json());
  web.use(flagsMiddleware({ client }));
  web.get('/checkout', (req, res) => {
    res.json({ variant: req.flags.variant(String(req.query.flag)) });
  });
  web.post('/purchase', (req, res) => {
    const userId = String(req.headers['x-user-id']);
    client.track('purchase', { userId });
    client.track('revenue', { userId }, Number((req.body as { amount: number }).amount));
    res.status(204).end();
  });
  app = web.listen(0, '127.0.0.1');
  await new Promise((r) => app.once('listening', r));
  appUrl = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
  pool = new Pool(appUrl, { connections: 16 });
}, 180_000);

afterAll(async () => {
  await pool?.close();
  await new Promise((r) => app?.close(r));
  await client?.close();
  await plane?.close();
  if (plane) removeDir(plane.dataDir);
}, 60_000);

describe('A/B experiment end to end (real SDK, Express middleware, control plane)', () => {
  it(`${UNITS} units at 10% / 12% / 10% conversion: variant_a wins, variant_b does not`, async () => {
    const random = rng(20261125);
    const users = Array.from({ length: UNITS }, (_, i) => `user-${i}`);
    const seen: Record<string, number> = {};
    let purchases = 0;
    const t0 = Date.now();
    await inParallel(users.slice(0, HTTP_UNITS), 16, async (userId) => {
      const variant = await visit(MAIN, userId);
      seen[variant] = (seen[variant] ?? 0) + 1;
      // Sticky: the same user gets the same variant on a second visit.
      if (userId.endsWith('0')) expect(await visit(MAIN, userId)).toBe(variant);
      if (random() < RATES[variant]!) {
        purchases++;
        await purchase(userId, 20 + Math.floor(random() * 60));
      }
    });
    for (const userId of users.slice(HTTP_UNITS)) {
      const variant = client.variant(MAIN, { userId })!;
      seen[variant] = (seen[variant] ?? 0) + 1;
      if (random() < RATES[variant]!) {
        purchases++;
        client.track('purchase', { userId });
        client.track('revenue', { userId }, 20 + Math.floor(random() * 60));
      }
      // A live service flushes every few hundred ms; here every 1,000 users (batches of ~1,000).
      if (userId.endsWith('000')) await client.flush();
    }
    expect(Object.keys(seen).sort()).toEqual(['control', 'variant_a', 'variant_b']);
    await client.flush();
    const converted = async () =>
      (await significance(MAIN)).analysis.variants.reduce(
        (t, v) => t + (v.metrics.find((m) => m.event === 'purchase')?.sum ?? 0),
        0,
      );
    await waitFor(
      async () => (await totalUnits(MAIN)) === UNITS,
      60_000,
      `${UNITS} units at the control plane`,
    );
    await waitFor(async () => (await converted()) === purchases, 30_000, `${purchases} conversions`);
    // The minimum duration (1 s here) must have passed since the first exposure.
    if (Date.now() - t0 < 1500) await new Promise((r) => setTimeout(r, 1500 - (Date.now() - t0)));
    const { analysis } = await significance(MAIN);
    const v = Object.fromEntries(analysis.variants.map((x) => [x.key, x]));
    expect(analysis.srm!.flagged).toBe(false);
    expect(v.variant_a!.verdict).toBe('winner');
    expect(v.variant_b!.verdict).not.toBe('winner');
    expect(['inconclusive', 'needs_more_data']).toContain(v.variant_b!.verdict);
    const a = v.variant_a!.comparisons.find((c) => c.event === 'purchase')!;
    expect(a.significant).toBe(true);
    expect(a.relativeLift!).toBeGreaterThan(0);
    expect(a.relativeLiftCi![0]).toBeGreaterThan(0);
    expect(a.confidenceLevel).toBe(0.95);
    // Every unit is counted once, in the variant it was served.
    for (const key of ['control', 'variant_a', 'variant_b']) expect(v[key]!.units).toBe(seen[key]);
  }, 300_000); // 30,000 units and their purchases over HTTP: about a minute on 2 busy cores

  it('500 units: needs_more_data', async () => {
    const users = Array.from({ length: 500 }, (_, i) => `small-${i}`);
    for (const u of users) client.variant(SMALL, { userId: u });
    await client.flush();
    await waitFor(async () => (await totalUnits(SMALL)) === 500, 20_000, '500 units');
    const { analysis } = await significance(SMALL);
    expect(analysis.variants[1]!.verdict).toBe('needs_more_data');
    expect(analysis.variants[1]!.reasons.join(' ')).toMatch(/minimum 1000/);
  });

  it('a 52/48 split over 10,000 units on a 50/50 experiment: invalid_srm', async () => {
    // Exposure logging that loses part of one variant, as reported by an SDK over the wire.
    const sdkKey = await admin.sdkKey('prod');
    const exposures = Array.from({ length: 10_000 }, (_, i) => ({
      flag: SRM,
      unitKey: `srm-${i}`,
      variant: i < 5200 ? 'control' : 'variant_a',
      timestamp: Date.now() - 5000,
    }));
    const res = await request(`${plane.url}/api/sdk/v1/exposures`, {
      method: 'POST',
      headers: { authorization: `Bearer ${sdkKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ instanceId: 'broken-logger', batchKey: 'srm-1', exposures }),
    });
    expect(res.statusCode).toBe(202);
    await res.body.text();
    const { analysis } = await significance(SRM);
    expect(analysis.srm!.flagged).toBe(true);
    expect(analysis.srm!.pValue).toBeLessThan(0.001);
    expect(analysis.variants[1]!.verdict).toBe('invalid_srm');
  });

  it('a unit that sees two variants after a mid-run weight change is excluded and counted', async () => {
    const users = Array.from({ length: 200 }, (_, i) => `switch-${i}`);
    const first = new Map<string, string>();
    for (const u of users) first.set(u, client.variant(SWITCH, { userId: u })!);
    await client.flush();
    await waitFor(async () => (await totalUnits(SWITCH)) === 200, 20_000, '200 units');
    // Everyone to variant_a: the former control users now see a second variant.
    await admin.updateFlag(
      SWITCH,
      {
        variants: [
          { key: 'control', value: 'control', weight: 0 },
          { key: 'variant_a', value: 'variant_a', weight: 100_000 },
        ],
      },
      'prod',
    );
    const switched = users.filter((u) => first.get(u) === 'control');
    expect(switched.length).toBeGreaterThan(50);
    // The probe must be a former control user: one already in variant_a would pass before the new
    // weights arrive.
    await waitFor(
      async () => (await visit(SWITCH, switched[0]!)) === 'variant_a',
      10_000,
      'new weights in the SDK',
    );
    for (const u of switched) expect(client.variant(SWITCH, { userId: u })).toBe('variant_a');
    await client.flush();
    await waitFor(
      async () => (await significance(SWITCH)).excludedUnits === switched.length,
      20_000,
      `${switched.length} units excluded`,
    );
    const { analysis } = await significance(SWITCH);
    expect(analysis.variants.find((x) => x.key === 'control')!.units).toBe(0);
    expect(analysis.variants.find((x) => x.key === 'variant_a')!.units).toBe(200 - switched.length);
  });
  it("an experiment bucketed by orgId counts the events of its orgs' users, tracked with the user's context", async () => {
    // 40 organisations of 3 users each; every user sees the experiment (one unit per org), and the
    // users of the even organisations buy. Each purchase is tracked with the user's whole context,
    // as a service has it (no unitKey): the SDK sends it for the user and for the org.
    const orgs = Array.from({ length: 40 }, (_, i) => `org-${i}`);
    const variantOf = new Map<string, string>();
    for (const [i, orgId] of orgs.entries()) {
      for (let u = 0; u < 3; u++) {
        const variant = client.variant(ORG, { userId: `${orgId}-user-${u}`, orgId })!;
        // One unit: every user of an org is served the org's variant.
        expect(variantOf.get(orgId) ?? variant).toBe(variant);
        variantOf.set(orgId, variant);
      }
      if (i % 2 === 0) {
        for (let u = 0; u < 3; u++) client.track('purchase', { userId: `${orgId}-user-${u}`, orgId });
      }
    }
    await client.flush();
    const converted = async () => {
      const { analysis } = await significance(ORG);
      return analysis.variants.reduce(
        (t, v) => t + (v.metrics.find((m) => m.event === 'purchase' && m.role === 'primary')?.sum ?? 0),
        0,
      );
    };
    await waitFor(async () => (await converted()) === 20, 20_000, '20 converted organisations');
    const { analysis } = await significance(ORG);
    // Units are organisations: 40 in all, each in the variant its users were served.
    for (const v of analysis.variants) {
      const orgsIn = orgs.filter((o) => variantOf.get(o) === v.key);
      expect(v.units).toBe(orgsIn.length);
      const purchase = v.metrics.find((m) => m.event === 'purchase' && m.role === 'primary')!;
      // A conversion per buying org, whatever the number of its users who bought.
      expect(purchase.sum).toBe(orgsIn.filter((o) => Number(o.slice(4)) % 2 === 0).length);
    }
  });
});
