// Migration 0005 on a database that already holds SDK keys and minted tokens (PGlite and Postgres):
// the credentials audit starts with their history as their rows know it (created by `created_by` at
// `created_at`, revoked at `revoked_at` by 'unknown'), in the order it happened, and the audit refuses
// an action it does not know.
import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { runMigrations, storageKinds } from '../src/index';
import { databaseBeforeMigration, rowsOf } from './migration-helpers';

const BEFORE = '0005_credentials_audit';

describe.each(storageKinds)('migration %s on existing keys and tokens', (kind) => {
  const fixture = databaseBeforeMigration(kind, BEFORE);

  it('starts the credentials audit with the history of the existing rows, oldest first', async () => {
    const db = fixture.database().db;
    await runMigrations(db, fixture.older());
    await db.execute(sql`insert into environments (key, name) values ('prod', 'Production')`);
    await db.execute(sql`insert into sdk_keys (id, environment, key_hash, key_prefix, created_by, created_at, revoked_at)
      values ('k1', 'prod', 'h1', 'rpy_sdk_aaaa', 'admin-token:admin', '2026-01-01T00:00:00Z', '2026-03-01T00:00:00Z'),
        ('k2', 'prod', 'h2', 'rpy_sdk_bbbb', 'jwt:ops', '2026-02-01T00:00:00Z', null)`);
    await db.execute(sql`insert into api_tokens (id, subject, role, token_hash, created_by, created_at, expires_at, revoked_at)
      values ('t1', 'ci-bot', 'editor', 'th1', 'admin-token:admin', '2026-01-15T00:00:00Z', '2027-01-15T00:00:00Z', '2026-02-15T00:00:00Z')`);

    expect(await runMigrations(db)).toContain(BEFORE);

    const audit = rowsOf<Record<string, unknown>>(
      await db.execute(sql`select action, credential_id, environment, key_prefix, subject, role, actor,
          to_char(created_at at time zone 'UTC', 'YYYY-MM-DD') as day
        from credentials_audit order by id`),
    );
    expect(audit).toEqual([
      {
        action: 'sdk_key.created',
        credential_id: 'k1',
        environment: 'prod',
        key_prefix: 'rpy_sdk_aaaa',
        subject: null,
        role: null,
        actor: 'admin-token:admin',
        day: '2026-01-01',
      },
      {
        action: 'token.minted',
        credential_id: 't1',
        environment: null,
        key_prefix: null,
        subject: 'ci-bot',
        role: 'editor',
        actor: 'admin-token:admin',
        day: '2026-01-15',
      },
      {
        action: 'sdk_key.created',
        credential_id: 'k2',
        environment: 'prod',
        key_prefix: 'rpy_sdk_bbbb',
        subject: null,
        role: null,
        actor: 'jwt:ops',
        day: '2026-02-01',
      },
      {
        action: 'token.revoked',
        credential_id: 't1',
        environment: null,
        key_prefix: null,
        subject: 'ci-bot',
        role: 'editor',
        actor: 'unknown',
        day: '2026-02-15',
      },
      {
        action: 'sdk_key.revoked',
        credential_id: 'k1',
        environment: 'prod',
        key_prefix: 'rpy_sdk_aaaa',
        subject: null,
        role: null,
        actor: 'unknown',
        day: '2026-03-01',
      },
    ]);
    // Who revoked is not known for rows revoked before the migration.
    const revokedBy = rowsOf<{ id: string; revoked_by: string | null }>(
      await db.execute(
        sql`select id, revoked_by from sdk_keys union all select id, revoked_by from api_tokens order by id`,
      ),
    );
    expect(revokedBy).toEqual([
      { id: 'k1', revoked_by: null },
      { id: 'k2', revoked_by: null },
      { id: 't1', revoked_by: null },
    ]);
    await expect(
      db.execute(
        sql`insert into credentials_audit (action, credential_id, actor) values ('token.deleted', 't1', 'x')`,
      ),
    ).rejects.toThrow();
  });
});
