// The per-write snapshot rebuild splices cached per-flag canonical JSON instead of re-reading and
// re-serialising every flag: the stored flags text, the checksum and the served bytes must stay exactly
// what the full rebuild (canonicalJson of every flag as toFlag reads it) gives, write after write.
import { canonicalJson, type Flag, SCHEMA_VERSION } from '@rupaya/flags-core';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { snapshotRevisions } from '../src/db/schema/index';
import { storageKinds } from '../src/index';
import { listFlags } from '../src/services/flags';
import { canonicalWithFlags, checksumOf } from '../src/services/snapshots';
import { FLAGS, startTestServer, type TestServer } from './helpers';

describe.each(storageKinds)('snapshot rebuild per write on %s', (kind) => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer(kind, { SCHEDULER_ENABLED: 'false' });
  }, 60_000);
  afterAll(async () => {
    await s?.close();
  });

  /** The revision as stored and served equals the full rebuild from the flags as they are now. */
  async function expectFullRebuild(environment: string): Promise<void> {
    const db = s.cp.db.db;
    const flags: Flag[] = (await listFlags(db, environment)).map((f) => f.flag);
    const built = s.cp.app.snapshots.get(environment)!;
    const [row] = await db
      .select()
      .from(snapshotRevisions)
      .where(
        and(eq(snapshotRevisions.environment, environment), eq(snapshotRevisions.revision, built.revision)),
      );
    expect(row!.flagsJson).toBe(canonicalJson(flags));
    expect(row!.checksum).toBe(checksumOf(environment, built.revision, flags));
    const config = s.cp.config;
    const full = canonicalJson({
      schemaVersion: SCHEMA_VERSION,
      environment,
      revision: built.revision,
      checksum: built.checksum,
      generatedAt: built.generatedAt,
      cacheTtlSec: config.cacheTtlSec,
      metricsWindowMs: config.metricsAggregationIntervalMs,
      metricsFlushMs: config.metricsFlushMs,
      flags,
    });
    expect(built.identity.toString('utf8')).toBe(full);
    expect(built.flagCount).toBe(flags.length);
  }

  it('splices canonical JSON into an object exactly where canonicalJson would write it', () => {
    const flags = [
      { key: 'a"\u2028é', version: 2, tags: ['x'] },
      { key: 'b', value: 1e21 },
    ];
    const fields = { zeta: 1, alpha: 'β', revision: 3, environment: 'dev' };
    expect(canonicalWithFlags(fields, canonicalJson(flags))).toBe(canonicalJson({ ...fields, flags }));
    expect(canonicalWithFlags({}, '[]')).toBe(canonicalJson({ flags: [] }));
  });

  it('creates, updates (shared and per-environment fields, removals) and archives keep the bytes of a full rebuild', async () => {
    for (let i = 0; i < 5; i++) {
      const r = await s.call('POST', FLAGS, {
        body: {
          key: `cost.flag-${i}`,
          type: 'boolean',
          enabled: i % 2 === 0,
          rolloutPercentage: 10 * i,
          description: `déjà vu “${i}” \u2028`,
          tags: ['cost', `t${i}`],
        },
      });
      expect(r.status).toBe(201);
    }
    for (const env of ['dev', 'staging', 'prod']) await expectFullRebuild(env);
    const steps: [string, Record<string, unknown>][] = [
      ['PUT', { rolloutPercentage: 55.5 }],
      ['PUT', { description: 'shared change' }],
      ['PUT', { tags: null }],
      ['PUT', { description: null, enabled: false }],
    ];
    for (const [method, body] of steps) {
      const r = await s.call(method, `${FLAGS}/cost.flag-2?environment=staging`, { body });
      expect(r.status).toBe(200);
      for (const env of ['dev', 'staging', 'prod']) await expectFullRebuild(env);
    }
    const archived = await s.call('DELETE', `${FLAGS}/cost.flag-3`);
    expect(archived.status).toBeLessThan(300);
    for (const env of ['dev', 'staging', 'prod']) await expectFullRebuild(env);
    const env = await s.call('POST', '/api/admin/deployment/environments', {
      body: { key: 'cost-copy', copyFrom: 'staging' },
    });
    expect(env.status).toBe(201);
    await s.cp.app.snapshots.refresh('cost-copy');
    await expectFullRebuild('cost-copy');
  }, 60_000);
});
