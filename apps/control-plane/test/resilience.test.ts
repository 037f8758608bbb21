// Postgres-only behaviour: several replicas over one database push every revision through
// LISTEN/NOTIFY with byte-identical snapshots, and a database outage (connections terminated and
// refused) keeps snapshots and streams serving (X-Rupaya-Stale) while writes get 503, recovering
// without a restart.
import { randomBytes } from 'node:crypto';
import type { Snapshot } from '@rupaya/flags-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningControlPlane, startControlPlane, withAdminConnection } from '../src/index';
import { clientFor, expectError, FLAGS, openSse, rawGet, startTestServer, type TestServer } from './helpers';

const ADMIN = `rpy_admin_${randomBytes(16).toString('hex')}`;

async function until<T>(fn: () => Promise<T | undefined>, timeoutMs = 10_000, stepMs = 100): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

describe('two replicas on one Postgres', () => {
  let a: TestServer;
  let b: RunningControlPlane;
  beforeAll(async () => {
    a = await startTestServer('postgres', { ADMIN_API_TOKEN: ADMIN });
    // A long probe interval on B: what reaches it quickly came through NOTIFY.
    b = await startControlPlane({
      databaseUrl: a.database.databaseUrl,
      env: { ADMIN_API_TOKEN: ADMIN, DB_PROBE_INTERVAL_MS: '60000' },
    });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  it('a write on one replica is pushed by the other, with byte-identical snapshots', async () => {
    const key = await a.sdkKey('prod');
    const sse = await openSse(`${b.url}/api/sdk/v1/stream`, { authorization: `Bearer ${key}` });
    try {
      const first = await sse.waitFor((e) => e.event === 'snapshot');
      const put = await a.call<{ revisions: Record<string, number> }>(
        'PUT',
        `${FLAGS}/feature.new-dashboard?environment=prod`,
        {
          body: { rolloutPercentage: 12.5 },
        },
      );
      expect(put.status).toBe(200);
      const rev = put.body.revisions.prod!;
      expect(rev).toBe(Number(first.id) + 1);
      const pushed = await sse.waitFor((e) => e.event === 'snapshot' && e.id === String(rev), 5000);
      expect(
        (JSON.parse(pushed.data!) as Snapshot).flags.find((f) => f.key === 'feature.new-dashboard')
          ?.rolloutPercentage,
      ).toBe(12.5);
      const fromA = await rawGet(`${a.cp.url}/api/sdk/v1/snapshot`, { authorization: `Bearer ${key}` });
      const fromB = await rawGet(`${b.url}/api/sdk/v1/snapshot`, { authorization: `Bearer ${key}` });
      expect(fromA.headers.etag).toBe(fromB.headers.etag);
      expect(fromA.body.equals(fromB.body)).toBe(true);
      // Writes through B reach A as well.
      const viaB = clientFor(b.url, ADMIN);
      const put2 = await viaB(
        'POST',
        `${FLAGS}/canary.new-payment-processor/advance-canary?environment=prod`,
      );
      expect(put2.status).toBe(200);
      await until(
        async () => (a.cp.app.snapshots.get('prod')!.revision === rev + 1 ? true : undefined),
        5000,
        20,
      );
    } finally {
      sse.close();
    }
  });
});

describe('database outage on Postgres', () => {
  let s: TestServer;
  let key: string;
  const block = (name: string) =>
    withAdminConnection(async (sql) => {
      await sql.unsafe(`alter database ${name} with allow_connections false`);
      await sql`select pg_terminate_backend(pid) from pg_stat_activity where datname = ${name} and pid <> pg_backend_pid()`;
    });
  const unblock = (name: string) =>
    withAdminConnection((sql) => sql.unsafe(`alter database ${name} with allow_connections true`));

  beforeAll(async () => {
    // With the canary scheduler running (ticking every 250 ms, so during the outage too): its leader-lock
    // connection dies with the others and must neither crash the process nor hold up recovery or close.
    s = await startTestServer('postgres', {
      DB_PROBE_INTERVAL_MS: '100',
      DB_CONNECT_TIMEOUT_MS: '1000',
      SCHEDULER_ENABLED: 'true',
      METRICS_AGGREGATION_INTERVAL: '250',
    });
    key = await s.sdkKey('dev');
  });
  afterAll(async () => {
    if (s?.database.name) await unblock(s.database.name).catch(() => {});
    await s?.close();
  });

  it('keeps serving the last snapshot (stale) and refuses writes with 503, then recovers', async () => {
    const name = s.database.name!;
    const auth = { authorization: `Bearer ${key}` };
    const before = await rawGet(`${s.cp.url}/api/sdk/v1/snapshot`, auth);
    expect(before.status).toBe(200);
    const sse = await openSse(`${s.cp.url}/api/sdk/v1/stream`, auth);
    await sse.waitFor((e) => e.event === 'snapshot');
    await block(name);
    try {
      const write = await s.call('PUT', `${FLAGS}/feature.ai-budgeting?environment=dev`, {
        body: { rolloutPercentage: 42 },
      });
      expectError(write, 503, 'STORAGE_UNAVAILABLE');
      expect(write.headers.get('retry-after')).toBe('1');
      const health = await until(async () => {
        const h = await s.call<{ status: string; database: string }>('GET', '/health', { token: null });
        return h.body.status === 'DEGRADED' ? h : undefined;
      });
      expect(health.body.database).toBe('unavailable');
      const stale = await rawGet(`${s.cp.url}/api/sdk/v1/snapshot`, auth);
      expect(stale.status).toBe(200);
      expect(stale.headers['x-rupaya-stale']).toBe('true');
      expect(stale.body.equals(before.body)).toBe(true);
      const notModified = await rawGet(`${s.cp.url}/api/sdk/v1/snapshot`, {
        ...auth,
        'if-none-match': before.headers.etag!,
      });
      expect(notModified.status).toBe(304);
      const streamDuringOutage = await openSse(`${s.cp.url}/api/sdk/v1/stream`, auth);
      expect(streamDuringOutage.headers['x-rupaya-stale']).toBe('true');
      await streamDuringOutage.waitFor((e) => e.event === 'snapshot');
      streamDuringOutage.close();
      // Nothing was half-written: the refused write is not there after recovery.
    } finally {
      await unblock(name);
    }
    const recovered = await until(async () => {
      const r = await s.call<{ version: number; revisions: Record<string, number> }>(
        'PUT',
        `${FLAGS}/feature.ai-budgeting?environment=dev`,
        { body: { rolloutPercentage: 43 } },
      );
      return r.status === 200 ? r : undefined;
    });
    const rev = recovered.body.revisions.dev!;
    const audit = await s.call<{ entries: { after: { rolloutPercentage?: number } }[] }>(
      'GET',
      `${FLAGS}/feature.ai-budgeting/audit?environment=dev`,
    );
    expect(audit.body.entries.map((e) => e.after.rolloutPercentage)).toEqual([43, 100]);
    const pushed = await sse.waitFor((e) => e.event === 'snapshot' && e.id === String(rev), 5000);
    expect(pushed.id).toBe(String(rev));
    sse.close();
    const fresh = await until(async () => {
      const r = await rawGet(`${s.cp.url}/api/sdk/v1/snapshot`, auth);
      return r.headers['x-rupaya-stale'] === undefined ? r : undefined;
    });
    expect((JSON.parse(fresh.body.toString()) as Snapshot).revision).toBe(rev);
    const health = await s.call<{ status: string }>('GET', '/health', { token: null });
    expect(health.body.status).toBe('OK');
  });
});
