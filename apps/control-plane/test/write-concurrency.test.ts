// Concurrent writes in one environment (regression: 4+ concurrent creates on Postgres failed with
// 500 "deadlock detected" on the environment row): creates of distinct flags and PUTs of one flag
// without If-Match all succeed, and the revisions and versions they report form unbroken chains.
import type { Flag } from '@rupaya/flags-core';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTransaction } from '../src/db/retry';
import { storageKinds } from '../src/index';
import { FLAGS, startTestServer, type TestServer } from './helpers';

type FlagView = { environment: string; flag: Flag; version: number; revisions: Record<string, number> };

const ENVS = ['dev', 'prod', 'staging'];

/** Consecutive integers after `start` (in any order)? */
function expectChain(values: number[], start: number): void {
  expect([...values].sort((a, b) => a - b)).toEqual(values.map((_, i) => start + i + 1));
}

describe.each(storageKinds)('concurrent writes on %s', (kind) => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer(kind);
  }, 60_000);
  afterAll(async () => {
    await s?.close();
  });

  async function revisions(): Promise<Record<string, number>> {
    const r = await s.call<{ environments: { key: string; revision: number }[] }>(
      'GET',
      '/api/admin/deployment/environments',
    );
    expect(r.status).toBe(200);
    return Object.fromEntries(r.body.environments.map((e) => [e.key, e.revision]));
  }

  it('20 concurrent creates of distinct flags all succeed; each environment gets 20 consecutive revisions', async () => {
    const before = await revisions();
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        s.call<FlagView>('POST', FLAGS, {
          body: { key: `concurrent.create-${i}`, type: 'boolean', enabled: true, rolloutPercentage: i },
        }),
      ),
    );
    expect(results.map((r) => [r.status, r.body.error?.message ?? null])).toEqual(
      results.map(() => [201, null]),
    );
    for (const env of ENVS)
      expectChain(
        results.map((r) => r.body.revisions[env]!),
        before[env]!,
      );
    const after = await revisions();
    for (const env of ENVS) expect(after[env]).toBe(before[env]! + 20);
    const list = await s.call<{ flags: Flag[] }>('GET', `${FLAGS}?environment=prod`);
    const keys = list.body.flags.map((f) => f.key).filter((k) => k.startsWith('concurrent.create-'));
    expect(keys).toHaveLength(20);
  }, 60_000);

  it('20 concurrent PUTs of one flag without If-Match all succeed with consecutive versions and revisions', async () => {
    const url = `${FLAGS}/feature.new-dashboard?environment=staging`;
    const cur = await s.call<FlagView>('GET', url);
    expect(cur.status).toBe(200);
    const before = await revisions();
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        s.call<FlagView>('PUT', url, { body: { rolloutPercentage: i + 1 } }),
      ),
    );
    expect(results.map((r) => [r.status, r.body.error?.message ?? null])).toEqual(
      results.map(() => [200, null]),
    );
    expectChain(
      results.map((r) => r.body.version),
      cur.body.version,
    );
    expectChain(
      results.map((r) => r.body.revisions.staging!),
      before.staging!,
    );
    // The last version written is the state stored.
    const last = results.reduce((a, b) => (b.body.version > a.body.version ? b : a));
    const final = await s.call<FlagView>('GET', url);
    expect(final.body.version).toBe(cur.body.version + 20);
    expect(final.body.flag.rolloutPercentage).toBe(last.body.flag.rolloutPercentage);
  }, 60_000);

  it('concurrent creates, PUTs in every environment and shared-field PUTs together all succeed', async () => {
    const before = await revisions();
    type Outcome = { status: number; error: string | null; revisions: Record<string, number> };
    const outcome = (r: { status: number; body: FlagView & { error?: { message: string } } }): Outcome => ({
      status: r.status,
      error: r.body.error?.message ?? null,
      revisions: r.body.revisions ?? {},
    });
    const writes: Promise<Outcome>[] = [];
    for (let i = 0; i < 6; i++) {
      writes.push(
        s
          .call<FlagView>('POST', FLAGS, {
            body: { key: `concurrent.mixed-${i}`, type: 'boolean', enabled: false },
          })
          .then(outcome),
      );
      for (const env of [...ENVS].reverse())
        writes.push(
          s
            .call<FlagView>('PUT', `${FLAGS}/concurrent.create-${i}?environment=${env}`, {
              // description is shared: it bumps every environment, starting with this one.
              body: i % 2 === 0 ? { description: `mixed ${i} from ${env}` } : { rolloutPercentage: 50 + i },
            })
            .then(outcome),
        );
    }
    const results = await Promise.all(writes);
    expect(results.filter((r) => r.error !== null || (r.status !== 200 && r.status !== 201))).toEqual([]);
    const after = await revisions();
    for (const env of ENVS) {
      const revs = results.flatMap((r) => (r.revisions[env] === undefined ? [] : [r.revisions[env]]));
      expectChain(revs, before[env]!);
      expect(after[env]).toBe(before[env]! + revs.length);
    }
  }, 60_000);

  it('a transaction that hits a real deadlock is run again and succeeds', async () => {
    const db = s.cp.db.db;
    let attempts = 0;
    let arrived = 0;
    // Both transactions lock one environment row, wait (bounded: PGlite runs them one after the other)
    // until the other holds its row too, then lock the other's row: Postgres aborts one with 40P01.
    const meet = async () => {
      arrived++;
      const end = Date.now() + 300;
      while (arrived < 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
    };
    const crossing = (first: string, second: string) =>
      writeTransaction(db, async (tx) => {
        attempts++;
        await tx.execute(sql`select 1 from environments where key = ${first} for update`);
        await meet();
        await tx.execute(sql`select 1 from environments where key = ${second} for update`);
        return `${first}→${second}`;
      });
    const results = await Promise.all([crossing('dev', 'prod'), crossing('prod', 'dev')]);
    expect(results).toEqual(['dev→prod', 'prod→dev']);
    expect(attempts).toBe(kind === 'postgres' ? 3 : 2);
  }, 30_000);
});
