// The Node SDK against a real control plane (PGlite in memory): propagation over SSE and polling,
// and snapshots a client must refuse, produced from real control-plane responses by a tampering
// proxy (bad checksum, an older revision replayed, another environment's snapshot).
import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { createTestDatabase } from '@rupaya/control-plane';
import { createClient, type FlagsClient } from '@rupaya/flags-node';
import { randomBytes } from 'node:crypto';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminApi, PLANE_TIMEOUT_MS, type Plane, removeDir, startPlane, waitFor } from './plane';

let plane: Plane;
let admin: AdminApi;
let prodKey: string;
let stagingKey: string;
const clients: FlagsClient[] = [];

function logger() {
  const lines: string[] = [];
  const push = (m: string) => lines.push(m);
  return { lines, debug() {}, info() {}, warn: push, error: push };
}

function client(options: Partial<Parameters<typeof createClient>[0]> & { url?: string } = {}) {
  const log = logger();
  const c = createClient({
    url: plane.url,
    sdkKey: prodKey,
    logger: log,
    metrics: { enabled: false },
    backoff: { initialMs: 50, maxMs: 500 },
    ...options,
  });
  clients.push(c);
  return { c, log };
}

beforeAll(async () => {
  plane = await startPlane({ memory: true });
  admin = new AdminApi(plane.url);
  await admin.createFlag({ key: 'e2e.sync-flag', type: 'boolean', enabled: false, description: 'sync test' });
  prodKey = await admin.sdkKey('prod');
  stagingKey = await admin.sdkKey('staging');
}, PLANE_TIMEOUT_MS);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await plane?.close();
});

describe('propagation', () => {
  it('an SSE client sees a change pushed, and a polling-only client within its interval', async () => {
    const streaming = client({ pollIntervalMs: 60_000 }).c;
    const polling = client({ streaming: false, pollIntervalMs: 300 }).c;
    expect(await streaming.ready({ timeoutMs: 10_000 })).toBe('READY');
    expect(await polling.ready({ timeoutMs: 10_000 })).toBe('READY');
    expect(streaming.isEnabled('e2e.sync-flag', { userId: 'u1' })).toBe(false);
    expect(polling.isEnabled('e2e.sync-flag', { userId: 'u1' })).toBe(false);

    const seen: { via: string; ms: number }[] = [];
    const t0 = Date.now();
    streaming.once('change', () => seen.push({ via: 'sse', ms: Date.now() - t0 }));
    polling.once('change', () => seen.push({ via: 'poll', ms: Date.now() - t0 }));
    await admin.updateFlag('e2e.sync-flag', { enabled: true, reason: 'e2e propagation' }, 'prod');
    await waitFor(() => streaming.isEnabled('e2e.sync-flag', { userId: 'u1' }), 10_000, 'SSE client flips');
    await waitFor(() => polling.isEnabled('e2e.sync-flag', { userId: 'u1' }), 10_000, 'polling client flips');
    const poll = seen.find((s) => s.via === 'poll')!;
    // Within one interval plus the request itself (generous for a loaded CI machine).
    expect(poll.ms).toBeLessThan(300 + 3000);
    expect(streaming.revision).toBe(polling.revision);
    expect(streaming.snapshot?.environment).toBe('prod');
  });
});

