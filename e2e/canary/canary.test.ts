// Canary automation end to end: the real control plane (PGlite, windows shortened to 400 ms by
// configuration), a real Fastify service using @rupaya/flags-node + @rupaya/flags-fastify, driven by
// a bounded load generator on loopback, with a switch that makes the treatment cohort fail.
// The SDK aggregates windows and reports them; the scheduler decides with core; the SDK receives
// the new snapshot over SSE. No fake timers.
import type { AddressInfo } from 'node:net';
import { alignWindow, bucketOf } from '@rupaya/flags-core';
import { flagsPlugin } from '@rupaya/flags-fastify';
import { createClient, type FlagsClient } from '@rupaya/flags-node';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminApi, type Plane, silent, startPlane, waitFor } from '../sdk/plane';

const W = 1000;
const ENV = 'prod';
const FLAGS = '/api/admin/deployment/feature-flags';
/**
 * Per-flag policy: smaller samples so the short test sees enough traffic, and resource gauges out
 * of the way (a loaded CI machine has event-loop delays that are not the canary's fault).
 */
const policy = {
  minRequestsPerWindow: 5,
  minSampleSize: 100,
  gauges: { eventLoopDelayP99Ms: 600_000, cpuPercent: 100_000, heapUsedPercent: 100 },
};
const stages = [
  { percent: 1, minDurationSec: 1 },
  { percent: 10, minDurationSec: 1 },
  { percent: 25, minDurationSec: 1 },
  { percent: 50, minDurationSec: 1 },
  { percent: 100, minDurationSec: 0 },
];

let plane: Plane;
let admin: AdminApi;
let client: FlagsClient;
let service: FastifyInstance;
let base: string;
/** How the treatment behaves: every `failEvery`-th treatment request of a flag answers 500 (0: never). */
const failEvery: Record<string, number> = {};
const treatmentCount: Record<string, number> = {};

/**
 * Users whose rollout bucket is in [0, 1000) (treatment at every stage) or [50000, 51000) (control
 * at every stage ≤ 50%), so both cohorts get traffic even at 1%; plus users outside both.
 */
function population(key: string): { treatment: string[]; control: string[]; other: string[] } {
  const out = { treatment: [] as string[], control: [] as string[], other: [] as string[] };
  for (let i = 0; out.treatment.length < 30 || out.control.length < 30 || out.other.length < 30; i++) {
    const u = `user-${i}`;
    const b = bucketOf(key, u);
    if (b < 1000) out.treatment.length < 30 && out.treatment.push(u);
    else if (b >= 50_000 && b < 51_000) out.control.length < 30 && out.control.push(u);
    else if (out.other.length < 30) out.other.push(u);
  }
  return out;
}

