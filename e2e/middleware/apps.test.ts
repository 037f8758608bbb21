// An Express app and a Fastify app, each with the Rupaya integration, serve real HTTP traffic that
// evaluates a canary with req.evaluateFlag; the requests then show up in the control plane's
// metrics per cohort and route pattern.
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { flagsMiddleware } from '@rupaya/flags-express';
import { flagsPlugin } from '@rupaya/flags-fastify';
import { createClient, type FlagsClient } from '@rupaya/flags-node';
import express from 'express';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminApi, PLANE_TIMEOUT_MS, type Plane, silent, startPlane, waitFor } from '../sdk/plane';

const CANARY = 'canary.e2e-checkout';
let plane: Plane;
let admin: AdminApi;
let sdkKey: string;
const clients: FlagsClient[] = [];

async function series(endpoint: string) {
  const now = Date.now();
  const res = await admin.ok<{
    series: { cohort: string | null; points: { requests: number; errors: number }[] }[];
  }>(
    'GET',
    `/api/admin/deployment/metrics/range?environment=prod&flag=${CANARY}&endpoint=${encodeURIComponent(endpoint)}&from=${now - 3_600_000}&to=${now + 60_000}`,
  );
  const byCohort: Record<string, { requests: number; errors: number }> = {};
  for (const s of res.series) {
    const c = (byCohort[s.cohort ?? 'none'] ??= { requests: 0, errors: 0 });
    for (const p of s.points) {
      c.requests += p.requests;
      c.errors += p.errors;
    }
  }
  return byCohort;
}

function newClient() {
  const c = createClient({ url: plane.url, sdkKey, metrics: { flushIntervalMs: 200 }, logger: silent });
  clients.push(c);
  return c;
}

beforeAll(async () => {
  plane = await startPlane({ memory: true });
  admin = new AdminApi(plane.url);
  await admin.createFlag({
    key: CANARY,
    type: 'boolean',
    enabled: true,
    stages: [
      { percent: 50, minDurationSec: 3600 },
      { percent: 100, minDurationSec: 0 },
    ],
  });
  // Start the canary at its first stage (50% treatment, 50% control).
  await admin.ok('POST', `/api/admin/deployment/feature-flags/${CANARY}/resume-canary?environment=prod`, {
    reason: 'e2e',
  });
  sdkKey = await admin.sdkKey('prod');
}, PLANE_TIMEOUT_MS);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await plane?.close();
});

const USERS = Array.from({ length: 40 }, (_, i) => `shopper-${i}`);

describe('middleware end to end', () => {
  it('Express: req.evaluateFlag serves the canary and the requests appear as metrics per cohort', async () => {
    const client = newClient();
    expect(await client.ready({ timeoutMs: 10_000 })).toBe('READY');
    const app = express();
    app.use(flagsMiddleware({ client }));
    app.get('/checkout/:id', async (req, res) => {
      const result = await req.evaluateFlag(CANARY);
      if (req.params.id === 'fail') {
        res.status(500).json({ error: 'payment failed' });
        return;
      }
      res.json({ newCheckout: result.enabled, cohort: result.cohort });
    });
    const server: Server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const served: Record<string, number> = {};
    for (const u of USERS) {
      const res = await fetch(`${base}/checkout/${u}`, { headers: { 'x-user-id': u } });
      const body = (await res.json()) as { newCheckout: boolean; cohort: string };
      expect(body.newCheckout).toBe(body.cohort === 'treatment');
      served[body.cohort] = (served[body.cohort] ?? 0) + 1;
    }
    await fetch(`${base}/checkout/fail`, { headers: { 'x-user-id': USERS[0]! } });
    const failCohort = client.evaluate(CANARY, { userId: USERS[0]! }).cohort!;
    await new Promise<void>((r) => server.close(() => r()));
    await client.close();
    expect(Object.keys(served).sort()).toEqual(['control', 'treatment']);
    await waitFor(
      async () => {
        const got = await series('GET /checkout/:id');
        return (got.treatment?.requests ?? 0) + (got.control?.requests ?? 0) === USERS.length + 1;
      },
      20_000,
      'Express requests in the control plane',
    );
    const got = await series('GET /checkout/:id');
    for (const cohort of ['treatment', 'control']) {
      expect(got[cohort]?.requests).toBe((served[cohort] ?? 0) + (cohort === failCohort ? 1 : 0));
      expect(got[cohort]?.errors).toBe(cohort === failCohort ? 1 : 0);
    }
  });

  it('Fastify: request.evaluateFlag serves the canary and the requests appear as metrics per cohort', async () => {
    const client = newClient();
    expect(await client.ready({ timeoutMs: 10_000 })).toBe('READY');
    const app: FastifyInstance = Fastify();
    await app.register(flagsPlugin, { client });
    app.post('/orders/:id', async (request) => {
      const result = await request.evaluateFlag(CANARY);
      return { newCheckout: result.enabled, cohort: result.cohort };
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const served: Record<string, number> = {};
    for (const u of USERS) {
      const res = await fetch(`${base}/orders/${u}`, {
        method: 'POST',
        headers: { 'x-user-id': u, 'content-type': 'application/json' },
        body: '{}',
      });
      const body = (await res.json()) as { newCheckout: boolean; cohort: string };
      served[body.cohort] = (served[body.cohort] ?? 0) + 1;
    }
    await app.close();
    await client.close();
    await waitFor(
      async () => {
        const got = await series('POST /orders/:id');
        return (got.treatment?.requests ?? 0) + (got.control?.requests ?? 0) === USERS.length;
      },
      20_000,
      'Fastify requests in the control plane',
    );
    const got = await series('POST /orders/:id');
    expect(got.treatment?.requests).toBe(served.treatment);
    expect(got.control?.requests).toBe(served.control);
  });
});
