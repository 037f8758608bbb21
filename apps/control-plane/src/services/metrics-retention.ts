// Retention: raw windows older than METRICS_RAW_RETENTION are merged into 1-minute roll-ups and
// deleted in the same transaction (so each raw window is counted in its roll-up exactly once);
// roll-ups older than METRICS_ROLLUP_RETENTION, old batch keys, gauges, usage rows and decisions
// are deleted. Run by the scheduler leader every METRICS_ROLLUP_INTERVAL.
import type { SerializedWindow } from '@rupaya/flags-core';
import { and, asc, eq, inArray, lt, sql } from 'drizzle-orm';
import type { Db } from '../db/client';
import {
  deploymentMetrics,
  flagUsage,
  instanceGauges,
  metricBatches,
  rollbackDecisions,
  webhookDeliveries,
} from '../db/schema/index';
import { mergeWindowsInto, rowToWindow } from './metrics-ingest';
import type { MetricsSettings } from './metrics-settings';

export const ROLLUP_MS = 60_000;
/** Idempotency keys are kept this long: a retried batch older than that is counted again. */
export const BATCH_KEY_RETENTION_MS = 86_400_000;
const CHUNK = 500;

export interface RetentionResult {
  rolledUp: number;
  deletedRollups: number;
}

export async function rollupAndPrune(
  db: Db,
  settings: Pick<MetricsSettings, 'rawRetentionMs' | 'rollupRetentionMs'>,
  nowMs = Date.now(),
): Promise<RetentionResult> {
  // Only whole minutes roll up, so a minute's raw windows never straddle the cut.
  const rawCutoff = Math.floor((nowMs - settings.rawRetentionMs) / ROLLUP_MS) * ROLLUP_MS;
  let rolledUp = 0;
  for (;;) {
    const n = await db.transaction(async (tx) => {
      const rows = await tx
        .select()
        .from(deploymentMetrics)
        .where(and(eq(deploymentMetrics.granularity, 'raw'), lt(deploymentMetrics.windowStartMs, rawCutoff)))
        .orderBy(asc(deploymentMetrics.id))
        .limit(CHUNK)
        .for('update', { skipLocked: true });
      if (rows.length === 0) return 0;
      const byEnv = new Map<string, SerializedWindow[]>();
      for (const r of rows) {
        if (r.reports === 0) continue;
        const w = rowToWindow(r);
        // The roll-up row is the minute; stage/cohort/variant/endpoint stay as they were.
        w.windowStart = Math.floor(w.windowStart / ROLLUP_MS) * ROLLUP_MS;
        w.durationMs = ROLLUP_MS;
        const list = byEnv.get(r.environment) ?? [];
        list.push(w);
        byEnv.set(r.environment, list);
      }
      for (const [env, windows] of byEnv) await mergeWindowsInto(tx, env, '1m', windows);
      await tx.delete(deploymentMetrics).where(
        inArray(
          deploymentMetrics.id,
          rows.map((r) => r.id),
        ),
      );
      return rows.length;
    });
    rolledUp += n;
    if (n < CHUNK) break;
  }
  const rollupCutoff = nowMs - settings.rollupRetentionMs;
  const deleted = await db
    .delete(deploymentMetrics)
    .where(and(eq(deploymentMetrics.granularity, '1m'), lt(deploymentMetrics.windowStartMs, rollupCutoff)))
    .returning({ id: deploymentMetrics.id });
  await db
    .delete(metricBatches)
    .where(lt(metricBatches.receivedAt, new Date(nowMs - BATCH_KEY_RETENTION_MS)));
  await db.delete(instanceGauges).where(lt(instanceGauges.windowStartMs, rawCutoff));
  await db.delete(flagUsage).where(lt(flagUsage.windowStartMs, rollupCutoff));
  await db.delete(rollbackDecisions).where(lt(rollbackDecisions.createdAt, new Date(rollupCutoff)));
  await db
    .delete(webhookDeliveries)
    .where(
      and(
        sql`${webhookDeliveries.status} <> 'pending'`,
        lt(webhookDeliveries.createdAt, new Date(rollupCutoff)),
      ),
    );
  return { rolledUp, deletedRollups: deleted.length };
}
