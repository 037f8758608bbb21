// Metrics, canary decisions and webhook deliveries. Each index names the query that uses it.
import type { ErrorGroup, SerializedSketch, SerializedUnitSketch } from '@rupaya/flags-core';
import {
  bigint,
  bigserial,
  boolean,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';

const createdAt = () => timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow();

/**
 * Merged windows per (environment, flag, stage, cohort, variant, endpoint, window start): raw
 * windows (`granularity = 'raw'`, the SDK window length) and 1-minute roll-ups (`'1m'`). The sketch
 * is the merged latency sketch; quantiles, rates and top errors are derived from the merged data.
 * `unit_sketch` is the merged distinct-unit sketch (HyperLogLog) of the windows that carried one, and
 * `units` its estimate; both null when no SDK reported units for the row (older SDKs). SDKs count
 * units per (flag, cohort/variant, stage) across endpoints and send them on one endpoint's window, so
 * a series' units are the union over its endpoint rows, never a sum.
 * `stage` is −1, `cohort`/`variant` '' when not reported.
 */
export const deploymentMetrics = pgTable(
  'deployment_metrics',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    environment: text('environment').notNull(),
    flagKey: text('flag_key').notNull(),
    granularity: text('granularity').notNull(),
    windowStartMs: bigint('window_start_ms', { mode: 'number' }).notNull(),
    durationMs: integer('duration_ms').notNull(),
    stage: integer('stage').notNull().default(-1),
    cohort: text('cohort').notNull().default(''),
    variant: text('variant').notNull().default(''),
    endpoint: text('endpoint').notNull(),
    requests: bigint('requests', { mode: 'number' }).notNull().default(0),
    errors: bigint('errors', { mode: 'number' }).notNull().default(0),
    /** errors / requests (fraction). */
    errorRate: doublePrecision('error_rate'),
    p50: doublePrecision('p50'),
    p95: doublePrecision('p95'),
    p99: doublePrecision('p99'),
    rps: doublePrecision('rps').notNull().default(0),
    sketch: jsonb('sketch').$type<SerializedSketch>(),
    topErrors: jsonb('top_errors').$type<ErrorGroup[]>().notNull().default([]),
    unitSketch: jsonb('unit_sketch').$type<SerializedUnitSketch>(),
    /** Estimated distinct units of `unit_sketch` (rounded). */
    units: bigint('units', { mode: 'number' }),
    /** Batches merged into the row. */
    reports: integer('reports').notNull().default(0),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [
    // Ingest upsert/merge of one series window; the scheduler's per-flag window reads use its prefix.
    uniqueIndex('deployment_metrics_series_idx').on(
      t.environment,
      t.flagKey,
      t.granularity,
      t.windowStartMs,
      t.stage,
      t.cohort,
      t.variant,
      t.endpoint,
    ),
    // metrics/range, metrics/health and retention/roll-up scans by environment and time.
    index('deployment_metrics_env_time_idx').on(t.environment, t.granularity, t.windowStartMs),
  ],
);

/** Idempotency of `POST /api/sdk/v1/metrics`: one row per accepted (instance, batch key). */
export const metricBatches = pgTable(
  'metric_batches',
  {
    instanceId: text('instance_id').notNull(),
    batchKey: text('batch_key').notNull(),
    environment: text('environment').notNull(),
    windows: integer('windows').notNull(),
    receivedAt: timestamp('received_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [
    // Duplicate check on ingest: the primary key.
    primaryKey({ columns: [t.instanceId, t.batchKey] }),
    // Retention of old batch keys.
    index('metric_batches_received_idx').on(t.receivedAt),
  ],
);

/** Resource gauges per reporting instance and window (the worst instance counts in decisions). */
export const instanceGauges = pgTable(
  'instance_gauges',
  {
    environment: text('environment').notNull(),
    instanceId: text('instance_id').notNull(),
    windowStartMs: bigint('window_start_ms', { mode: 'number' }).notNull(),
    durationMs: integer('duration_ms').notNull(),
    heapUsedPercent: doublePrecision('heap_used_percent'),
    rssBytes: doublePrecision('rss_bytes'),
    cpuPercent: doublePrecision('cpu_percent'),
    eventLoopDelayP99Ms: doublePrecision('event_loop_delay_p99_ms'),
    dbPoolSaturationPercent: doublePrecision('db_pool_saturation_percent'),
    dbPoolWaiters: doublePrecision('db_pool_waiters'),
  },
  (t) => [
    // Upsert per instance and window; the scheduler reads an environment's recent windows.
    primaryKey({ columns: [t.environment, t.windowStartMs, t.instanceId] }),
  ],
);

/** Evaluations per flag and variant per window (metrics/flag-usage and /health). */
export const flagUsage = pgTable(
  'flag_usage',
  {
    environment: text('environment').notNull(),
    flagKey: text('flag_key').notNull(),
    variant: text('variant').notNull().default(''),
    windowStartMs: bigint('window_start_ms', { mode: 'number' }).notNull(),
    count: bigint('count', { mode: 'number' }).notNull().default(0),
  },
  (t) => [
    // Upsert on ingest; flag-usage range reads by environment and time use the prefix after env.
    primaryKey({ columns: [t.environment, t.windowStartMs, t.flagKey, t.variant] }),
  ],
);

/**
 * Every automatic evaluation of a canary or guarded rollout, acted on or not: the decision of core,
 * what was applied (`outcome`), each check, the test statistics and the windows used.
 */
export const rollbackDecisions = pgTable(
  'rollback_decisions',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    environment: text('environment').notNull(),
    flagKey: text('flag_key').notNull(),
    /** 'canary' | 'guard'. */
    kind: text('kind').notNull(),
    runId: text('run_id'),
    stage: integer('stage').notNull(),
    percent: doublePrecision('percent').notNull(),
    /** What core decided: advance | hold | rollback | complete. */
    action: text('action').notNull(),
    /**
     * What happened: advanced | completed | rolled_back | held | would_roll_back (circuit breaker
     * off or autoRollback false) | skipped (window already acted on, or state changed meanwhile).
     */
    outcome: text('outcome').notNull(),
    applied: boolean('applied').notNull(),
    reasons: jsonb('reasons').$type<string[]>().notNull(),
    checks: jsonb('checks').notNull(),
    stats: jsonb('stats').notNull(),
    policy: jsonb('policy').notNull(),
    treatmentRequests: bigint('treatment_requests', { mode: 'number' }).notNull(),
    controlRequests: bigint('control_requests', { mode: 'number' }).notNull(),
    z: doublePrecision('z'),
    pValue: doublePrecision('p_value'),
    /** Start of the latest complete window the decision saw (ms). */
    latestWindowStartMs: bigint('latest_window_start_ms', { mode: 'number' }),
    /** 'ingest' | 'timer' | 'manual'. */
    trigger: text('trigger').notNull(),
    /** The replica that decided. */
    leader: text('leader').notNull(),
    canaryLogId: bigint('canary_log_id', { mode: 'number' }),
    createdAt: createdAt(),
  },
  (t) => [
    // Decisions of a flag, newest first (admin API, metrics/health, "already acted on this window").
    index('rollback_decisions_flag_idx').on(t.environment, t.flagKey, t.id),
    // Retention.
    index('rollback_decisions_created_idx').on(t.createdAt),
  ],
);

/** Last percentage at which a guarded rollout was healthy: where a breach returns it. */
export const guardStates = pgTable(
  'guard_states',
  {
    environment: text('environment').notNull(),
    flagKey: text('flag_key').notNull(),
    lastHealthyPercent: doublePrecision('last_healthy_percent').notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.environment, t.flagKey] })],
);

/** One delivery of one outbox event to one webhook, with its attempts (the delivery log). */
export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    outboxId: bigint('outbox_id', { mode: 'number' }).notNull(),
    webhookId: text('webhook_id').notNull(),
    topic: text('topic').notNull(),
    /** pending | delivered | failed (retries exhausted). */
    status: text('status').notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    lastStatusCode: integer('last_status_code'),
    lastError: text('last_error'),
    /** Every attempt: { at, statusCode?, error?, durationMs }. */
    log: jsonb('log')
      .$type<{ at: string; statusCode?: number; error?: string; durationMs: number }[]>()
      .notNull()
      .default([]),
    deliveredAt: timestamp('delivered_at', { withTimezone: true, mode: 'date' }),
    createdAt: createdAt(),
  },
  (t) => [
    // Fan-out is idempotent: one delivery per (event, webhook).
    uniqueIndex('webhook_deliveries_event_hook_idx').on(t.outboxId, t.webhookId),
    // The deliverer's due-work scan.
    index('webhook_deliveries_due_idx').on(t.status, t.nextAttemptAt),
    // Delivery log of a webhook, newest first.
    index('webhook_deliveries_hook_idx').on(t.webhookId, t.id),
  ],
);
