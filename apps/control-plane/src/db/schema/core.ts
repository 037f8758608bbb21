// Core tables: environments, flag definitions, per-environment configurations, audit, canary logs,
// snapshot revisions, webhooks and the outbox. Each index names the query that uses it.
import { sql } from 'drizzle-orm';
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
} from 'drizzle-orm/pg-core';

const createdAt = () => timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow();

/** dev, staging, prod and custom ones. `revision` is the current snapshot revision (row-locked on write). */
export const environments = pgTable('environments', {
  key: text('key').primaryKey(),
  name: text('name').notNull(),
  revision: bigint('revision', { mode: 'number' }).notNull().default(0),
  createdAt: createdAt(),
});

/** Flag definitions: what is shared by every environment. Lookups by key use the primary key. */
export const featureFlags = pgTable(
  'feature_flags',
  {
    key: text('key').primaryKey(),
    type: text('type').notNull(),
    description: text('description'),
    tags: jsonb('tags').$type<string[]>(),
    createdAt: createdAt(),
    createdBy: text('created_by').notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    archivedAt: timestamp('archived_at', { withTimezone: true, mode: 'date' }),
  },
  // List of active flags (GET …/feature-flags): partial index on unarchived keys.
  (t) => [index('feature_flags_active_idx').on(t.key).where(sql`${t.archivedAt} is null`)],
);

/**
 * One environment's configuration of a flag: every Flag field except key/type/description/tags, as
 * JSON under core's names. `version` is the optimistic-concurrency counter (ETag).
 */
export const flagConfigs = pgTable(
  'flag_configs',
  {
    flagKey: text('flag_key')
      .notNull()
      .references(() => featureFlags.key),
    environment: text('environment')
      .notNull()
      .references(() => environments.key),
    config: jsonb('config').$type<Record<string, unknown>>().notNull(),
    version: integer('version').notNull().default(1),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    updatedBy: text('updated_by').notNull(),
  },
  (t) => [
    // GET/PUT one flag in one environment: the primary key.
    primaryKey({ columns: [t.environment, t.flagKey] }),
    // Archive / description changes touch every environment of a flag.
    index('flag_configs_flag_idx').on(t.flagKey),
  ],
);

/** Every change: actor, action, environment, before/after, reason, time. */
export const featureFlagsAudit = pgTable(
  'feature_flags_audit',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    flagKey: text('flag_key').notNull(),
    environment: text('environment'),
    action: text('action').notNull(),
    actor: text('actor').notNull(),
    reason: text('reason'),
    before: jsonb('before'),
    after: jsonb('after'),
    version: integer('version'),
    revision: bigint('revision', { mode: 'number' }),
    createdAt: createdAt(),
  },
  // GET …/{key}/audit?environment=: newest first by flag and environment.
  (t) => [index('feature_flags_audit_flag_env_idx').on(t.flagKey, t.environment, t.id)],
);

/** Every canary stage transition, automatic or manual. */
export const canaryDeploymentLogs = pgTable(
  'canary_deployment_logs',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    flagKey: text('flag_key').notNull(),
    environment: text('environment').notNull(),
    runId: text('run_id'),
    action: text('action').notNull(),
    fromStage: integer('from_stage').notNull(),
    toStage: integer('to_stage').notNull(),
    fromPercent: doublePrecision('from_percent').notNull(),
    toPercent: doublePrecision('to_percent').notNull(),
    fromStatus: text('from_status').notNull(),
    toStatus: text('to_status').notNull(),
    automatic: boolean('automatic').notNull(),
    actor: text('actor').notNull(),
    reason: text('reason'),
    metrics: jsonb('metrics'),
    revision: bigint('revision', { mode: 'number' }),
    createdAt: createdAt(),
  },
  // Canary history of a flag in an environment, newest first.
  (t) => [index('canary_logs_flag_env_idx').on(t.flagKey, t.environment, t.id)],
);

/**
 * Snapshot revisions per environment. `flagsJson` is the canonical JSON of the revision's flags,
 * written in the same transaction as the change, so every replica builds byte-identical snapshots.
 */
export const snapshotRevisions = pgTable(
  'snapshot_revisions',
  {
    environment: text('environment')
      .notNull()
      .references(() => environments.key),
    revision: bigint('revision', { mode: 'number' }).notNull(),
    checksum: text('checksum').notNull(),
    flagsJson: text('flags_json').notNull(),
    generatedAt: timestamp('generated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    cause: text('cause'),
  },
  // Latest revision of an environment: primary key scanned backwards.
  (t) => [primaryKey({ columns: [t.environment, t.revision] })],
);

/** Webhook subscriptions (signed deliveries of outbox events). */
export const webhooks = pgTable('webhooks', {
  id: text('id').primaryKey(),
  url: text('url').notNull(),
  secret: text('secret').notNull(),
  events: jsonb('events').$type<string[]>().notNull(),
  environment: text('environment'),
  /** Body format: 'json' (the event) or 'slack' (incoming-webhook `text`). Added by the canary area. */
  format: text('format').notNull().default('json'),
  active: boolean('active').notNull().default(true),
  createdAt: createdAt(),
  createdBy: text('created_by').notNull(),
  /** When and by whom the webhook was deleted (null: active, or deleted before migration 0006). */
  deletedAt: timestamp('deleted_at', { withTimezone: true, mode: 'date' }),
  deletedBy: text('deleted_by'),
});

/** Events written in the same transaction as the change they announce; delivered afterwards. */
export const outbox = pgTable(
  'outbox',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    topic: text('topic').notNull(),
    environment: text('environment'),
    payload: jsonb('payload').notNull(),
    createdAt: createdAt(),
    processedAt: timestamp('processed_at', { withTimezone: true, mode: 'date' }),
    attempts: integer('attempts').notNull().default(0),
  },
  // The deliverer polls unprocessed events in order.
  (t) => [index('outbox_pending_idx').on(t.id).where(sql`${t.processedAt} is null`)],
);