/** A bounded load generator: `concurrency` loops sending requests until `stop()`. */
function load(key: string, concurrency = 8) {
  const users = population(key);
  // Cohorts interleaved, so concurrent requests mix them (as real traffic does).
  const all: string[] = [];
  for (let i = 0; i < 30; i++) {
    all.push(users.treatment[i]!, users.control[i]!);
    if (i % 5 === 0) all.push(users.other[i]!);
  }
  let running = true;
  let sent = 0;
  const loops = Array.from({ length: concurrency }, async (_, j) => {
    for (let i = j; running; i += concurrency) {
      const u = all[i % all.length]!;
      await fetch(`${base}/checkout?flag=${key}`, { headers: { 'x-user-id': u } })
        .then((r) => r.arrayBuffer())
        .catch(() => undefined);
      sent++;
    }
  });
  return {
    users,
    get sent() {
      return sent;
    },
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

const canaryOf = async (key: string) =>
  (
    await admin.ok<{ flag: { canary: { stage: number; status: string } } }>(
      'GET',
      `${FLAGS}/${key}?environment=${ENV}`,
    )
  ).flag.canary;

/** Waits for the canary's status; on timeout the error carries the last decision's reasons. */
async function waitForStatus(
  key: string,
  pred: (status: string) => boolean,
  what: string,
  timeoutMs = 100_000,
) {
  try {
    await waitFor(async () => pred((await canaryOf(key)).status), timeoutMs, what);
  } catch (err) {
    const { decisions } = await admin.ok<{ decisions: { action: string; reasons: string[] }[] }>(
      'GET',
      `${FLAGS}/${key}/rollback-decisions?environment=${ENV}&limit=1`,
    );
    throw new Error(`${(err as Error).message}; last decision: ${JSON.stringify(decisions[0] ?? null)}`);
  }
}

async function createCanary(key: string, overrides: Record<string, unknown> = {}) {
  await admin.createFlag(
    { key, type: 'boolean', enabled: true, stages, policy: { ...policy, ...overrides } },
    ENV,
  );
}

beforeAll(async () => {
  plane = await startPlane({
    memory: true,
    env: { METRICS_AGGREGATION_INTERVAL: String(W), METRICS_WINDOW_SIZE: '30', SSE_HEARTBEAT_MS: '500' },
  });
  admin = new AdminApi(plane.url);
  const sdkKey = await admin.sdkKey(ENV);
  client = createClient({ url: plane.url, sdkKey, metrics: { flushIntervalMs: 100 }, logger: silent });
  expect(await client.ready({ timeoutMs: 20_000 })).toBe('READY');
  service = Fastify();
  await service.register(flagsPlugin, { client });
  service.get('/checkout', async (request, reply) => {
    const key = (request.query as { flag: string }).flag;
    const on = request.flags.isEnabled(key);
    if (on && failEvery[key]) {
      treatmentCount[key] = (treatmentCount[key] ?? 0) + 1;
      if (treatmentCount[key] % failEvery[key]! === 0)
        return reply.code(500).send({ error: 'new path failed' });
    }
    return { newPath: on };
  });
  await service.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(service.server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await service?.close();
  await client?.close();
  await plane?.close();
});

describe('canary automation end to end', () => {
  it('a healthy treatment advances through every stage to 100% and completes, logging each transition', async () => {
    const key = 'canary.e2e-healthy';
    await createCanary(key);
    await admin.ok('POST', `${FLAGS}/${key}/resume-canary?environment=${ENV}`, { reason: 'e2e' });
    const gen = load(key);
    const started = Date.now();
    try {
      await waitForStatus(key, (st) => st !== 'progressing', 'canary completed');
    } finally {
      await gen.stop();
    }
    const last = await admin.ok<{ decisions: { outcome: string; reasons: string[] }[] }>(
      'GET',
      `${FLAGS}/${key}/rollback-decisions?environment=${ENV}&limit=1`,
    );
    expect(last.decisions[0]).toMatchObject({ outcome: 'completed' });
    const took = Date.now() - started;
    const logs = await admin.ok<{
      logs: { action: string; automatic: boolean; fromPercent: number; toPercent: number }[];
    }>('GET', `${FLAGS}/${key}/canary-logs?environment=${ENV}`);
    const auto = logs.logs.filter((l) => l.automatic).reverse();
    expect(auto.map((l) => `${l.action} ${l.fromPercent}→${l.toPercent}`)).toEqual([
      'advance 1→10',
      'advance 10→25',
      'advance 25→50',
      'advance 50→100',
      'complete 100→100',
    ]);
    console.log(`[canary e2e] 5 stages completed in ${took} ms with ${gen.sent} requests (W = ${W} ms)`);
    // The SDK serves the completed canary to everyone.
    await waitFor(() => client.isEnabled(key, { userId: gen.users.other[0]! }), 10_000, 'SDK serves 100%');
  });

  it('a failing treatment at 10% is rolled back; the SDK serves the old behaviour right after (SSE)', async () => {
    const key = 'canary.e2e-failing';
    await createCanary(key);
    await admin.ok('POST', `${FLAGS}/${key}/advance-canary?environment=${ENV}`, {});
    await admin.ok('POST', `${FLAGS}/${key}/resume-canary?environment=${ENV}`, {});
    const gen = load(key);
    const treated = gen.users.treatment[0]!;
    try {
      await waitFor(() => client.isEnabled(key, { userId: treated }), 10_000, 'SDK serves the canary');
      // Healthy for a while, then 20% of treatment requests fail.
      await new Promise((r) => setTimeout(r, 2 * W));
      const firstFailure = Date.now();
      failEvery[key] = 5;
      await waitFor(
        () => !client.isEnabled(key, { userId: treated }),
        60_000,
        'SDK serves the old behaviour',
      );
      const reaction = Date.now() - firstFailure;
      expect((await canaryOf(key)).status).toBe('rolled_back');
      const { decisions } = await admin.ok<{
        decisions: { outcome: string; reasons: string[]; latestWindowStartMs: number }[];
      }>('GET', `${FLAGS}/${key}/rollback-decisions?environment=${ENV}`);
      const rollback = decisions.find((d) => d.outcome === 'rolled_back')!;
      console.log(`[canary e2e] rollback: ${rollback.reasons.join('; ')}`);
      expect(rollback.reasons[0]).toMatch(
        /^(fast path: treatment error rate|comparative path: treatment error rate)/,
      );
      // Measured, not asserted (speed belongs to benchmarks): windows from the first failing one to the
      // latest window the rollback decision saw, and the wall-clock reaction.
      const windowsUsed = (rollback.latestWindowStartMs - alignWindow(firstFailure, W)) / W + 1;
      console.log(
        `[canary e2e] reaction (first failing request → SDK serves old behaviour): ${reaction} ms at W = ${W} ms; ` +
          `rollback decided on window ${windowsUsed} counting the first failing one`,
      );
      // After the rollback, requests of the treatment users succeed again (old path).
      const res = await fetch(`${base}/checkout?flag=${key}`, { headers: { 'x-user-id': treated } });
      expect(await res.json()).toEqual({ newPath: false });
    } finally {
      await gen.stop();
      failEvery[key] = 0;
    }
  });

  it('a treatment worse than control but under the absolute thresholds is rolled back by the comparative path', async () => {
    const key = 'canary.e2e-worse';
    // A 3% vs 0% difference needs a few hundred requests per cohort to be significant: the stage waits
    // for 600 treatment requests, and windows under 40 treatment requests do not count for the fast
    // path (one error in 20 requests would read as 5%).
    await createCanary(key, { minSampleSize: 600, minRequestsPerWindow: 40 });
    await admin.ok('POST', `${FLAGS}/${key}/resume-canary?environment=${ENV}`, {});
    // 1 in 33 treatment requests fails (≈3%, under the 5% threshold); control never fails.
    failEvery[key] = 33;
    const gen = load(key, 6);
    try {
      await waitForStatus(key, (st) => st === 'rolled_back', 'comparative rollback');
    } finally {
      await gen.stop();
      failEvery[key] = 0;
    }
    const { decisions } = await admin.ok<{
      decisions: { outcome: string; reasons: string[]; z: number; pValue: number }[];
    }>('GET', `${FLAGS}/${key}/rollback-decisions?environment=${ENV}`);
    const rollback = decisions.find((d) => d.outcome === 'rolled_back')!;
    expect(rollback.reasons[0]).toMatch(/^comparative path: treatment error rate/);
    expect(rollback.pValue).toBeLessThan(0.01);
    // The fast path never fired: no window was over 5%.
    expect(decisions.every((d) => !d.reasons.some((r) => r.startsWith('fast path')))).toBe(true);
  });

  it('no traffic holds: the canary never advances', async () => {
    const key = 'canary.e2e-idle';
    await createCanary(key);
    await admin.ok('POST', `${FLAGS}/${key}/resume-canary?environment=${ENV}`, {});
    await new Promise((r) => setTimeout(r, 6 * W));
    expect(await canaryOf(key)).toMatchObject({ stage: 0, status: 'progressing' });
    const { decisions } = await admin.ok<{ decisions: { action: string; reasons: string[] }[] }>(
      'GET',
      `${FLAGS}/${key}/rollback-decisions?environment=${ENV}`,
    );
    expect(decisions.length).toBeGreaterThan(0);
    expect(decisions.every((d) => d.action === 'hold')).toBe(true);
    expect(decisions[0]!.reasons).toContain(
      'no treatment traffic in this stage (no traffic is never healthy)',
    );
  });
});
