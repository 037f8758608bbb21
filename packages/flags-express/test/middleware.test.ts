import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Flag, MetricsBatch, Snapshot } from '@rupaya/flags-core';
import { createClient, type FlagsClient, silentLogger, snapshotChecksum } from '@rupaya/flags-node';
import express, { type NextFunction, type Request, type Response } from 'express';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { flagsMiddleware } from '../src/index';

const canary: Flag = {
  key: 'canary.checkout',
  type: 'boolean',
  enabled: true,
  stages: [{ percent: 50, minDurationSec: 60 }],
  canary: { stage: 0, status: 'progressing', stageStartedAt: '2026-01-01T00:00:00.000Z' },
};
const plain: Flag = { key: 'feature.banner', type: 'string', enabled: true, value: 'hello' };

function snapshot(): Snapshot {
  const s: Snapshot = {
    schemaVersion: 1,
    environment: 'prod',
    revision: 1,
    checksum: '',
    generatedAt: '2026-01-01T00:00:00.000Z',
    metricsWindowMs: 60_000,
    flags: [canary, plain],
  };
  s.checksum = snapshotChecksum(s);
  return s;
}

/** The control plane's SDK routes, as far as this test needs them: one snapshot, metrics recorded. */
let cp: Server;
let cpUrl: string;
let batches: MetricsBatch[];
let client: FlagsClient;
let app: Server;
let appUrl: string;

beforeEach(async () => {
  batches = [];
  cp = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      if (req.url === '/api/sdk/v1/snapshot') {
        res.writeHead(200, { 'content-type': 'application/json', etag: '"1-x"' });
        res.end(JSON.stringify(snapshot()));
        return;
      }
      if (req.url === '/api/sdk/v1/metrics') batches.push(JSON.parse(body));
      res.writeHead(req.method === 'POST' ? 202 : 404, { 'content-type': 'application/json' });
      res.end('{"accepted":1,"duplicate":false}');
    });
  });
  await new Promise<void>((r) => cp.listen(0, '127.0.0.1', r));
  cpUrl = `http://127.0.0.1:${(cp.address() as AddressInfo).port}`;
  client = createClient({
    url: cpUrl,
    sdkKey: 'k',
    streaming: false,
    logger: silentLogger,
    metrics: { flushIntervalMs: 60_000, gauges: false },
  });
  expect(await client.ready({ timeoutMs: 5000 })).toBe('READY');

  const api = express.Router();
  api.get('/items/:id', async (req, res) => {
    const result = await req.evaluateFlag('canary.checkout');
    res.json({ result, banner: req.flags.value('feature.banner', 'none'), ctx: req.flags.context });
  });
  api.get('/slow', async (req, res) => {
    req.flags.isEnabled('canary.checkout');
    await new Promise((r) => setTimeout(r, 300));
    if (!res.writableEnded && !res.destroyed) res.json({ late: true });
  });
  api.get('/boom', (req) => {
    req.flags.isEnabled('canary.checkout');
    throw new Error('boom');
  });
  const server = express();
  server.use((req: Request, _res: Response, next: NextFunction) => {
    // An auth middleware after which req.user exists (the default context prefers it to headers).
    const auth = req.headers.authorization;
    if (auth) (req as Request & { user?: { id: string } }).user = { id: auth.replace('User ', '') };
    next();
  });
  // Registered before the middleware: its requests are never seen by it.
  server.get('/early', (req, res) => {
    try {
      res.json({ result: req.evaluateFlag('canary.checkout') });
    } catch (e) {
      res.json({ error: (e as Error).message });
    }
  });
  server.use(flagsMiddleware({ client, captureClientCalls: true }));
  server.get('/own', (req, res) => {
    // Nothing is added to the request; an assignment shadows the prototype's method on this request only.
    const own = Object.getOwnPropertyNames(req).filter((k) => k === 'evaluateFlag' || k === 'flags');
    const before = req.evaluateFlag('canary.checkout').reason;
    req.evaluateFlag = () => ({ mine: true }) as never;
    res.json({ own, before, after: req.evaluateFlag('canary.checkout') });
  });
  server.use('/api', api);
  server.get('/direct', (_req, res) => {
    // No req.* call: the evaluation through the client still counts for this request.
    res.json({ on: client.isEnabled('canary.checkout', { userId: 'direct-user' }) });
  });
  server.use((err: Error, _req: Request, res: Response, _next: NextFunction) => {
    res.status(500).json({ error: err.message });
  });
  app = server.listen(0, '127.0.0.1');
  await new Promise((r) => app.once('listening', r));
  appUrl = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
});

afterEach(async () => {
  await new Promise<void>((r) => app.close(() => r()));
  await client.close();
  await new Promise<void>((r) => cp.close(() => r()));
});

