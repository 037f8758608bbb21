// Admin API for flags over real HTTP on PGlite and Postgres: seed, list/get/put/post/delete/audit,
// environments, validation errors naming the field, If-Match, and 50 concurrent writes.
import type { Flag } from '@rupaya/flags-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDefaultFlags, storageKinds } from '../src/index';
import { expectError, FLAGS, startTestServer, type TestServer } from './helpers';

type FlagView = { environment: string; flag: Flag; version: number; revisions?: Record<string, number> };

describe.each(storageKinds)('flags admin API on %s', (kind) => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer(kind);
  });
  afterAll(async () => {
    await s?.close();
  });

  it('seeds the 9 default flags per environment, canaries paused at stage 0', async () => {
    const pct: Record<string, number[]> = {
      'feature.new-dashboard': [100, 50, 0],
      'feature.advanced-analytics': [100, 25, 0],
      'feature.ai-budgeting': [100, 0, 0],
      'feature.offline-sync': [100, 0, 0],
    };
    for (const [i, env] of ['dev', 'staging', 'prod'].entries()) {
      const r = await s.call<{ environment: string; flags: Flag[] }>('GET', `${FLAGS}?environment=${env}`);
      expect(r.status).toBe(200);
      expect(r.body.environment).toBe(env);
      expect(r.body.flags.map((f) => f.key)).toEqual([
        'canary.new-notification-service',
        'canary.new-payment-processor',
        'experiment.checkout-redesign',
        'experiment.new-onboarding-flow',
        'feature.advanced-analytics',
        'feature.ai-budgeting',
        'feature.new-dashboard',
        'feature.offline-sync',
        'rollback.error-rate-threshold',
      ]);
      const byKey = new Map(r.body.flags.map((f) => [f.key, f]));
      for (const [key, values] of Object.entries(pct))
        expect(byKey.get(key)?.rolloutPercentage).toBe(values[i]);
      const pay = byKey.get('canary.new-payment-processor')!;
      expect(pay.stages?.map((x) => x.percent)).toEqual([1, 10, 25, 50, 100]);
      expect(pay.stages?.map((x) => x.minDurationSec)).toEqual([1800, 1800, 3600, 3600, 0]);
      expect(pay.canary).toEqual({ stage: 0, status: 'paused', stageStartedAt: null });
      expect(byKey.get('canary.new-notification-service')?.stages?.map((x) => x.percent)).toEqual([
        5, 25, 100,
      ]);
      expect(byKey.get('experiment.checkout-redesign')?.variants?.map((v) => [v.key, v.weight])).toEqual([
        ['control', 50000],
        ['variant_a', 50000],
      ]);
      expect(byKey.get('rollback.error-rate-threshold')).toMatchObject({ type: 'number', value: 5 });
    }
    // Idempotent: seeding again creates nothing.
    const again = await seedDefaultFlags(s.cp.db.db);
    expect(again.created).toEqual([]);
  });

  it('uses DEFAULT_ENVIRONMENT when ?environment is omitted, and names it', async () => {
    const r = await s.call<FlagView>('GET', `${FLAGS}/feature.new-dashboard`);
    expect(r.status).toBe(200);
    expect(r.body.environment).toBe('dev');
    expect(r.headers.get('etag')).toBe(`"${r.body.version}"`);
  });

  it('returns 404 FLAG_NOT_FOUND and ENVIRONMENT_NOT_FOUND, 400 for a bad environment key', async () => {
    expectError(await s.call('GET', `${FLAGS}/feature.nope`), 404, 'FLAG_NOT_FOUND', 'key');
    expectError(await s.call('GET', `${FLAGS}?environment=qa`), 404, 'ENVIRONMENT_NOT_FOUND', 'environment');
    expectError(
      await s.call('GET', `${FLAGS}?environment=Bad!`),
      400,
      'VALIDATION_FAILED',
      'querystring.environment',
    );
    expectError(
      await s.call('PUT', `${FLAGS}/feature.nope`, { body: { enabled: false } }),
      404,
      'FLAG_NOT_FOUND',
    );
    expectError(await s.call('GET', '/api/admin/deployment/nothing-here'), 404, 'NOT_FOUND');
  });

  it('PUT applies a partial body in one environment, with audit and a new snapshot revision', async () => {
    const before = await s.call<FlagView>('GET', `${FLAGS}/feature.advanced-analytics?environment=staging`);
    const prodBefore = await s.call<FlagView>('GET', `${FLAGS}/feature.advanced-analytics?environment=prod`);
    const r = await s.call<FlagView>('PUT', `${FLAGS}/feature.advanced-analytics?environment=staging`, {
      body: { rolloutPercentage: 33.125, allowList: ['u1'], reason: 'widen' },
      headers: { 'if-match': before.headers.get('etag')! },
    });
    expect(r.status).toBe(200);
    expect(r.body.flag).toMatchObject({ rolloutPercentage: 33.125, allowList: ['u1'], enabled: true });
    expect(r.body.version).toBe(before.body.version + 1);
    expect(r.headers.get('etag')).toBe(`"${before.body.version + 1}"`);
    expect(Object.keys(r.body.revisions!)).toEqual(['staging']);
    const prodAfter = await s.call<FlagView>('GET', `${FLAGS}/feature.advanced-analytics?environment=prod`);
    expect(prodAfter.body.flag).toEqual(prodBefore.body.flag);
    const audit = await s.call<{
      entries: { action: string; reason: string; actor: string; before: Flag; after: Flag }[];
    }>('GET', `${FLAGS}/feature.advanced-analytics/audit?environment=staging&limit=1`);
    expect(audit.status).toBe(200);
    expect(audit.body.entries).toHaveLength(1);
    expect(audit.body.entries[0]).toMatchObject({
      action: 'update',
      reason: 'widen',
      actor: 'admin-token:admin',
    });
    expect(audit.body.entries[0]?.before.rolloutPercentage).toBe(25);
    expect(audit.body.entries[0]?.after.rolloutPercentage).toBe(33.125);
  });

  it('null removes a field; a GET body can be PUT back (key/type/version echoed)', async () => {
    const got = await s.call<FlagView>('GET', `${FLAGS}/feature.offline-sync?environment=staging`);
    const r = await s.call<FlagView>('PUT', `${FLAGS}/feature.offline-sync?environment=staging`, {
      body: { ...got.body.flag, rolloutPercentage: null, denyList: ['bad-user'] },
    });
    expect(r.status).toBe(200);
    expect(r.body.flag.rolloutPercentage).toBeUndefined();
    expect(r.body.flag.denyList).toEqual(['bad-user']);
    // Echoing a stale version is a conflict, like If-Match.
    const stale = await s.call('PUT', `${FLAGS}/feature.offline-sync?environment=staging`, {
      body: { version: got.body.version, enabled: false },
    });
    expectError(stale, 412, 'VERSION_CONFLICT');
  });

  it('rejects bad input with 400 naming the field, and writes nothing', async () => {
    const url = `${FLAGS}/feature.new-dashboard?environment=prod`;
    const before = await s.call<FlagView>('GET', url);
    const cases: [unknown, string][] = [
      [{ rolloutPercentage: 100.5 }, 'rolloutPercentage'],
      [{ rolloutPercentage: -1 }, 'rolloutPercentage'],
      [{ rolloutPercentage: '50' }, 'rolloutPercentage'],
      [{ rolloutPercentage: 12.3456 }, 'rolloutPercentage'],
      [{ enabled: 'yes' }, 'enabled'],
      [{ colour: 'red' }, 'colour'],
      [
        { rules: [{ clauses: [{ attribute: 'plan', op: 'bogus', values: ['x'] }], variant: 'on' }] },
        'rules[0].clauses[0].op',
      ],
      [
        { rules: [{ clauses: [{ attribute: 'plan', op: 'in', values: ['x'] }], variant: 'nope' }] },
        'rules[0].variant',
      ],
      [{ type: 'string' }, 'type'],
      [{ canary: { stage: 1, status: 'progressing', stageStartedAt: null } }, 'canary'],
      [{ reason: 5 }, 'reason'],
    ];
    for (const [body, field] of cases) {
      const r = await s.call('PUT', url, { body });
      expect({ body, status: r.status, code: r.body.error?.code }).toEqual({
        body,
        status: 400,
        code: 'VALIDATION_FAILED',
      });
      expect(r.body.error?.field).toBe(field);
      expect(r.body.error?.message).toContain(field);
    }
    expectError(await s.call('PUT', url, { rawBody: '{"enabled": tru' }), 400, 'MALFORMED_JSON');
    expectError(await s.call('PUT', url, { rawBody: '[1,2]' }), 400, 'VALIDATION_FAILED');
    expectError(
      await s.call('PUT', url, { headers: { 'if-match': 'banana' }, body: { enabled: false } }),
      400,
      'VALIDATION_FAILED',
      'If-Match',
    );
    const after = await s.call<FlagView>('GET', url);
    expect(after.body).toEqual(before.body);
    const audit = await s.call<{ entries: unknown[] }>(
      'GET',
      `${FLAGS}/feature.new-dashboard/audit?environment=prod`,
    );
    expect(audit.body.entries).toHaveLength(1); // only the seed
  });

  it('experiments: weights must sum to 100,000 (core validation)', async () => {
    const r = await s.call('PUT', `${FLAGS}/experiment.checkout-redesign?environment=dev`, {
      body: {
        variants: [
          { key: 'control', value: 'control', weight: 60000 },
          { key: 'variant_a', value: 'variant_a', weight: 50000 },
        ],
      },
    });
    expectError(r, 400, 'VALIDATION_FAILED');
    expect(r.body.error?.field).toMatch(/^variants/);
  });

  it('If-Match mismatch → 412 VERSION_CONFLICT', async () => {
    const r = await s.call('PUT', `${FLAGS}/feature.ai-budgeting?environment=dev`, {
      body: { enabled: false },
      headers: { 'if-match': '"999"' },
    });
    expectError(r, 412, 'VERSION_CONFLICT', 'If-Match');
  });

  it('50 concurrent writes with the same If-Match: exactly one wins, the rest get 412', async () => {
    const url = `${FLAGS}/feature.ai-budgeting?environment=staging`;
    const cur = await s.call<FlagView>('GET', url);
    const etag = cur.headers.get('etag')!;
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        s.call<FlagView>('PUT', url, { body: { rolloutPercentage: i + 1 }, headers: { 'if-match': etag } }),
      ),
    );
    const ok = results.filter((r) => r.status === 200);
    expect(ok).toHaveLength(1);
    expect(results.filter((r) => r.status === 412)).toHaveLength(49);
    const final = await s.call<FlagView>('GET', url);
    expect(final.body.version).toBe(cur.body.version + 1);
    expect(final.body.flag.rolloutPercentage).toBe(ok[0]!.body.flag.rolloutPercentage);
  });

  it('50 concurrent writes without If-Match: all applied in order, none lost', async () => {
    const url = `${FLAGS}/feature.offline-sync?environment=prod`;
    const cur = await s.call<FlagView>('GET', url);
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        s.call<FlagView>('PUT', url, { body: { allowList: [`user-${i}`], reason: `w${i}` } }),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(Array(50).fill(200));
    const versions = results.map((r) => r.body.version).sort((a, b) => a - b);
    expect(versions).toEqual(Array.from({ length: 50 }, (_, i) => cur.body.version + 1 + i));
    const audit = await s.call<{ entries: { version: number; before: Flag; after: Flag }[] }>(
      'GET',
      `${FLAGS}/feature.offline-sync/audit?environment=prod&limit=50`,
    );
    expect(audit.body.entries).toHaveLength(50);
    // Each change saw the previous one: the audit forms one chain of versions.
    for (const e of audit.body.entries) expect(e.before.version).toBe(e.version - 1);
    const revisions = results.map((r) => r.body.revisions!.prod ?? 0).sort((a, b) => a - b);
    expect(new Set(revisions).size).toBe(50);
  });

  it('POST creates a flag in every environment; 409 FLAG_EXISTS; DELETE archives it everywhere', async () => {
    const body = {
      key: 'feature.created-in-test',
      type: 'boolean',
      enabled: true,
      rolloutPercentage: 10,
      reason: 'new',
    };
    const r = await s.call<FlagView>('POST', `${FLAGS}?environment=staging`, { body });
    expect(r.status).toBe(201);
    expect(r.headers.get('location')).toBe(`${FLAGS}/feature.created-in-test`);
    expect(r.body).toMatchObject({
      environment: 'staging',
      version: 1,
      flag: { key: 'feature.created-in-test' },
    });
    expect(Object.keys(r.body.revisions!).sort()).toEqual(['dev', 'prod', 'staging']);
    expectError(await s.call('POST', FLAGS, { body }), 409, 'FLAG_EXISTS', 'key');
    expectError(
      await s.call('POST', FLAGS, { body: { ...body, key: 'nodot' } }),
      400,
      'VALIDATION_FAILED',
      'key',
    );
    expectError(
      await s.call('POST', FLAGS, { body: { type: 'boolean', enabled: true } }),
      400,
      'VALIDATION_FAILED',
      'key',
    );

    const del = await s.call<{ archived: boolean }>('DELETE', `${FLAGS}/feature.created-in-test?reason=done`);
    expect(del.status).toBe(200);
    expect(del.body.archived).toBe(true);
    expectError(await s.call('GET', `${FLAGS}/feature.created-in-test`), 404, 'FLAG_NOT_FOUND');
    expectError(await s.call('DELETE', `${FLAGS}/feature.created-in-test`), 404, 'FLAG_NOT_FOUND');
    const list = await s.call<{ flags: Flag[] }>('GET', `${FLAGS}?environment=prod`);
    expect(list.body.flags.some((f) => f.key === 'feature.created-in-test')).toBe(false);
    const withArchived = await s.call<{ flags: Flag[] }>(
      'GET',
      `${FLAGS}?environment=prod&includeArchived=true`,
    );
    expect(withArchived.body.flags.some((f) => f.key === 'feature.created-in-test')).toBe(true);
    const audit = await s.call<{ entries: { action: string }[] }>(
      'GET',
      `${FLAGS}/feature.created-in-test/audit?environment=prod`,
    );
    expect(audit.body.entries.map((e) => e.action)).toEqual(['archive', 'create']);
    expectError(await s.call('POST', FLAGS, { body }), 409, 'FLAG_EXISTS');
  });

  it('a key of the longest valid length (200) is reachable; longer path parameters and bad encoding get catalogue errors', async () => {
    const key = `feature.${'k'.repeat(192)}`;
    expect(key).toHaveLength(200);
    const created = await s.call<FlagView>('POST', FLAGS, {
      body: { key, type: 'boolean', enabled: true, reason: 'longest key' },
    });
    expect(created.status).toBe(201);
    const got = await s.call<FlagView>('GET', `${FLAGS}/${key}?environment=prod`);
    expect(got.status).toBe(200);
    expect(got.body.flag.key).toBe(key);
    const put = await s.call<FlagView>('PUT', `${FLAGS}/${key}?environment=prod`, {
      body: { enabled: false, reason: 'off' },
    });
    expect(put.status).toBe(200);
    expect((await s.call('GET', `${FLAGS}/${key}/audit?environment=prod`)).status).toBe(200);
    // Over the router's limit (512): our envelope, not Fastify's own 414 body.
    const tooLong = await s.call('GET', `${FLAGS}/feature.${'x'.repeat(600)}`);
    expectError(tooLong, 400, 'VALIDATION_FAILED', 'params');
    const badEncoding = await s.call('GET', `${FLAGS}/feature.%E0%A4%A`);
    expectError(badEncoding, 400, 'VALIDATION_FAILED', 'url');
  });

  it('description is shared: changing it bumps every environment', async () => {
    const r = await s.call<FlagView>('PUT', `${FLAGS}/feature.new-dashboard?environment=dev`, {
      body: { description: 'The new dashboard' },
    });
    expect(r.status).toBe(200);
    expect(Object.keys(r.body.revisions!).sort()).toEqual(['dev', 'prod', 'staging']);
    const prod = await s.call<FlagView>('GET', `${FLAGS}/feature.new-dashboard?environment=prod`);
    expect(prod.body.flag.description).toBe('The new dashboard');
  });

  it('custom environments copy a configuration; 409 ENVIRONMENT_EXISTS; viewers cannot write', async () => {
    const r = await s.call<{ key: string; revision: number }>('POST', '/api/admin/deployment/environments', {
      body: { key: 'qa', name: 'QA', copyFrom: 'staging' },
    });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ key: 'qa', revision: 1 });
    const qa = await s.call<FlagView>('GET', `${FLAGS}/feature.new-dashboard?environment=qa`);
    const staging = await s.call<FlagView>('GET', `${FLAGS}/feature.new-dashboard?environment=staging`);
    expect(qa.body.flag.rolloutPercentage).toBe(staging.body.flag.rolloutPercentage);
    expect(qa.body.version).toBe(1);
    expectError(
      await s.call('POST', '/api/admin/deployment/environments', { body: { key: 'qa' } }),
      409,
      'ENVIRONMENT_EXISTS',
    );
    expectError(
      await s.call('POST', '/api/admin/deployment/environments', { body: { key: 'x', copyFrom: 'nope' } }),
      404,
      'ENVIRONMENT_NOT_FOUND',
    );
    const envs = await s.call<{ environments: { key: string }[] }>(
      'GET',
      '/api/admin/deployment/environments',
    );
    expect(envs.body.environments.map((e) => e.key)).toEqual(['dev', 'staging', 'prod', 'qa']);

    const minted = await s.call<{ token: string }>('POST', '/api/admin/deployment/tokens', {
      body: { role: 'viewer', subject: 'reader' },
    });
    expect(minted.status).toBe(201);
    const viewer = minted.body.token;
    expect((await s.call('GET', `${FLAGS}?environment=qa`, { token: viewer })).status).toBe(200);
    expectError(
      await s.call('PUT', `${FLAGS}/feature.new-dashboard?environment=qa`, {
        token: viewer,
        body: { enabled: false },
      }),
      403,
      'FORBIDDEN_ROLE',
    );
    expectError(await s.call('GET', FLAGS, { token: null }), 401, 'UNAUTHORIZED');
  });
});
