// Scheduler leadership across real OS processes: two `rupaya-control-plane` processes (the built
// binary) on one Postgres database. The leader is killed with SIGKILL — no shutdown hook, no unlock —
// and the follower must take the advisory lock (Postgres frees it when the dead process's connection
// drops) and act on a failing canary, once. Postgres only: PGlite is a single process by design.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { alignWindow } from '@rupaya/flags-core';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../src/db/client';
import { canaryDeploymentLogs, rollbackDecisions } from '../src/db/schema/index';
import { createTestDatabase, type TestDatabase } from '../src/index';
import { batch, canaryAction, cohortSeries, createCanary, getFlagJson } from './canary-support';
import { clientFor, type TestServer } from './helpers';

const main = resolve(import.meta.dirname, '../dist/main.js');
const built = existsSync(main);
if (!built)
  console.warn(`${main} is missing: run \`npx --yes pnpm@12.4.2 build\`; the process test is skipped`);

const W = 200;
const ADMIN = `rpy_admin_${'leader'.repeat(6)}`;

interface Replica {
  child: ChildProcess;
  url: string;
  /** Instance ids this process logged as "scheduler: leader". */
  leaderAs: string[];
  exited: Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => done(port));
    });
  });
}

async function until(
  pred: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 30_000,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function startReplica(databaseUrl: string, dataDir: string): Promise<Replica> {
  const port = await freePort();
  const child = spawn(process.execPath, [main], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DATABASE_URL: databaseUrl,
      RUPAYA_DATA_DIR: dataDir,
      ADMIN_API_TOKEN: ADMIN,
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: 'info',
      METRICS_AGGREGATION_INTERVAL: String(W),
      DB_PROBE_INTERVAL_MS: '200',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const replica: Replica = {
    child,
    url: `http://127.0.0.1:${port}`,
    leaderAs: [],
    exited: new Promise((r) => child.once('exit', () => r())),
  };
  let buffered = '';
  child.stdout!.on('data', (d: Buffer) => {
    buffered += d.toString('utf8');
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.startsWith('{')) continue;
      try {
        const entry = JSON.parse(line) as { msg?: string; instance?: string };
        if (entry.msg === 'scheduler: leader' && entry.instance) replica.leaderAs.push(entry.instance);
      } catch {
        // not a log line
      }
    }
  });
  child.stderr!.resume();
  await until(async () => {
    try {
      return (await fetch(`${replica.url}/health`)).status === 200;
    } catch {
      return false;
    }
  }, `replica on port ${port}`);
  return replica;
}

describe.skipIf(!built)('scheduler leadership across OS processes (postgres)', { timeout: 120_000 }, () => {
  let database: TestDatabase;
  let db: Awaited<ReturnType<typeof openDatabase>>;
  const dataDir = mkdtempSync(join(tmpdir(), 'rupaya-leaders-'));
  const replicas: Replica[] = [];
  let sdk: string;
  const api = (r: Replica) => ({ call: clientFor(r.url, ADMIN) }) as unknown as TestServer;

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    // One after the other, so the migrations and the seed are not raced (they are locked anyway).
    replicas.push(await startReplica(database.databaseUrl!, dataDir));
    replicas.push(await startReplica(database.databaseUrl!, dataDir));
    db = await openDatabase({ databaseUrl: database.databaseUrl });
    const key = await api(replicas[0]!).call<{ key: string }>('POST', '/api/admin/deployment/sdk-keys', {
      body: { environment: 'dev' },
    });
    sdk = key.body.key;
  }, 120_000);

  afterAll(async () => {
    for (const r of replicas) {
      if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGTERM');
      await r.exited;
    }
    await db?.close();
    await database?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function failingCanary(key: string, create: Replica, via: Replica) {
    await createCanary(api(create), key);
    const c = await canaryAction(api(create), key, 'resume');
    const from = alignWindow(Date.parse(c.stageStartedAt), W) + W;
    await new Promise((r) => setTimeout(r, Math.max(0, from + 2 * W - Date.now() + 10)));
    const body = batch(
      cohortSeries(key, from, from + 2 * W, W, { requests: 100, errors: 30 }, { requests: 100 }, 0),
    );
    const res = await fetch(`${via.url}/api/sdk/v1/metrics`, {
      method: 'POST',
      headers: { authorization: `Bearer ${sdk}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(res.status).toBe(202);
  }

  const applied = async (key: string) =>
    (await db.db.select().from(rollbackDecisions).where(eq(rollbackDecisions.flagKey, key)))
      .filter((d) => d.applied)
      .map((d) => d.leader);
  const rollbacks = async (key: string) =>
    (await db.db.select().from(canaryDeploymentLogs).where(eq(canaryDeploymentLogs.flagKey, key))).filter(
      (l) => l.action === 'rollback',
    );

  it('one process leads; after SIGKILL the other takes over and rolls back a failing canary once', async () => {
    await until(() => replicas.filter((r) => r.leaderAs.length > 0).length === 1, 'one leader');
    const leader = replicas.find((r) => r.leaderAs.length > 0)!;
    const follower = replicas.find((r) => r !== leader)!;
    const leaderId = leader.leaderAs[0]!;

    // Metrics reach the follower; the leader acts on them.
    await failingCanary('canary.proc-1', follower, follower);
    await until(
      async () => (await getFlagJson(api(follower), 'canary.proc-1')).canary?.status === 'rolled_back',
      'first rollback',
    );
    expect(await applied('canary.proc-1')).toEqual([leaderId]);

    leader.child.kill('SIGKILL');
    await leader.exited;
    await until(() => follower.leaderAs.length > 0, 'the follower to take the lock');
    const followerId = follower.leaderAs[0]!;
    expect(followerId).not.toBe(leaderId);

    await failingCanary('canary.proc-2', follower, follower);
    await until(
      async () => (await getFlagJson(api(follower), 'canary.proc-2')).canary?.status === 'rolled_back',
      'second rollback',
    );
    await new Promise((r) => setTimeout(r, 3 * W));
    expect(await applied('canary.proc-2')).toEqual([followerId]);
    expect(await rollbacks('canary.proc-2')).toHaveLength(1);
    expect(await rollbacks('canary.proc-1')).toHaveLength(1);
  });
});