async function get(path: string, headers: Record<string, string> = {}) {
  const res = await fetch(appUrl + path, { headers });
  const json = res.headers.get('content-type')?.includes('json');
  return {
    status: res.status,
    body: (json ? await res.json() : { text: await res.text() }) as Record<string, unknown>,
  };
}

describe('flagsMiddleware', () => {
  it('evaluates with the request context (req.user.id, else x-user-id) and returns plain results', async () => {
    const a = await get('/api/items/1', { 'x-user-id': 'user-7', 'x-org-id': 'org-1' });
    expect(a.status).toBe(200);
    expect(a.body.ctx).toEqual({ userId: 'user-7', orgId: 'org-1' });
    const result = a.body.result as Record<string, unknown>;
    expect(result).toMatchObject({ key: 'canary.checkout', reason: 'CANARY', revision: 1 });
    expect(['treatment', 'control']).toContain(result.cohort);
    expect(result).toEqual(client.evaluate('canary.checkout', { userId: 'user-7', orgId: 'org-1' }));
    expect(a.body.banner).toBe('hello');
    const b = await get('/api/items/2', { 'x-user-id': 'header-user', authorization: 'User auth-user' });
    expect(b.body.ctx).toEqual({ userId: 'auth-user' });
  });

  it("req.evaluateFlag is a method of the app's requests: no property added, assignable, a clear error where unseen", async () => {
    const own = await get('/own', { 'x-user-id': 'u1' });
    expect(own.body).toEqual({ own: [], before: 'CANARY', after: { mine: true } });
    // The assignment stayed on that request.
    const again = await get('/api/items/1', { 'x-user-id': 'u1' });
    expect((again.body.result as Record<string, unknown>).reason).toBe('CANARY');
    const early = await get('/early', { 'x-user-id': 'u1' });
    expect(early.body.error).toMatch(
      /req\.evaluateFlag was called on a request the flags middleware has not seen/,
    );
  });

  it('records each request with its route pattern, status, latency and the cohorts it was served', async () => {
    const users = Array.from({ length: 40 }, (_, i) => `u${i}`);
    for (const u of users) await get(`/api/items/${u}`, { 'x-user-id': u });
    await get('/api/boom', { 'x-user-id': 'u1' });
    await get('/direct');
    await get('/nowhere'); // 404, nothing served: not recorded
    await client.close();
    const windows = batches.flatMap((b) => b.windows);
    const items = windows.filter((w) => w.endpoint === 'GET /api/items/:id');
    expect(items.reduce((a, w) => a + w.requests, 0)).toBe(40);
    const cohorts = new Set(items.map((w) => w.cohort));
    expect(cohorts).toEqual(new Set(['treatment', 'control']));
    // Each user's window matches the cohort core assigns to that user.
    const treatment = users.filter(
      (u) => client.evaluate('canary.checkout', { userId: u }).cohort === 'treatment',
    );
    // Summed over windows: the requests may straddle a window boundary (60-s windows, wall clock).
    const treated = items.filter((w) => w.cohort === 'treatment').reduce((a, w) => a + w.requests, 0);
    expect(treated).toBe(treatment.length);
    expect(items.every((w) => w.stage === 0 && w.flag === 'canary.checkout')).toBe(true);
    const boom = windows.filter((w) => w.endpoint === 'GET /api/boom');
    expect(boom.reduce((a, w) => a + w.errors, 0)).toBe(1);
    expect(boom[0]?.topErrors[0]).toMatchObject({ endpoint: 'GET /api/boom', status: 500, count: 1 });
    expect(windows.filter((w) => w.endpoint === 'GET /direct').reduce((a, w) => a + w.requests, 0)).toBe(1);
    expect(windows.some((w) => w.endpoint.includes('nowhere'))).toBe(false);
    for (const w of items) expect(w.latency.count).toBe(w.requests);
  });

  it('records a request the client aborted once, as aborted (latency counted, not an error)', async () => {
    const controller = new AbortController();
    const pending = fetch(`${appUrl}/api/slow`, {
      headers: { 'x-user-id': 'u-abort' },
      signal: controller.signal,
    }).catch((e: Error) => e);
    await new Promise((r) => setTimeout(r, 80));
    controller.abort();
    expect(await pending).toBeInstanceOf(Error);
    await new Promise((r) => setTimeout(r, 400)); // the handler wakes up and finds the socket gone
    await client.close();
    const slow = batches.flatMap((b) => b.windows).filter((w) => w.endpoint === 'GET /api/slow');
    expect(slow.reduce((a, w) => a + w.requests, 0)).toBe(1);
    expect(slow.reduce((a, w) => a + w.errors, 0)).toBe(0);
    expect(slow[0]?.latency.count).toBe(1);
  });
});
