// Ingest of SDK metric batches: validated with core, idempotent on (instance, batch key), merged
// into one deployment_metrics row per series window (sketches merged with core's LatencySketch),
// gauges and flag usage upserted — all in one transaction, then a NOTIFY wakes the scheduler.
import {
  alignWindow,
  type GaugeWindow,
  type MetricsBatch,
  type SerializedWindow,
  validateSerializedWindow,
  WindowAggregate,
} from '@rupaya/flags-core';
import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Db, DbOrTx } from '../db/client';
import { notify } from '../db/client';
import { deploymentMetrics, flagUsage, instanceGauges, metricBatches } from '../db/schema/index';
import { errors } from '../errors';

export const METRICS_CHANNEL = 'rupaya_metrics';
/** Error groups stored per merged row. */
const STORED_TOP_ERRORS = 20;
export const MAX_WINDOWS_PER_BATCH = 2000;
export const MAX_GAUGES_PER_BATCH = 200;
export const MAX_EVALUATIONS_PER_BATCH = 5000;

const label = { type: 'string', minLength: 1, maxLength: 256 } as const;
const count = { type: 'integer', minimum: 0 } as const;

/** Fastify schema of the batch envelope; windows are checked in depth by core's validateSerializedWindow. */
export const metricsBatchSchema = {
  type: 'object',
  required: ['instanceId', 'batchKey', 'windows'],
  additionalProperties: false,
  properties: {
    instanceId: label,
    batchKey: label,
    sdk: {
      type: 'object',
      additionalProperties: false,
      required: ['name', 'version'],
      properties: { name: label, version: label },
    },
    windows: { type: 'array', maxItems: MAX_WINDOWS_PER_BATCH, items: { type: 'object' } },
    gauges: {
      type: 'array',
      maxItems: MAX_GAUGES_PER_BATCH,
      items: {
        type: 'object',
        required: ['windowStart', 'durationMs'],
        additionalProperties: false,
        properties: {
          windowStart: count,
          durationMs: { type: 'integer', minimum: 1, maximum: 86_400_000 },
          heapUsedPercent: { type: 'number', minimum: 0 },
          rssBytes: { type: 'number', minimum: 0 },
          cpuPercent: { type: 'number', minimum: 0 },
          eventLoopDelayP99Ms: { type: 'number', minimum: 0 },
          dbPoolSaturationPercent: { type: 'number', minimum: 0 },
          dbPoolWaiters: { type: 'number', minimum: 0 },
        },
      },
    },
    evaluations: {
      type: 'array',
      maxItems: MAX_EVALUATIONS_PER_BATCH,
      items: {
        type: 'object',
        required: ['flag', 'variant', 'count'],
        additionalProperties: false,
        properties: { flag: label, variant: { anyOf: [label, { type: 'null' }] }, count },
      },
    },
    dropped: count,
  },
} as const;

export interface IngestResult {
  accepted: number;
  duplicate: boolean;
  /** Flags whose windows were merged (the scheduler looks at these). */
  flags: string[];
}

/** Throws VALIDATION_FAILED naming the first bad field (`windows[3].latency.count`). */
export function validateBatchWindows(batch: MetricsBatch): void {
  for (let i = 0; i < batch.windows.length; i++) {
    const problems = validateSerializedWindow(batch.windows[i], `windows[${i}]`);
    const first = problems[0];
    if (first) throw errors.validation(first.path, `${first.path} ${first.message}`);
  }
}

interface SeriesKey {
  flagKey: string;
  windowStartMs: number;
  durationMs: number;
  stage: number;
  cohort: string;
  variant: string;
  endpoint: string;
}

const seriesId = (k: SeriesKey) =>
  `${k.flagKey}\u0000${k.windowStartMs}\u0000${k.stage}\u0000${k.cohort}\u0000${k.variant}\u0000${k.endpoint}`;

function keyOf(w: SerializedWindow): SeriesKey {
  return {
    flagKey: w.flag,
    windowStartMs: w.windowStart,
    durationMs: w.durationMs,
    stage: w.stage ?? -1,
    cohort: w.cohort ?? '',
    variant: w.variant ?? '',
    endpoint: w.endpoint,
  };
}

/** A stored row as core's SerializedWindow (for merging and for decisions). */
export function rowToWindow(row: typeof deploymentMetrics.$inferSelect): SerializedWindow {
  const w: SerializedWindow = {
    windowStart: row.windowStartMs,
    durationMs: row.durationMs,
    flag: row.flagKey,
    endpoint: row.endpoint,
    requests: row.requests,
    errors: row.errors,
    topErrors: row.topErrors ?? [],
    latency: row.sketch ?? {
      alpha: 0.01,
      zeroCount: 0,
      offset: 0,
      counts: [],
      count: 0,
      sum: 0,
      min: 0,
      max: 0,
    },
  };
  if (row.cohort !== '') w.cohort = row.cohort;
  if (row.variant !== '') w.variant = row.variant;
  if (row.stage >= 0) w.stage = row.stage;
  return w;
}

