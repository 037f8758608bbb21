// Experiment data: one row per exposed unit, per-unit metric aggregates, and the sufficient
// statistics per (experiment, variant, metric) maintained incrementally at ingest, so an analysis
// reads O(variants × metrics) rows, never the units. Each index names the query that uses it.
import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  doublePrecision,
  index,
  integer,
  pgTable,
  primaryKey,
  text,
  timestamp,
} from 'drizzle-orm/pg-core';

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/**
 * One row per (environment, experiment, unit): the variant of the unit's first exposure and when.
 * A unit later seen in another variant is marked `conflicting` and excluded from every statistic.
 */
export const experimentResults = pgTable(
  'experiment_results',
  {
    environment: text('environment').notNull(),
    experimentKey: text('experiment_key').notNull(),
    unitKey: text('unit_key').notNull(),
    variant: text('variant').notNull(),
    firstExposureAt: ts('first_exposure_at').notNull(),
    lastExposureAt: ts('last_exposure_at').notNull(),
    exposures: integer('exposures').notNull().default(1),
    conflicting: boolean('conflicting').notNull().default(false),
    /** The other variant the unit was seen in (the first one seen). */
    conflictingVariant: text('conflicting_variant'),
  },
  (t) => [
    // Exposure upserts: the primary key.
    primaryKey({ columns: [t.environment, t.experimentKey, t.unitKey] }),
    // Event ingest finds a unit's experiments by (environment, unit).
    index('experiment_results_unit_idx').on(t.environment, t.unitKey),
    // Cold rebuild of the statistics groups an experiment's units by variant.
    index('experiment_results_variant_idx').on(t.environment, t.experimentKey, t.variant),
    // Cold rebuild: the (few) conflicting units whose metric rows are left out of the statistics.
    index('experiment_results_conflicting_idx')
      .on(t.environment, t.experimentKey, t.unitKey)
      .where(sql`${t.conflicting}`),
  ],
);

/**
 * Per unit and metric event: number of events and sum of their values since the first exposure.
 * `variant` is the unit's variant in `experiment_results` (set at its first exposure, never changed),
 * kept here so that the cold rebuild groups these rows by variant in one pass, without a join.
 */
export const experimentUnitMetrics = pgTable(
  'experiment_unit_metrics',
  {
    environment: text('environment').notNull(),
    experimentKey: text('experiment_key').notNull(),
    unitKey: text('unit_key').notNull(),
    variant: text('variant').notNull(),
    event: text('event').notNull(),
    count: bigint('count', { mode: 'number' }).notNull().default(0),
    sum: doublePrecision('sum').notNull().default(0),
  },
  // Event upserts on the full key (primary key, experiment first).
  (t) => [primaryKey({ columns: [t.environment, t.experimentKey, t.unitKey, t.event] })],
);

/** Units and exposures per variant (non-conflicting units; conflicting ones counted apart). */
export const experimentVariantUnits = pgTable(
  'experiment_variant_units',
  {
    environment: text('environment').notNull(),
    experimentKey: text('experiment_key').notNull(),
    variant: text('variant').notNull(),
    units: bigint('units', { mode: 'number' }).notNull().default(0),
    exposures: bigint('exposures', { mode: 'number' }).notNull().default(0),
    excludedUnits: bigint('excluded_units', { mode: 'number' }).notNull().default(0),
    firstExposureAt: ts('first_exposure_at'),
  },
  // Analysis reads all variants of one experiment: the primary key prefix.
  (t) => [primaryKey({ columns: [t.environment, t.experimentKey, t.variant] })],
);

/**
 * Sufficient statistics of one metric in one variant over its units (units without events are 0):
 * converted units, Σ count, Σ count², Σ value, Σ value² of the per-unit aggregates.
 */
export const experimentMetricStats = pgTable(
  'experiment_metric_stats',
  {
    environment: text('environment').notNull(),
    experimentKey: text('experiment_key').notNull(),
    variant: text('variant').notNull(),
    event: text('event').notNull(),
    converted: bigint('converted', { mode: 'number' }).notNull().default(0),
    sumCount: doublePrecision('sum_count').notNull().default(0),
    sumCountSquares: doublePrecision('sum_count_squares').notNull().default(0),
    sumValue: doublePrecision('sum_value').notNull().default(0),
    sumValueSquares: doublePrecision('sum_value_squares').notNull().default(0),
  },
  // Analysis reads all rows of one experiment: the primary key prefix.
  (t) => [primaryKey({ columns: [t.environment, t.experimentKey, t.variant, t.event] })],
);

/**
 * Events of tracked metrics that arrived before their unit's exposure (batches from one SDK can
 * land out of order); applied when the exposure arrives, pruned after a retention period.
 */
export const experimentPendingEvents = pgTable(
  'experiment_pending_events',
  {
    environment: text('environment').notNull(),
    unitKey: text('unit_key').notNull(),
    event: text('event').notNull(),
    value: doublePrecision('value'),
    occurredAt: ts('occurred_at').notNull(),
    receivedAt: ts('received_at').notNull().defaultNow(),
  },
  (t) => [
    // Exposure ingest looks up the pending events of its units.
    index('experiment_pending_unit_idx').on(t.environment, t.unitKey),
    // Pruning by age.
    index('experiment_pending_received_idx').on(t.receivedAt),
  ],
);

/** Idempotency of exposure/event batches: (kind, environment, instanceId, batchKey) is accepted once. */
export const experimentBatches = pgTable(
  'experiment_batches',
  {
    kind: text('kind').notNull(),
    environment: text('environment').notNull(),
    instanceId: text('instance_id').notNull(),
    batchKey: text('batch_key').notNull(),
    accepted: integer('accepted').notNull(),
    receivedAt: ts('received_at').notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.kind, t.environment, t.instanceId, t.batchKey] })],
);
