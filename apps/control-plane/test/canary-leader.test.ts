// Scheduler leadership: two replicas on one Postgres elect one leader with pg_try_advisory_lock; the
// follower takes over when the leader goes away or loses its lock connection; no transition is
// applied twice. (On PGlite the single process leads: asserted in canary-webhooks.test.ts.)
import { alignWindow } from '@rupaya/flags-core';
import { eq } from 'drizzle-orm';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canaryDeploymentLogs, rollbackDecisions } from '../src/db/schema/index';
import { type RunningControlPlane, startControlPlane } from '../src/index';
import { SCHEDULER_LOCK } from '../src/services/canary-scheduler';
import { batch, canaryAction, cohortSeries, createCanary, getFlagJson } from './canary-support';
import { startTestServer, type TestServer } from './helpers';

const W = 200;
const env = { METRICS_AGGREGATION_INTERVAL: String(W), DB_PROBE_INTERVAL_MS: '200', WEBHOOK_POLL_MS: '100' };

async function until(pred: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('scheduler leader election on postgres', () => {
  let a: TestServer;
  let b: RunningControlPlane;
  let sdk: string;

  beforeAll(async () => {
    a = await startTestServer('postgres', env);
    b = await startControlPlane({ databaseUrl: a.database.databaseUrl, env });
    sdk = await a.sdkKey('dev');
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  /** A canary whose treatment fails, reported through replica `via`'s ingest endpoint. */
  async function failingCanary(key: string, via: string) {
    await createCanary(a, key);
    const c = await canaryAction(a, key, 'resume');
    const from = alignWindow(Date.parse(c.stageStartedAt), W) + W;
    // Wait until those windows are complete in real time, then report them.
    await new Promise((r) => setTimeout(r, Math.max(0, from + 2 * W - Date.now() + 10)));
    const body = batch(
      cohortSeries(key, from, from + 2 * W, W, { requests: 100, errors: 30 }, { requests: 100 }, 0),
    );
    const res = await fetch(`${via}/api/sdk/v1/metrics`, {
      method: 'POST',
      headers: { authorization: `Bearer ${sdk}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(res.status).toBe(202);
  }

  const rollbacks = async (key: string) =>
    (
      await a.cp.db.db.select().from(canaryDeploymentLogs).where(eq(canaryDeploymentLogs.flagKey, key))
    ).filter((l) => l.action === 'rollback');

  it('elects exactly one leader; metrics ingested by the follower are acted on by the leader', async () => {
    expect([a.cp.app.canaryScheduler.isLeader, b.app.canaryScheduler.isLeader]).toEqual([true, false]);
    await failingCanary('canary.leader-1', b.url);
    await until(async () => (await getFlagJson(a, 'canary.leader-1')).canary?.status === 'rolled_back');
    const decided = await a.cp.db.db
      .select()
      .from(rollbackDecisions)
      .where(eq(rollbackDecisions.flagKey, 'canary.leader-1'));
    expect(new Set(decided.map((d) => d.leader))).toEqual(new Set([a.cp.app.canaryScheduler.instanceId]));
    // Several runs (ingest + timer) saw the failing windows: one rollback only.
    await new Promise((r) => setTimeout(r, 3 * W));
    expect(await rollbacks('canary.leader-1')).toHaveLength(1);
  });

  it('a lost lock connection hands leadership over; never two leaders', async () => {
    const sql = postgres(a.database.databaseUrl!, { max: 1, onnotice: () => {} });
    try {
      const holders = await sql<{ pid: number }[]>`
        select pid from pg_locks where locktype = 'advisory' and objid = ${SCHEDULER_LOCK} and granted
          and database = (select oid from pg_database where datname = current_database())`;
      expect(holders).toHaveLength(1);
      await sql`select pg_terminate_backend(${holders[0]!.pid})`;
    } finally {
      await sql.end({ timeout: 2 });
    }
    await until(
      () => [a.cp.app.canaryScheduler.isLeader, b.app.canaryScheduler.isLeader].filter(Boolean).length === 1,
    );
    await new Promise((r) => setTimeout(r, 4 * W));
    expect([a.cp.app.canaryScheduler.isLeader, b.app.canaryScheduler.isLeader].filter(Boolean)).toHaveLength(
      1,
    );
  });

  it('when the leader stops, the follower takes over and acts without a double transition', async () => {
    const [leader, follower] = a.cp.app.canaryScheduler.isLeader ? [a.cp, b] : [b, a.cp];
    const followerId = follower.app.canaryScheduler.instanceId;
    await leader.app.canaryScheduler.stop();
    await until(() => follower.app.canaryScheduler.isLeader);
    await failingCanary('canary.leader-2', follower.url);
    await until(async () => (await getFlagJson(a, 'canary.leader-2')).canary?.status === 'rolled_back');
    await new Promise((r) => setTimeout(r, 3 * W));
    expect(await rollbacks('canary.leader-2')).toHaveLength(1);
    const decided = await a.cp.db.db
      .select()
      .from(rollbackDecisions)
      .where(eq(rollbackDecisions.flagKey, 'canary.leader-2'));
    expect(decided.filter((d) => d.applied).map((d) => d.leader)).toEqual([followerId]);
  });
});