/** Derived columns of a merged aggregate. */
export function rowValues(agg: WindowAggregate) {
  const s = agg.summary(STORED_TOP_ERRORS);
  return {
    requests: s.requests,
    errors: s.errors,
    errorRate: s.errorRate,
    p50: s.p50,
    p95: s.p95,
    p99: s.p99,
    rps: s.rps,
    sketch: agg.latency.serialize(),
    topErrors: s.topErrors,
  };
}

/**
 * Merges `windows` (same granularity) into deployment_metrics, creating rows as needed. Rows are
 * locked in a stable order, so concurrent ingests of the same series serialise without deadlock.
 */
export async function mergeWindowsInto(
  tx: DbOrTx,
  environment: string,
  granularity: string,
  windows: readonly SerializedWindow[],
): Promise<void> {
  // Merge within the batch first: one row update per series.
  const merged = new Map<string, { key: SeriesKey; agg: WindowAggregate; reports: number }>();
  for (const w of windows) {
    const key = keyOf(w);
    const id = seriesId(key);
    const existing = merged.get(id);
    if (existing) {
      existing.agg.merge(w);
      existing.reports++;
    } else merged.set(id, { key, agg: WindowAggregate.fromSerialized(w), reports: 1 });
  }
  if (merged.size === 0) return;
  const entries = [...merged.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  // Create missing rows (empty), then lock them all in key order and merge.
  await tx
    .insert(deploymentMetrics)
    .values(
      entries.map(([, { key }]) => ({
        environment,
        granularity,
        ...key,
        topErrors: [],
      })),
    )
    .onConflictDoNothing();
  const starts = [...new Set(entries.map(([, e]) => e.key.windowStartMs))];
  const flags = [...new Set(entries.map(([, e]) => e.key.flagKey))];
  const rows = await tx
    .select()
    .from(deploymentMetrics)
    .where(
      and(
        eq(deploymentMetrics.environment, environment),
        eq(deploymentMetrics.granularity, granularity),
        inArray(deploymentMetrics.flagKey, flags),
        inArray(deploymentMetrics.windowStartMs, starts),
      ),
    )
    .orderBy(
      deploymentMetrics.flagKey,
      deploymentMetrics.windowStartMs,
      deploymentMetrics.stage,
      deploymentMetrics.cohort,
      deploymentMetrics.variant,
      deploymentMetrics.endpoint,
    )
    .for('update');
  const byId = new Map(rows.map((r) => [seriesId(r), r]));
  for (const [id, { agg, reports }] of entries) {
    const row = byId.get(id);
    if (!row) throw new Error(`deployment_metrics row ${id} vanished during ingest`);
    if (row.sketch && row.reports > 0) agg.merge(rowToWindow(row));
    await tx
      .update(deploymentMetrics)
      .set({
        ...rowValues(agg),
        durationMs: Math.max(row.durationMs, agg.durationMs),
        reports: row.reports + reports,
        updatedAt: new Date(),
      })
      .where(eq(deploymentMetrics.id, row.id));
  }
}

async function upsertGauges(
  tx: DbOrTx,
  environment: string,
  instanceId: string,
  gauges: readonly GaugeWindow[],
) {
  if (gauges.length === 0) return;
  const greatest = (col: string) => sql.raw(`greatest(instance_gauges.${col}, excluded.${col})`);
  await tx
    .insert(instanceGauges)
    .values(
      gauges.map((g) => ({
        environment,
        instanceId,
        windowStartMs: g.windowStart,
        durationMs: g.durationMs,
        heapUsedPercent: g.heapUsedPercent ?? null,
        rssBytes: g.rssBytes ?? null,
        cpuPercent: g.cpuPercent ?? null,
        eventLoopDelayP99Ms: g.eventLoopDelayP99Ms ?? null,
        dbPoolSaturationPercent: g.dbPoolSaturationPercent ?? null,
        dbPoolWaiters: g.dbPoolWaiters ?? null,
      })),
    )
    .onConflictDoUpdate({
      target: [instanceGauges.environment, instanceGauges.windowStartMs, instanceGauges.instanceId],
      set: {
        heapUsedPercent: greatest('heap_used_percent'),
        rssBytes: greatest('rss_bytes'),
        cpuPercent: greatest('cpu_percent'),
        eventLoopDelayP99Ms: greatest('event_loop_delay_p99_ms'),
        dbPoolSaturationPercent: greatest('db_pool_saturation_percent'),
        dbPoolWaiters: greatest('db_pool_waiters'),
      },
    });
}

async function upsertUsage(
  tx: DbOrTx,
  environment: string,
  windowStartMs: number,
  evaluations: NonNullable<MetricsBatch['evaluations']>,
) {
  const sums = new Map<string, { flagKey: string; variant: string; count: number }>();
  for (const e of evaluations) {
    const variant = e.variant ?? '';
    const id = `${e.flag}\u0000${variant}`;
    const s = sums.get(id);
    if (s) s.count += e.count;
    else sums.set(id, { flagKey: e.flag, variant, count: e.count });
  }
  if (sums.size === 0) return;
  await tx
    .insert(flagUsage)
    .values([...sums.values()].map((s) => ({ environment, windowStartMs, ...s })))
    .onConflictDoUpdate({
      target: [flagUsage.environment, flagUsage.windowStartMs, flagUsage.flagKey, flagUsage.variant],
      set: { count: sql`flag_usage.count + excluded.count` },
    });
}

const RETRYABLE = new Set(['40001', '40P01']);

/**
 * Ingests one batch for `environment` in one transaction; a duplicate (same instance and batch
 * key) changes nothing. Serialization failures and deadlocks are retried.
 */
export async function ingestMetricsBatch(
  db: Db,
  environment: string,
  batch: MetricsBatch,
  options: { nowMs?: number; usageWindowMs: number },
): Promise<IngestResult> {
  validateBatchWindows(batch);
  const nowMs = options.nowMs ?? Date.now();
  for (let attempt = 0; ; attempt++) {
    try {
      return await db.transaction(async (tx) => {
        const inserted = await tx
          .insert(metricBatches)
          .values({
            instanceId: batch.instanceId,
            batchKey: batch.batchKey,
            environment,
            windows: batch.windows.length,
          })
          .onConflictDoNothing()
          .returning({ key: metricBatches.batchKey });
        if (inserted.length === 0) return { accepted: 0, duplicate: true, flags: [] };
        await mergeWindowsInto(tx, environment, 'raw', batch.windows);
        await upsertGauges(tx, environment, batch.instanceId, batch.gauges ?? []);
        await upsertUsage(
          tx,
          environment,
          alignWindow(nowMs, options.usageWindowMs),
          batch.evaluations ?? [],
        );
        const flags = [...new Set(batch.windows.map((w) => w.flag))];
        if (flags.length > 0) await notify(tx, METRICS_CHANNEL, environment);
        return { accepted: batch.windows.length, duplicate: false, flags };
      });
    } catch (err) {
      const code =
        (err as { code?: string; cause?: { code?: string } }).code ??
        (err as { cause?: { code?: string } }).cause?.code;
      if (attempt < 3 && code && RETRYABLE.has(code)) continue;
      throw err;
    }
  }
}

/** Keys of the rows of a flag's raw windows since `sinceMs` (decisions and health read these). */
export async function loadWindows(
  db: DbOrTx,
  environment: string,
  flagKey: string,
  sinceMs: number,
  granularity = 'raw',
): Promise<SerializedWindow[]> {
  const rows = await db
    .select()
    .from(deploymentMetrics)
    .where(
      and(
        eq(deploymentMetrics.environment, environment),
        eq(deploymentMetrics.flagKey, flagKey),
        eq(deploymentMetrics.granularity, granularity),
        sql`${deploymentMetrics.windowStartMs} >= ${sinceMs}`,
      ),
    )
    .orderBy(deploymentMetrics.windowStartMs);
  return rows.filter((r) => r.reports > 0).map(rowToWindow);
}

export async function loadGauges(db: DbOrTx, environment: string, sinceMs: number): Promise<GaugeWindow[]> {
  const rows = await db
    .select()
    .from(instanceGauges)
    .where(
      and(eq(instanceGauges.environment, environment), sql`${instanceGauges.windowStartMs} >= ${sinceMs}`),
    );
  return rows.map((r) => {
    const g: GaugeWindow = { windowStart: r.windowStartMs, durationMs: r.durationMs };
    if (r.heapUsedPercent !== null) g.heapUsedPercent = r.heapUsedPercent;
    if (r.rssBytes !== null) g.rssBytes = r.rssBytes;
    if (r.cpuPercent !== null) g.cpuPercent = r.cpuPercent;
    if (r.eventLoopDelayP99Ms !== null) g.eventLoopDelayP99Ms = r.eventLoopDelayP99Ms;
    if (r.dbPoolSaturationPercent !== null) g.dbPoolSaturationPercent = r.dbPoolSaturationPercent;
    if (r.dbPoolWaiters !== null) g.dbPoolWaiters = r.dbPoolWaiters;
    return g;
  });
}
