// Seeds the default flags from the default flags file (`config/feature-flags.json`, or RUPAYA_FLAGS_FILE;
// the flags-as-code format of `rupaya flags export|import`) into each environment the file lists.
// Idempotent: a flag or an environment's configuration that exists is left as it is. Seeded canaries
// without a state in the file sit at their first stage, paused, so nothing progresses until a person
// resumes them. Every flag is checked (strictly, as the admin API does) before anything is written.
import {
  type Flag,
  type FlagsFile,
  flagsForEnvironment,
  initialCanaryState,
  validateFlag,
} from '@rupaya/flags-core';
import { asc } from 'drizzle-orm';
import { environmentKeyPattern } from '../config';
import type { Db, DbOrTx } from '../db/client';
import { environments, featureFlags, featureFlagsAudit, flagConfigs } from '../db/schema/index';
import { DefaultFlagsFileError, findDefaultFlagsFile, readFlagsFile } from './default-flags';
import { DEFAULT_ENVIRONMENTS } from './environments';
import { splitFlag } from './flag-model';
import { createRevision } from './snapshots';

/** The flags of every environment of a flags file, complete (`enabled` defaults to true) and checked. */
export function seedFlagsOf(file: FlagsFile, source = 'flags file'): Map<string, Flag[]> {
  const out = new Map<string, Flag[]>();
  const problems: string[] = [];
  for (const env of file.environments) {
    if (!environmentKeyPattern.test(env)) {
      problems.push(
        `environment ${JSON.stringify(env)}: must match [a-z0-9][a-z0-9_-]* (at most 63 characters)`,
      );
      continue;
    }
    const flags = flagsForEnvironment(file, env).map((fields) => {
      const flag = { enabled: true, ...fields } as Flag;
      if (flag.stages !== undefined && flag.canary === undefined) flag.canary = initialCanaryState();
      return flag;
    });
    for (const flag of flags) {
      const checked = validateFlag(flag, flag.key, { strict: true });
      if (!checked.ok) for (const e of checked.errors) problems.push(`${e.path} (${env}): ${e.message}`);
    }
    out.set(env, flags);
  }
  if (problems.length > 0) throw new DefaultFlagsFileError(source, `invalid flags: ${problems.join('; ')}`);
  return out;
}

/** Creates dev, staging and prod if missing (each gets revision 1). Returns the ones created. */
export async function ensureDefaultEnvironments(db: Db): Promise<string[]> {
  return db.transaction(async (tx) => {
    const created: string[] = [];
    for (const env of DEFAULT_ENVIRONMENTS) {
      const rows = await tx.insert(environments).values(env).onConflictDoNothing().returning();
      if (rows.length > 0) created.push(env.key);
    }
    for (const env of created) await createRevision(tx, env, 'environment created');
    return created;
  });
}

export interface SeedResult {
  /** The flags file the flags came from (a path, or `(given)` for a file object). */
  file: string;
  created: { environment: string; key: string }[];
  revisions: Record<string, number>;
}

export interface SeedOptions {
  /** Audit actor (default `seed`). */
  actor?: string;
  /** A flags file path or an already parsed file; default RUPAYA_FLAGS_FILE or config/feature-flags.json. */
  file?: string | FlagsFile;
}

/**
 * Seeds the default flags into every environment the flags file lists (creating missing environments);
 * idempotent. Nothing is written when the file or any of its flags is invalid.
 */
export async function seedDefaultFlags(db: Db, options: SeedOptions = {}): Promise<SeedResult> {
  const actor = options.actor ?? 'seed';
  const path = typeof options.file === 'object' ? '(given)' : (options.file ?? findDefaultFlagsFile());
  const file = typeof options.file === 'object' ? options.file : readFlagsFile(path);
  const perEnv = seedFlagsOf(file, path);
  await ensureDefaultEnvironments(db);
  return db.transaction(async (tx) => {
    const names = new Map<string, string>(DEFAULT_ENVIRONMENTS.map((e) => [e.key, e.name]));
    for (const env of perEnv.keys()) {
      const made = await tx
        .insert(environments)
        .values({ key: env, name: names.get(env) ?? env })
        .onConflictDoNothing()
        .returning();
      if (made.length > 0) await createRevision(tx, env, 'environment created by seed');
    }
    const created: SeedResult['created'] = [];
    const touched = new Set<string>();
    for (const [env, flags] of perEnv) {
      for (const flag of flags) {
        const { definition, config } = splitFlag(flag);
        await tx
          .insert(featureFlags)
          .values({ ...definition, createdBy: actor })
          .onConflictDoNothing();
        const inserted = await tx
          .insert(flagConfigs)
          .values({ flagKey: flag.key, environment: env, config, updatedBy: actor })
          .onConflictDoNothing()
          .returning({ key: flagConfigs.flagKey });
        if (inserted.length === 0) continue;
        created.push({ environment: env, key: flag.key });
        touched.add(env);
        await tx.insert(featureFlagsAudit).values({
          flagKey: flag.key,
          environment: env,
          action: 'seed',
          actor,
          reason: `default flags (${path})`,
          before: null,
          after: { ...flag, version: 1 },
          version: 1,
        });
      }
    }
    const revisions: Record<string, number> = {};
    for (const env of [...touched].sort()) revisions[env] = await createRevision(tx, env, 'seed');
    return { file: path, created, revisions };
  });
}

/** True when no flag was ever created (the first start of an empty database). */
export async function isEmpty(db: DbOrTx): Promise<boolean> {
  const rows = await db
    .select({ key: featureFlags.key })
    .from(featureFlags)
    .orderBy(asc(featureFlags.key))
    .limit(1);
  return rows.length === 0;
}
