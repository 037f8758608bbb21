// Migration 0006 on a database that already holds webhooks (PGlite and Postgres): each existing
// webhook's creation enters the credentials audit as its row knows it (created by `created_by` at
// `created_at`), oldest first; one deleted before the migration keeps only its creation (when and by
// whom it was deleted was not recorded). The audit then accepts the webhook actions.
import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { runMigrations, storageKinds } from '../src/index';
import { databaseBeforeMigration, rowsOf } from './migration-helpers';

const BEFORE = '0006_webhooks_audit';

describe.each(storageKinds)('migration %s on existing webhooks', (kind) => {
  const fixture = databaseBeforeMigration(kind, BEFORE);

  it("starts the audit with each existing webhook's creation, oldest first", async () => {
    const db = fixture.database().db;
    await runMigrations(db, fixture.older());
    await db.execute(sql`insert into webhooks (id, url, secret, events, environment, active, created_at, created_by)
      values ('w2', 'https://example.test/b', 's2', '["*"]', null, false, '2026-02-01T00:00:00Z', 'jwt:ops'),
        ('w1', 'https://example.test/a', 's1', '["flag.updated"]', 'prod', true, '2026-01-01T00:00:00Z', 'admin-token:admin')`);
    const before = rowsOf<{ n: number }>(
      await db.execute(sql`select count(*)::int as n from credentials_audit`),
    );

    expect(await runMigrations(db)).toContain(BEFORE);

    const audit = rowsOf<Record<string, unknown>>(
      await db.execute(sql`select action, credential_id, environment, key_prefix, subject, role, actor,
          to_char(created_at at time zone 'UTC', 'YYYY-MM-DD') as day
        from credentials_audit order by id`),
    ).slice(before[0]!.n);
    expect(audit).toEqual([
      {
        action: 'webhook.created',
        credential_id: 'w1',
        environment: 'prod',
        key_prefix: null,
        subject: null,
        role: null,
        actor: 'admin-token:admin',
        day: '2026-01-01',
      },
      {
        action: 'webhook.created',
        credential_id: 'w2',
        environment: null,
        key_prefix: null,
        subject: null,
        role: null,
        actor: 'jwt:ops',
        day: '2026-02-01',
      },
    ]);
    const deleted = rowsOf<{ id: string; deleted_at: unknown; deleted_by: unknown }>(
      await db.execute(sql`select id, deleted_at, deleted_by from webhooks order by id`),
    );
    expect(deleted).toEqual([
      { id: 'w1', deleted_at: null, deleted_by: null },
      { id: 'w2', deleted_at: null, deleted_by: null },
    ]);
    await db.execute(
      sql`insert into credentials_audit (action, credential_id, actor) values ('webhook.deleted', 'w1', 'x')`,
    );
    await expect(
      db.execute(
        sql`insert into credentials_audit (action, credential_id, actor) values ('webhook.renamed', 'w1', 'x')`,
      ),
    ).rejects.toThrow();
  });
});