describe('a service restarted from its cache file', () => {
  it('sends the cached snapshot’s ETag and gets a 304 when nothing changed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rupaya-etag-'));
    const cacheFile = join(dir, 'flags.json');
    try {
      const first = client({ cacheFile, streaming: false, pollIntervalMs: 60_000 }).c;
      expect(await first.ready({ timeoutMs: 10_000 })).toBe('READY');
      await first.close();
      // A proxy that forwards If-None-Match and notes what the control plane answered.
      const seen: { ifNoneMatch: string | undefined; status: number }[] = [];
      const proxy = createServer(async (req, res) => {
        const headers: Record<string, string> = { authorization: req.headers.authorization ?? '' };
        const inm = req.headers['if-none-match'];
        if (typeof inm === 'string') headers['if-none-match'] = inm;
        const up = await request(plane.url + req.url, { headers });
        const body = Buffer.from(await up.body.arrayBuffer());
        seen.push({ ifNoneMatch: inm as string | undefined, status: up.statusCode });
        const etag = up.headers.etag;
        res.writeHead(up.statusCode, {
          ...(typeof etag === 'string' ? { etag } : {}),
          ...(up.statusCode === 200 ? { 'content-type': 'application/json' } : {}),
        });
        res.end(body);
      });
      await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
      try {
        const url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
        const restarted = client({ url, cacheFile, streaming: false, pollIntervalMs: 60_000 }).c;
        expect(restarted.state).toBe('STALE'); // the cache file, before any answer
        expect(await restarted.ready({ timeoutMs: 10_000 })).toBe('READY');
        const served = await request(`${plane.url}/api/sdk/v1/snapshot`, {
          headers: { authorization: `Bearer ${prodKey}` },
        });
        await served.body.text();
        expect(seen).toEqual([{ ifNoneMatch: served.headers.etag, status: 304 }]);
        expect(restarted.revision).toBe(Number(served.headers['x-rupaya-revision']));
      } finally {
        await new Promise<void>((r) => proxy.close(() => r()));
      }
    } finally {
      removeDir(dir);
    }
  });
});

describe('a refused SDK key', () => {
  it('ready() answers at once instead of waiting out its timeout, for an unknown and for a revoked key', async () => {
    const revoked = await admin.ok<{ id: string; key: string }>('POST', '/api/admin/deployment/sdk-keys', {
      environment: 'prod',
    });
    await admin.ok('DELETE', `/api/admin/deployment/sdk-keys/${revoked.id}`);
    for (const [what, sdkKey] of [
      ['unknown', `rpy_sdk_${randomBytes(32).toString('base64url')}`],
      ['revoked', revoked.key],
    ] as const) {
      for (const streaming of [true, false]) {
        const { c, log } = client({ sdkKey, streaming });
        const errors: unknown[] = [];
        c.on('error', (err) => errors.push(err));
        const t0 = Date.now();
        expect(await c.ready({ timeoutMs: 8_000 }), `${what} key, streaming ${streaming}`).toBe('NOT_READY');
        // The first refusal answers (a loaded machine still answers in well under the timeout).
        expect(Date.now() - t0, `${what} key, streaming ${streaming}`).toBeLessThan(4_000);
        expect(errors.map((e) => (e as { statusCode?: number }).statusCode)).toContain(401);
        expect(log.lines.some((l) => l.includes('refused the SDK key (401)'))).toBe(true);
        // Asked again, it answers at once; evaluations give the caller's fallback.
        const t1 = Date.now();
        expect(await c.ready({ timeoutMs: 8_000 })).toBe('NOT_READY');
        expect(Date.now() - t1).toBeLessThan(100);
        expect(c.evaluate('e2e.sync-flag', { userId: 'u1' }).reason).toBe('NOT_READY');
      }
    }
  });
});

describe('propagation on Postgres (LISTEN/NOTIFY → SSE)', () => {
  it(
    'an SSE client of a Postgres-backed control plane sees a change pushed',
    async () => {
      const database = await createTestDatabase('postgres');
      const pg = await startPlane({ databaseUrl: database.databaseUrl });
      try {
        const pgAdmin = new AdminApi(pg.url);
        await pgAdmin.createFlag({ key: 'e2e.pg-flag', type: 'boolean', enabled: false });
        const key = await pgAdmin.sdkKey('prod');
        const { c } = client({ url: pg.url, sdkKey: key, pollIntervalMs: 60_000 });
        expect(await c.ready({ timeoutMs: 10_000 })).toBe('READY');
        expect(c.isEnabled('e2e.pg-flag', { userId: 'u1' })).toBe(false);
        await pgAdmin.updateFlag('e2e.pg-flag', { enabled: true, reason: 'e2e on postgres' }, 'prod');
        await waitFor(() => c.isEnabled('e2e.pg-flag', { userId: 'u1' }), 10_000, 'SSE client flips');
        await c.close();
      } finally {
        await pg.close();
        await database.drop();
      }
    },
    PLANE_TIMEOUT_MS,
  );
});

