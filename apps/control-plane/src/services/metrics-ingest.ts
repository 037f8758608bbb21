// Ingest of SDK metric batches: validated with core, idempotent on (instance, batch key), merged
// into one deployment_metrics row per series window (sketches merged with core's LatencySketch),
// gauges and flag usage upserted — all in one transaction of a few statements whatever the batch
// size (rows travel as one JSON parameter), then a NOTIFY wakes the scheduler for the batch's
// canary and guarded flags.
import {
  alignWindow,
  type GaugeWindow,
  type MetricsBatch,
  type SerializedUnitSketch,
  type SerializedWindow,
  serializeUnitSketch,
  validateSerializedWindow,
  WindowAggregate,
} from '@rupaya/flags-core';
import { and, eq, getTableColumns, type SQL, sql } from 'drizzle-orm';
import { type Db, type DbOrTx, queryPrepared } from '../db/client';
import { deploymentMetrics, instanceGauges } from '../db/schema/index';
import { errors } from '../errors';

export const METRICS_CHANNEL = 'rupaya_metrics';
/** NOTIFY payloads must stay under 8,000 bytes; past this the flag list is left out. */
const MAX_NOTIFY_PAYLOAD_BYTES = 7_000;

/** What an ingest tells the scheduler: the environment and the flags whose windows arrived. */
export interface MetricsNotification {
  environment: string;
  /** Null: not listed (too many, or an older sender) — every flag of the environment. */
  flags: string[] | null;
}

/** The NOTIFY payload of an ingest: JSON `{ environment, flags }` (flags left out when too long). */
export function metricsNotificationPayload(environment: string, flags: readonly string[]): string {
  const full = JSON.stringify({ environment, flags });
  return Buffer.byteLength(full) <= MAX_NOTIFY_PAYLOAD_BYTES ? full : JSON.stringify({ environment });
}

/** Reads a payload of `metricsNotificationPayload` (a bare environment name is read as all its flags). */
export function parseMetricsNotification(payload: string): MetricsNotification | null {
  if (payload === '') return null;
  try {
    const v = JSON.parse(payload) as { environment?: unknown; flags?: unknown };
    if (v && typeof v === 'object' && typeof v.environment === 'string') {
      const flags =
        Array.isArray(v.flags) && v.flags.every((f) => typeof f === 'string') ? (v.flags as string[]) : null;
      return { environment: v.environment, flags };
    }
  } catch {
    // not JSON: a bare environment name
  }
  return { environment: payload, flags: null };
}
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

/** The columns of a stored row that make a window. */
type WindowRow = Pick<
  typeof deploymentMetrics.$inferSelect,
  | 'windowStartMs'
  | 'durationMs'
  | 'flagKey'
  | 'endpoint'
  | 'requests'
  | 'errors'
  | 'topErrors'
  | 'sketch'
  | 'unitSketch'
  | 'cohort'
  | 'variant'
  | 'stage'
>;

/** A stored row as core's SerializedWindow (for merging and for decisions). */
export function rowToWindow(row: WindowRow): SerializedWindow {
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
  if (row.unitSketch) w.units = row.unitSketch;
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
    unitSketch: agg.units ? serializeUnitSketch(agg.units) : null,
    units: s.units === null ? null : Math.round(s.units),
  };
}

/** Rows go to the database as one JSON parameter (one statement whatever their number). */
const jsonParam = (value: unknown) => sql`${JSON.stringify(value)}::json`;

/** The series of a list of windows, each merged within the list, in key order (the lock order). */
interface MergePlan {
  environment: string;
  granularity: string;
  entries: [string, { key: SeriesKey; agg: WindowAggregate; reports: number }][];
}

