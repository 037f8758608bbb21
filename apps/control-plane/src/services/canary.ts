// Canary transitions (manual from the admin API, automatic from the scheduler): core decides the new
// state (transitionCanary); this writes it with its canary_deployment_logs row, audit row, outbox
// event and new snapshot revision in one transaction.
import { randomUUID } from 'node:crypto';
import {
  type CanaryTransitionAction,
  type CanaryState,
  type Flag,
  transitionCanary,
} from '@rupaya/flags-core';
import { and, desc, eq } from 'drizzle-orm';
import type { DbOrTx } from '../db/client';
import { writeTransaction } from '../db/retry';
import { canaryDeploymentLogs, featureFlagsAudit, flagConfigs, outbox } from '../db/schema/index';
import { errors } from '../errors';
import { splitFlag } from './flag-model';
import { getFlagForUpdate } from './flags';
import { createRevision } from './snapshots';

export interface CanaryTransitionInput {
  environment: string;
  key: string;
  action: CanaryTransitionAction;
  actor: string;
  reason?: string | undefined;
  /** true when the scheduler or rollback monitor acted. */
  automatic: boolean;
  /** Window statistics behind an automatic decision (stored in the log). */
  metrics?: unknown;
  /** Expected current configuration version (If-Match), if any. */
  ifMatch?: number[] | null | undefined;
  /** Clock override (ms since epoch); default now. */
  nowMs?: number;
}

export interface CanaryTransitionOutcome {
  environment: string;
  key: string;
  action: CanaryTransitionAction;
  canary: CanaryState;
  fromStage: number;
  toStage: number;
  fromPercent: number;
  toPercent: number;
  fromStatus: string;
  toStatus: string;
  version: number;
  revision: number;
  logId: number;
  flag: Flag;
}

/**
 * Applies a canary action in one transaction (a savepoint when `db` is already a transaction; an
 * outermost one is rerun on a deadlock or serialization failure).
 */
export async function applyCanaryTransition(
  db: DbOrTx,
  input: CanaryTransitionInput,
): Promise<CanaryTransitionOutcome> {
  return writeTransaction(db, async (tx) => {
    const current = await getFlagForUpdate(tx, input.environment, input.key);
    if (input.ifMatch && !input.ifMatch.includes(current.version)) {
      throw errors.versionConflict(input.ifMatch.map((v) => `"${v}"`).join(', '), `"${current.version}"`);
    }
    const nowIso = new Date(input.nowMs ?? Date.now()).toISOString();
    const result = transitionCanary(
      current.flag,
      input.action,
      nowIso,
      input.action === 'restart' ? randomUUID() : undefined,
    );
    if (!result.ok) {
      if (result.code === 'NOT_A_CANARY') throw errors.notACanary(input.key, input.environment);
      throw errors.invalidTransition(result.message);
    }
    const flag: Flag = { ...current.flag, canary: result.canary };
    const { config } = splitFlag(flag);
    const version = current.version + 1;
    await tx
      .update(flagConfigs)
      .set({ config, version, updatedAt: new Date(nowIso), updatedBy: input.actor })
      .where(and(eq(flagConfigs.environment, input.environment), eq(flagConfigs.flagKey, input.key)));
    const revision = await createRevision(tx, input.environment, `canary ${input.action} of ${input.key}`);
    const [log] = await tx
      .insert(canaryDeploymentLogs)
      .values({
        flagKey: input.key,
        environment: input.environment,
        runId: result.canary.runId ?? current.flag.canary?.runId ?? null,
        action: input.action,
        fromStage: result.fromStage,
        toStage: result.toStage,
        fromPercent: result.fromPercent,
        toPercent: result.toPercent,
        fromStatus: result.fromStatus,
        toStatus: result.toStatus,
        automatic: input.automatic,
        actor: input.actor,
        reason: input.reason ?? null,
        metrics: input.metrics ?? null,
        revision,
      })
      .returning({ id: canaryDeploymentLogs.id });
    await tx.insert(featureFlagsAudit).values({
      flagKey: input.key,
      environment: input.environment,
      action: `canary.${input.action}`,
      actor: input.actor,
      reason: input.reason ?? null,
      before: current.flag,
      after: { ...flag, version },
      version,
      revision,
    });
    const topic = input.action === 'rollback' ? 'canary.rolled_back' : `canary.${input.action}`;
    await tx.insert(outbox).values({
      topic,
      environment: input.environment,
      payload: {
        key: input.key,
        environment: input.environment,
        action: input.action,
        automatic: input.automatic,
        fromPercent: result.fromPercent,
        toPercent: result.toPercent,
        fromStage: result.fromStage,
        toStage: result.toStage,
        status: result.toStatus,
        actor: input.actor,
        reason: input.reason ?? null,
      },
    });
    return {
      environment: input.environment,
      key: input.key,
      action: input.action,
      canary: result.canary,
      fromStage: result.fromStage,
      toStage: result.toStage,
      fromPercent: result.fromPercent,
      toPercent: result.toPercent,
      fromStatus: result.fromStatus,
      toStatus: result.toStatus,
      version,
      revision,
      logId: log!.id,
      flag: { ...flag, version },
    };
  });
}

/** Canary history of a flag in an environment, newest first. */
export async function listCanaryLogs(db: DbOrTx, key: string, environment: string, limit = 100) {
  const rows = await db
    .select()
    .from(canaryDeploymentLogs)
    .where(and(eq(canaryDeploymentLogs.flagKey, key), eq(canaryDeploymentLogs.environment, environment)))
    .orderBy(desc(canaryDeploymentLogs.id))
    .limit(limit);
  return rows.map((r) => ({ ...r, createdAt: r.createdAt.toISOString() }));
}
