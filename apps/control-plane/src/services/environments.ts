// Environments: dev, staging, prod and custom ones. A new environment copies every flag's
// configuration from another environment (default: the default environment), so it starts complete.
import { asc, eq, sql } from 'drizzle-orm';
import { environmentKeyPattern } from '../config';
import type { Db, DbOrTx } from '../db/client';
import { writeTransaction } from '../db/retry';
import { environments, flagConfigs } from '../db/schema/index';
import { errors } from '../errors';
import { createRevision } from './snapshots';

export const DEFAULT_ENVIRONMENTS = [
  { key: 'dev', name: 'Development' },
  { key: 'staging', name: 'Staging' },
  { key: 'prod', name: 'Production' },
] as const;

export interface EnvironmentInfo {
  key: string;
  name: string;
  revision: number;
  createdAt: string;
}

export async function listEnvironments(db: DbOrTx): Promise<EnvironmentInfo[]> {
  const rows = await db
    .select()
    .from(environments)
    .orderBy(
      sql`case ${environments.key} when 'dev' then 0 when 'staging' then 1 when 'prod' then 2 else 3 end`,
      asc(environments.createdAt),
      asc(environments.key),
    );
  return rows.map((r) => ({
    key: r.key,
    name: r.name,
    revision: r.revision,
    createdAt: r.createdAt.toISOString(),
  }));
}

/** Throws ENVIRONMENT_NOT_FOUND unless the environment exists. */
export async function requireEnvironment(db: DbOrTx, key: string): Promise<void> {
  const rows = await db.select({ key: environments.key }).from(environments).where(eq(environments.key, key));
  if (rows.length === 0) throw errors.environmentNotFound(key);
}

/** Creates an environment, copying the flag configurations of `copyFrom`, at revision 1. */
export async function createEnvironment(
  db: Db,
  input: { key: string; name?: string; copyFrom?: string; actor: string },
): Promise<EnvironmentInfo> {
  if (!environmentKeyPattern.test(input.key)) {
    throw errors.validation('key', 'key must match [a-z0-9][a-z0-9_-]* (at most 63 characters)');
  }
  return writeTransaction(db, async (tx) => {
    const inserted = await tx
      .insert(environments)
      .values({ key: input.key, name: input.name ?? input.key })
      .onConflictDoNothing()
      .returning();
    const row = inserted[0];
    if (!row) throw errors.environmentExists(input.key);
    if (input.copyFrom !== undefined) {
      await requireEnvironment(tx, input.copyFrom);
      const source = await tx.select().from(flagConfigs).where(eq(flagConfigs.environment, input.copyFrom));
      if (source.length > 0) {
        await tx.insert(flagConfigs).values(
          source.map((c) => ({
            flagKey: c.flagKey,
            environment: input.key,
            config: c.config,
            version: 1,
            updatedBy: input.actor,
          })),
        );
      }
    }
    const revision = await createRevision(tx, input.key, `environment created by ${input.actor}`);
    return { key: row.key, name: row.name, revision, createdAt: row.createdAt.toISOString() };
  });
}