function planMerge(
  environment: string,
  granularity: string,
  windows: readonly SerializedWindow[],
): MergePlan | null {
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
  if (merged.size === 0) return null;
  const entries = [...merged.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return { environment, granularity, entries };
}

/** INSERT of the plan's rows that do not exist yet (empty), in key order; `when` gates it. */
function createRowsSql(plan: MergePlan, when?: SQL): SQL {
  const keys = plan.entries.map(([, { key }]) => ({
    f: key.flagKey,
    w: key.windowStartMs,
    d: key.durationMs,
    s: key.stage,
    c: key.cohort,
    v: key.variant,
    e: key.endpoint,
  }));
  return sql`insert into deployment_metrics
      (environment, granularity, flag_key, window_start_ms, duration_ms, stage, cohort, variant, endpoint, top_errors)
    select ${plan.environment}, ${plan.granularity}, k.f, k.w, k.d, k.s, k.c, k.v, k.e, '[]'::jsonb
    from json_to_recordset(${jsonParam(keys)}) as k(f text, w bigint, d integer, s integer, c text, v text, e text)
    ${when ? sql`where ${when}` : sql``}
    on conflict do nothing`;
}

interface LockedRow extends WindowRow {
  id: number;
  reports: number;
}

/**
 * Locks the rows of the plan's flags and window starts in a stable order (flag, start, stage,
 * cohort, variant, endpoint), so concurrent merges of the same series serialise without deadlock.
 */
async function lockRows(tx: DbOrTx, plan: MergePlan): Promise<Map<string, LockedRow>> {
  const starts = [...new Set(plan.entries.map(([, e]) => e.key.windowStartMs))];
  const flags = [...new Set(plan.entries.map(([, e]) => e.key.flagKey))];
  const rows = await queryPrepared(
    tx,
    sql`select id, flag_key, window_start_ms, duration_ms, stage, cohort,
      variant, endpoint, requests, errors, sketch, unit_sketch, top_errors, reports
    from deployment_metrics
    where environment = ${plan.environment} and granularity = ${plan.granularity}
      and flag_key = any(array(select json_array_elements_text(${jsonParam(flags)})))
      and window_start_ms = any(array(select json_array_elements_text(${jsonParam(starts)})::bigint))
    order by flag_key, window_start_ms, stage, cohort, variant, endpoint
    for update`,
  );
  const byId = new Map<string, LockedRow>();
  for (const r of rows) {
    const row: LockedRow = {
      id: Number(r.id),
      flagKey: r.flag_key as string,
      windowStartMs: Number(r.window_start_ms),
      durationMs: Number(r.duration_ms),
      stage: Number(r.stage),
      cohort: r.cohort as string,
      variant: r.variant as string,
      endpoint: r.endpoint as string,
      requests: Number(r.requests),
      errors: Number(r.errors),
      sketch: (r.sketch ?? null) as LockedRow['sketch'],
      unitSketch: (r.unit_sketch ?? null) as LockedRow['unitSketch'],
      topErrors: (r.top_errors ?? []) as LockedRow['topErrors'],
      reports: Number(r.reports),
    };
    byId.set(seriesId(row), row);
  }
  return byId;
}

/** One UPDATE writing every merged row (float columns round-trip exactly through JSON numbers). */
function updateRowsSql(plan: MergePlan, rows: Map<string, LockedRow>): SQL {
  const updates: Record<string, unknown>[] = [];
  for (const [id, { agg, reports }] of plan.entries) {
    const row = rows.get(id);
    if (!row) throw new Error(`deployment_metrics row ${id} vanished during ingest`);
    if (row.sketch && row.reports > 0) agg.merge(rowToWindow(row));
    const v = rowValues(agg);
    updates.push({
      id: row.id,
      requests: v.requests,
      errors: v.errors,
      errorRate: v.errorRate,
      p50: v.p50,
      p95: v.p95,
      p99: v.p99,
      rps: v.rps,
      sketch: v.sketch,
      topErrors: v.topErrors,
      unitSketch: v.unitSketch,
      units: v.units,
      durationMs: Math.max(row.durationMs, agg.durationMs),
      reports: row.reports + reports,
    });
  }
  return sql`update deployment_metrics as m set
      requests = u."requests", errors = u."errors", error_rate = u."errorRate",
      p50 = u."p50", p95 = u."p95", p99 = u."p99", rps = u."rps",
      sketch = u."sketch", top_errors = u."topErrors", unit_sketch = u."unitSketch", units = u."units",
      duration_ms = u."durationMs", reports = u."reports", updated_at = ${new Date().toISOString()}::timestamptz
    from json_to_recordset(${jsonParam(updates)})
      as u("id" bigint, "requests" bigint, "errors" bigint, "errorRate" double precision,
        "p50" double precision, "p95" double precision, "p99" double precision, "rps" double precision,
        "sketch" jsonb, "topErrors" jsonb, "unitSketch" jsonb, "units" bigint, "durationMs" integer, "reports" integer)
    where m.id = u."id"`;
}

/**
 * Merges `windows` (same granularity) into deployment_metrics, creating rows as needed: three
 * statements whatever the number of series (create missing rows, lock them in key order, update).
 */
export async function mergeWindowsInto(
  tx: DbOrTx,
  environment: string,
  granularity: string,
  windows: readonly SerializedWindow[],
): Promise<void> {
  const plan = planMerge(environment, granularity, windows);
  if (!plan) return;
  await queryPrepared(tx, createRowsSql(plan));
  await queryPrepared(tx, updateRowsSql(plan, await lockRows(tx, plan)));
}

/** Upsert of an instance's gauges (the worst value of a window wins). */
function gaugesSql(environment: string, instanceId: string, gauges: readonly GaugeWindow[]): SQL {
  const rows = gauges.map((g) => ({
    w: g.windowStart,
    d: g.durationMs,
    heap: g.heapUsedPercent ?? null,
    rss: g.rssBytes ?? null,
    cpu: g.cpuPercent ?? null,
    eld: g.eventLoopDelayP99Ms ?? null,
    pool: g.dbPoolSaturationPercent ?? null,
    waiters: g.dbPoolWaiters ?? null,
  }));
  return sql`insert into instance_gauges (environment, instance_id, window_start_ms, duration_ms,
      heap_used_percent, rss_bytes, cpu_percent, event_loop_delay_p99_ms, db_pool_saturation_percent, db_pool_waiters)
    select ${environment}, ${instanceId}, g.w, g.d, g.heap, g.rss, g.cpu, g.eld, g.pool, g.waiters
    from json_to_recordset(${jsonParam(rows)})
      as g(w bigint, d integer, heap double precision, rss double precision, cpu double precision,
        eld double precision, pool double precision, waiters double precision)
    on conflict (environment, window_start_ms, instance_id) do update set
      heap_used_percent = greatest(instance_gauges.heap_used_percent, excluded.heap_used_percent),
      rss_bytes = greatest(instance_gauges.rss_bytes, excluded.rss_bytes),
      cpu_percent = greatest(instance_gauges.cpu_percent, excluded.cpu_percent),
      event_loop_delay_p99_ms = greatest(instance_gauges.event_loop_delay_p99_ms, excluded.event_loop_delay_p99_ms),
      db_pool_saturation_percent = greatest(instance_gauges.db_pool_saturation_percent, excluded.db_pool_saturation_percent),
      db_pool_waiters = greatest(instance_gauges.db_pool_waiters, excluded.db_pool_waiters)`;
}

/** Upsert of the evaluation counts of a batch, summed per flag and variant, into the usage window. */
function usageSql(
  environment: string,
  windowStartMs: number,
  evaluations: NonNullable<MetricsBatch['evaluations']>,
): SQL | null {
  const sums = new Map<string, { flagKey: string; variant: string; count: number }>();
  for (const e of evaluations) {
    const variant = e.variant ?? '';
    const id = `${e.flag}\u0000${variant}`;
    const s = sums.get(id);
    if (s) s.count += e.count;
    else sums.set(id, { flagKey: e.flag, variant, count: e.count });
  }
  if (sums.size === 0) return null;
  return sql`insert into flag_usage (environment, window_start_ms, flag_key, variant, count)
    select ${environment}, ${windowStartMs}, u."flagKey", u."variant", u."count"
    from json_to_recordset(${jsonParam([...sums.values()])})
      as u("flagKey" text, "variant" text, "count" bigint)
    on conflict (environment, window_start_ms, flag_key, variant) do update
      set count = flag_usage.count + excluded.count`;
}

const RETRYABLE = new Set(['40001', '40P01']);

/**
 * Ingests one batch for `environment` in one transaction; a duplicate (same instance and batch
 * key) changes nothing. Serialization failures and deadlocks are retried. Three statements
 * whatever the batch holds: claim the batch key and create missing rows; lock the rows; update
 * them, upsert gauges and usage, and NOTIFY the scheduler when a flag of the batch has stages or
 * a guard in this environment.
 */
export async function ingestMetricsBatch(
  db: Db,
  environment: string,
  batch: MetricsBatch,
  options: { nowMs?: number; usageWindowMs: number },
): Promise<IngestResult> {
  validateBatchWindows(batch);
  const nowMs = options.nowMs ?? Date.now();
  const flags = [...new Set(batch.windows.map((w) => w.flag))];
  for (let attempt = 0; ; attempt++) {
    try {
      return await db.transaction(async (tx) => {
        // The plan holds merge state: a rerun of the transaction starts from the batch again.
        const plan = planMerge(environment, 'raw', batch.windows);
        const claim = sql`insert into metric_batches (instance_id, batch_key, environment, windows)
          values (${batch.instanceId}, ${batch.batchKey}, ${environment}, ${batch.windows.length})
          on conflict do nothing returning 1`;
        const claimed = await queryPrepared<{ claimed: number }>(
          tx,
          plan
            ? sql`with claimed as (${claim}), created as (${createRowsSql(plan, sql`exists (select 1 from claimed)`)})
                  select count(*)::int as claimed from claimed`
            : sql`with claimed as (${claim}) select count(*)::int as claimed from claimed`,
        );
        if (Number(claimed[0]?.claimed ?? 0) === 0) return { accepted: 0, duplicate: true, flags: [] };
        const writes: SQL[] = [];
        if (plan) writes.push(updateRowsSql(plan, await lockRows(tx, plan)));
        if (batch.gauges?.length) writes.push(gaugesSql(environment, batch.instanceId, batch.gauges));
        const usage = usageSql(
          environment,
          alignWindow(nowMs, options.usageWindowMs),
          batch.evaluations ?? [],
        );
        if (usage) writes.push(usage);
        // The writes as data-modifying CTEs of one statement, with the NOTIFY (delivered on commit)
        // when one of the flags may be a canary or a guarded rollout here (stages or guard set):
        // the scheduler has nothing to do for the others.
        const notification =
          flags.length > 0
            ? sql`select pg_notify(${METRICS_CHANNEL}, ${metricsNotificationPayload(environment, flags)})
                where exists (select 1 from flag_configs where environment = ${environment}
                  and flag_key = any(array(select json_array_elements_text(${jsonParam(flags)})))
                  and (config -> 'stages' is not null or config -> 'guard' = 'true'::jsonb))`
            : sql`select 1`;
        if (writes.length > 0 || flags.length > 0) {
          await queryPrepared(
            tx,
            writes.length > 0
              ? sql`with ${sql.join(
                  writes.map((w, i) => sql`${sql.raw(`w${i}`)} as (${w})`),
                  sql`, `,
                )} ${notification}`
              : notification,
          );
        }
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

/**
 * Keys of the rows of a flag's raw windows since `sinceMs` (decisions and health read these). Unit
 * sketches are read only when asked: `units: true` for every row (health's traffic tracking), or
 * `units: { sinceMs, cohorts }` for the rows of those cohorts from that time on (the scheduler's
 * sample-ratio check, over the comparison horizon only: a sketch is up to 4 KB to fetch and parse).
 */
export async function loadWindows(
  db: DbOrTx,
  environment: string,
  flagKey: string,
  sinceMs: number,
  granularity = 'raw',
  options: { units?: boolean | { sinceMs: number; cohorts: readonly string[] } } = {},
): Promise<SerializedWindow[]> {
  const { unitSketch, ...columns } = getTableColumns(deploymentMetrics);
  const units = options.units;
  const unitColumn =
    units === true
      ? unitSketch
      : units && units.cohorts.length > 0
        ? sql<SerializedUnitSketch | null>`case when ${deploymentMetrics.windowStartMs} >= ${units.sinceMs} and ${deploymentMetrics.cohort} in (${sql.join(
            units.cohorts.map((c) => sql`${c}`),
            sql`, `,
          )}) then ${deploymentMetrics.unitSketch} end`.mapWith(deploymentMetrics.unitSketch)
        : undefined;
  const rows = await db
    .select(unitColumn ? { ...columns, unitSketch: unitColumn } : columns)
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
  return rows.filter((r) => r.reports > 0).map((r) => rowToWindow({ unitSketch: null, ...r }));
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