/**
 * A proxy in front of the control plane. Mode `tamper` rewrites the snapshot body (value changed,
 * checksum kept); `replay` answers with a stored older body; `foreign` answers with another
 * environment's snapshot. Streams pass through untouched unless tampering is on.
 */
class TamperingProxy {
  server: Server;
  mode: 'pass' | 'tamper' | 'replay' | 'foreign' = 'pass';
  replayBody = '';
  foreignBody = '';
  url = '';

  constructor(private readonly upstream: string) {
    this.server = createServer(async (req, res) => {
      if (req.url !== '/api/sdk/v1/snapshot') {
        res.writeHead(404);
        res.end();
        return;
      }
      const up = await request(this.upstream + req.url, {
        headers: { authorization: req.headers.authorization ?? '' },
      });
      const body = await up.body.text();
      let out = body;
      if (this.mode === 'tamper') {
        const snap = JSON.parse(body);
        for (const f of snap.flags) if (f.key === 'e2e.sync-flag') f.enabled = !f.enabled;
        snap.revision += 1000; // newer, so only the checksum can catch it
        out = JSON.stringify(snap);
      } else if (this.mode === 'replay') out = this.replayBody;
      else if (this.mode === 'foreign') out = this.foreignBody;
      res.writeHead(200, { 'content-type': 'application/json', etag: `"proxy-${Date.now()}"` });
      res.end(out);
    });
  }

  async listen() {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  close() {
    return new Promise<void>((r) => this.server.close(() => r()));
  }
}

async function fetchSnapshotText(key: string): Promise<string> {
  const res = await request(`${plane.url}/api/sdk/v1/snapshot`, {
    headers: { authorization: `Bearer ${key}` },
  });
  return res.body.text();
}

describe('rejected snapshots', () => {
  it('keeps the last good snapshot when the checksum is wrong, the revision older or the environment another', async () => {
    const proxy = new TamperingProxy(plane.url);
    await proxy.listen();
    try {
      const old = await fetchSnapshotText(prodKey);
      await admin.updateFlag('e2e.sync-flag', { description: 'bump revision', reason: 'e2e' }, 'prod');
      const { c, log } = client({ url: proxy.url, streaming: false, pollIntervalMs: 100 });
      expect(await c.ready({ timeoutMs: 10_000 })).toBe('READY');
      const good = c.revision!;
      const value = c.isEnabled('e2e.sync-flag', { userId: 'u1' });
      expect(JSON.parse(old).revision).toBeLessThan(good);

      const rejectedWith = async (mode: TamperingProxy['mode'], reason: string) => {
        const before = log.lines.length;
        proxy.mode = mode;
        await waitFor(() => log.lines.slice(before).some((l) => l.includes(reason)), 10_000, reason);
        expect(c.revision).toBe(good);
        expect(c.isEnabled('e2e.sync-flag', { userId: 'u1' })).toBe(value);
      };
      await rejectedWith('tamper', 'BAD_CHECKSUM');
      proxy.replayBody = old;
      await rejectedWith('replay', 'NOT_NEWER');
      // Staging's real snapshot: valid and correctly signed, but for another environment.
      proxy.foreignBody = await fetchSnapshotText(stagingKey);
      expect(JSON.parse(proxy.foreignBody).environment).toBe('staging');
      await rejectedWith('foreign', 'WRONG_ENVIRONMENT');
      proxy.mode = 'pass';
      expect(c.state).toBe('READY');
    } finally {
      await proxy.close();
    }
  });
});
