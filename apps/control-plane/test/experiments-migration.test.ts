// Migration 0003 on a database that already holds experiment data (PGlite and Postgres): the per-unit
// metric rows get their unit's variant from experiment_results, a metric row without an exposure row
// (never part of any statistic) is removed, and the column is required from then on.
import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { runMigrations, storageKinds } from '../src/index';
import { databaseBeforeMigration, rowsOf } from './migration-helpers';

const BEFORE = '0003_experiment_metrics_variant';

describe.each(storageKinds)('migration %s on existing experiment data', (kind) => {
  const fixture = databaseBeforeMigration(kind, BEFORE);

  it('fills in the variant of every per-unit metric row and drops rows without an exposure', async () => {
    const db = fixture.database().db;
    await runMigrations(db, fixture.older());
    await db.execute(sql`insert into experiment_results
        (environment, experiment_key, unit_key, variant, first_exposure_at, last_exposure_at)
      values ('dev', 'exp', 'u1', 'control', now(), now()), ('dev', 'exp', 'u2', 'variant_a', now(), now()),
        ('prod', 'exp', 'u1', 'variant_a', now(), now())`);
    await db.execute(sql`insert into experiment_unit_metrics (environment, experiment_key, unit_key, event, count, sum)
      values ('dev', 'exp', 'u1', 'purchase', 1, 10), ('dev', 'exp', 'u1', 'clicks', 3, 3),
        ('dev', 'exp', 'u2', 'purchase', 2, 30), ('prod', 'exp', 'u1', 'purchase', 1, 5),
        ('dev', 'exp', 'orphan', 'purchase', 1, 1)`);

    expect(await runMigrations(db)).toContain(BEFORE);

    const rows = rowsOf<{ environment: string; unit_key: string; event: string; variant: string }>(
      await db.execute(sql`select environment, unit_key, event, variant from experiment_unit_metrics
        order by environment, unit_key, event`),
    );
    expect(rows).toEqual([
      { environment: 'dev', unit_key: 'u1', event: 'clicks', variant: 'control' },
      { environment: 'dev', unit_key: 'u1', event: 'purchase', variant: 'control' },
      { environment: 'dev', unit_key: 'u2', event: 'purchase', variant: 'variant_a' },
      { environment: 'prod', unit_key: 'u1', event: 'purchase', variant: 'variant_a' },
    ]);
    await expect(
      db.execute(sql`insert into experiment_unit_metrics (environment, experiment_key, unit_key, event, count, sum)
        values ('dev', 'exp', 'u3', 'purchase', 1, 1)`),
    ).rejects.toThrow();
  });
});
