// The product's nine default flags, per environment (dev, staging, prod). Idempotent: a flag or an
// environment's configuration that exists is left as it is. Seeded canaries sit at their first
// stage, paused, so nothing progresses until a person resumes them.
import { type Flag, initialCanaryState, validateFlag } from '@rupaya/flags-core';
import { asc } from 'drizzle-orm';
import type { Db, DbOrTx } from '../db/client';
import { environments, featureFlags, featureFlagsAudit, flagConfigs } from '../db/schema/index';
import { DEFAULT_ENVIRONMENTS } from './environments';
import { splitFlag } from './flag-model';
import { createRevision } from './snapshots';

type PerEnv<T> = { dev: T; staging: T; prod: T };
type EnvKey = keyof PerEnv<unknown>;

const min = (m: number) => m * 60;

function rollout(key: string, description: string, pct: PerEnv<number>): (env: EnvKey) => Flag {
  return (env) => ({ key, type: 'boolean', description, enabled: true, rolloutPercentage: pct[env] });
}

function canary(key: string, description: string, stages: [number, number][]): () => Flag {
  return () => ({
    key,
    type: 'boolean',
    description,
    enabled: true,
    stages: stages.map(([percent, minutes]) => ({ percent, minDurationSec: min(minutes) })),
    canary: initialCanaryState(),
    autoRollback: true,
  });
}

function experiment(key: string, description: string, event: string): () => Flag {
  return () => ({
    key,
    type: 'string',
    description,
    enabled: true,
    variants: [
      { key: 'control', value: 'control', weight: 50_000 },
      { key: 'variant_a', value: 'variant_a', weight: 50_000 },
    ],
    experiment: {
      primaryMetric: { event, kind: 'conversion', direction: 'increase' },
      controlVariant: 'control',
      minimumDetectableEffect: 0.05,
      alpha: 0.05,
      power: 0.8,
      status: 'running',
    },
  });
}

/** The default flags, as functions of the environment. */
export const DEFAULT_FLAGS: ((env: EnvKey) => Flag)[] = [
  rollout('feature.new-dashboard', 'New dashboard UI', { dev: 100, staging: 50, prod: 0 }),
  rollout('feature.advanced-analytics', 'Advanced analytics', { dev: 100, staging: 25, prod: 0 }),
  rollout('feature.ai-budgeting', 'AI-assisted budgeting', { dev: 100, staging: 0, prod: 0 }),
  rollout('feature.offline-sync', 'Offline sync', { dev: 100, staging: 0, prod: 0 }),
  // The last stage (100%) has no minimum: reaching it completes the canary.
  canary('canary.new-payment-processor', 'New payment processor', [
    [1, 30],
    [10, 30],
    [25, 60],
    [50, 60],
    [100, 0],
  ]),
  canary('canary.new-notification-service', 'New notification service', [
    [5, 30],
    [25, 60],
    [100, 0],
  ]),
  experiment('experiment.new-onboarding-flow', 'New onboarding flow', 'onboarding_completed'),
  experiment('experiment.checkout-redesign', 'Checkout redesign', 'checkout_completed'),
  () => ({
    key: 'rollback.error-rate-threshold',
    type: 'number',
    description: 'Error rate (percent) above which a canary rolls back',
    enabled: true,
    value: 5,
  }),
];

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
  created: { environment: string; key: string }[];
  revisions: Record<string, number>;
}

/** Seeds the default flags into dev, staging and prod; idempotent. */
export async function seedDefaultFlags(db: Db, actor = 'seed'): Promise<SeedResult> {
  await ensureDefaultEnvironments(db);
  return db.transaction(async (tx) => {
    const created: SeedResult['created'] = [];
    const touched = new Set<string>();
    for (const make of DEFAULT_FLAGS) {
      for (const env of ['dev', 'staging', 'prod'] as const) {
        const flag = make(env);
        const checked = validateFlag(flag, flag.key, { strict: true });
        if (!checked.ok)
          throw new Error(`seed flag ${flag.key} is invalid: ${JSON.stringify(checked.errors)}`);
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
          reason: 'default flags',
          before: null,
          after: { ...flag, version: 1 },
          version: 1,
        });
      }
    }
    const revisions: Record<string, number> = {};
    for (const env of [...touched].sort()) revisions[env] = await createRevision(tx, env, 'seed');
    return { created, revisions };
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
