// The flag workflow: read, create, partial update, archive, audit. Every write validates the
// resulting flag with core's validateFlag, and commits the change, its audit row(s) and the new
// snapshot revision(s) in one transaction. Optimistic concurrency through the configuration
// version (ETag / If-Match); writes to one flag are serialised by a row lock, so none is lost.
// Lock order (no deadlocks between writers): the environment rows first (lockEnvironments, key order),
// then flag rows; a deadlock or serialization failure that still happens reruns the transaction.
import { type Flag, initialCanaryState, validateFlag } from '@rupaya/flags-core';
import { and, asc, desc, eq, inArray, isNull, lt, sql } from 'drizzle-orm';
import type { Db, DbOrTx } from '../db/client';
import { writeTransaction } from '../db/retry';
import { featureFlags, featureFlagsAudit, flagConfigs, outbox } from '../db/schema/index';
import { errors } from '../errors';
import { requireEnvironment } from './environments';
import { isCanary, splitFlag, toFlag } from './flag-model';
import { createRevision, lockEnvironments, type RevisionBatch } from './snapshots';

export interface FlagInEnvironment {
  environment: string;
  flag: Flag;
  version: number;
  updatedAt: string;
  updatedBy: string;
}

export interface WriteResult extends FlagInEnvironment {
  /** Snapshot revision per environment written by this change. */
  revisions: Record<string, number>;
}

/** Fields the PUT body may not set: identity, and state owned by other workflows. */
const NOT_PATCHABLE = new Set(['key', 'type', 'version', 'canary']);

export function etagOf(version: number): string {
  return `"${version}"`;
}

/** Parses If-Match: `*`, `"3"`, `W/"3"`, or a list; returns the versions it allows (null = any). */
export function parseIfMatch(header: string | undefined): number[] | null | undefined {
  if (header === undefined) return undefined;
  const trimmed = header.trim();
  if (trimmed === '*') return null;
  const versions: number[] = [];
  for (const part of trimmed.split(',')) {
    const m = /^\s*(?:W\/)?"?(\d{1,12})"?\s*$/.exec(part);
    if (!m?.[1]) throw errors.validation('If-Match', `If-Match must be an ETag like "3", got ${header}`);
    versions.push(Number(m[1]));
  }
  return versions;
}

function firstError(result: ReturnType<typeof validateFlag>): never {
  if (result.ok) throw new Error('unreachable');
  const e = result.errors[0];
  const field = e?.path && e.path !== '$' ? e.path : 'body';
  throw errors.validation(field, e?.message ? `${field}: ${e.message}` : `${field} is invalid`);
}

async function loadOne(
  db: DbOrTx,
  environment: string,
  key: string,
  lock: boolean,
): Promise<FlagInEnvironment> {
  const q = db
    .select({ def: featureFlags, cfg: flagConfigs })
    .from(flagConfigs)
    .innerJoin(featureFlags, eq(featureFlags.key, flagConfigs.flagKey))
    .where(
      and(
        eq(flagConfigs.environment, environment),
        eq(flagConfigs.flagKey, key),
        isNull(featureFlags.archivedAt),
      ),
    );
  if (lock) await lockEnvironments(db, [environment]);
  const rows = lock ? await q.for('update', { of: flagConfigs }) : await q;
  const row = rows[0];
  if (!row) {
    await requireEnvironment(db, environment);
    throw errors.flagNotFound(key);
  }
  return {
    environment,
    flag: toFlag(row.def, row.cfg),
    version: row.cfg.version,
    updatedAt: row.cfg.updatedAt.toISOString(),
    updatedBy: row.cfg.updatedBy,
  };
}

export function getFlag(db: DbOrTx, environment: string, key: string): Promise<FlagInEnvironment> {
  return loadOne(db, environment, key, false);
}

/**
 * Locks the environment's row, then the flag's configuration row in `environment` (inside a
 * transaction that changes only this environment, or that locked every environment it changes first).
 */
export function getFlagForUpdate(tx: DbOrTx, environment: string, key: string): Promise<FlagInEnvironment> {
  return loadOne(tx, environment, key, true);
}

type FlagRow = { def: typeof featureFlags.$inferSelect; cfg: typeof flagConfigs.$inferSelect };

function inEnvironment(environment: string, r: FlagRow): FlagInEnvironment {
  return {
    environment,
    flag: toFlag(r.def, r.cfg),
    version: r.cfg.version,
    updatedAt: r.cfg.updatedAt.toISOString(),
    updatedBy: r.cfg.updatedBy,
  };
}

export async function listFlags(
  db: DbOrTx,
  environment: string,
  options: { includeArchived?: boolean } = {},
): Promise<FlagInEnvironment[]> {
  await requireEnvironment(db, environment);
  const rows = await db
    .select({ def: featureFlags, cfg: flagConfigs })
    .from(flagConfigs)
    .innerJoin(featureFlags, eq(featureFlags.key, flagConfigs.flagKey))
    .where(
      options.includeArchived
        ? eq(flagConfigs.environment, environment)
        : and(eq(flagConfigs.environment, environment), isNull(featureFlags.archivedAt)),
    )
    .orderBy(asc(flagConfigs.flagKey));
  return rows.map((r) => inEnvironment(environment, r));
}

/**
 * The flags of `keys` in `environment` (archived ones left out), in key order; keys that are not
 * flags there, or an environment that does not exist, give no row (no error).
 */
export async function listFlagsByKeys(
  db: DbOrTx,
  environment: string,
  keys: readonly string[],
): Promise<FlagInEnvironment[]> {
  if (keys.length === 0) return [];
  const rows = await db
    .select({ def: featureFlags, cfg: flagConfigs })
    .from(flagConfigs)
    .innerJoin(featureFlags, eq(featureFlags.key, flagConfigs.flagKey))
    .where(
      and(
        eq(flagConfigs.environment, environment),
        inArray(flagConfigs.flagKey, [...keys]),
        isNull(featureFlags.archivedAt),
      ),
    )
    .orderBy(asc(flagConfigs.flagKey));
  return rows.map((r) => inEnvironment(environment, r));
}

/** Removes `null` fields (a null in a PUT body removes the field). */
function applyPatch(current: Flag, patch: Record<string, unknown>): Record<string, unknown> {
  const next: Record<string, unknown> = { ...current };
  delete next.version;
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete next[k];
    else next[k] = v;
  }
  return next;
}

/** A canary gets its initial state (first stage, paused) when it gains stages; loses it with them. */
function reconcileCanary(next: Record<string, unknown>, previous?: Flag): void {
  const hasStages = Array.isArray(next.stages) && next.stages.length > 0;
  if (!hasStages) {
    delete next.canary;
    return;
  }
  const prev = previous?.canary;
  const stages = next.stages as unknown[];
  if (prev) next.canary = { ...prev, stage: Math.min(prev.stage, stages.length - 1) };
  else next.canary = initialCanaryState();
}

export interface CreateFlagInput {
  body: Record<string, unknown>;
  actor: string;
  reason?: string | undefined;
  /** Environments to create it in (default: all). Others get it disabled. */
  environment?: string | undefined;
  /** Coalesce the snapshot revisions into the batch's (an import); the caller flushes it. */
  batch?: RevisionBatch | undefined;
}

/**
 * Creates a flag with the same configuration in every environment (an environment can then be
 * changed with PUT). Returns the flag as written in `environment` (default: the first one).
 */
export async function createFlag(
  db: Db,
  input: CreateFlagInput,
  viewEnvironment: string,
): Promise<WriteResult> {
  const body = { ...input.body };
  for (const k of ['version', 'canary']) {
    if (k in body) throw errors.validation(k, `${k} is managed by the server and cannot be set`);
  }
  reconcileCanary(body);
  const checked = validateFlag(body, '', { strict: true });
  if (!checked.ok) firstError(checked);
  const flag = checked.flag;
  const { definition, config } = splitFlag(flag);
  return writeTransaction(db, async (tx) => {
    // Every environment gets a revision: lock them all, in key order, before anything else.
    const envKeys = await lockEnvironments(tx);
    if (!envKeys.includes(viewEnvironment)) throw errors.environmentNotFound(viewEnvironment);
    const inserted = await tx
      .insert(featureFlags)
      .values({ ...definition, createdBy: input.actor })
      .onConflictDoNothing()
      .returning({ key: featureFlags.key });
    if (inserted.length === 0) throw errors.flagExists(flag.key);
    const revisions: Record<string, number> = {};
    for (const env of envKeys) {
      await tx
        .insert(flagConfigs)
        .values({ flagKey: flag.key, environment: env, config, updatedBy: input.actor });
      revisions[env] = input.batch
        ? await input.batch.revisionFor(tx, env)
        : await createRevision(tx, env, `flag ${flag.key} created by ${input.actor}`);
      await tx.insert(featureFlagsAudit).values({
        flagKey: flag.key,
        environment: env,
        action: 'create',
        actor: input.actor,
        reason: input.reason ?? null,
        before: null,
        after: { ...flag, version: 1 },
        version: 1,
        revision: revisions[env],
      });
    }
    // One event for the whole create: it spans every environment (the column stays null), and names
    // them, so a webhook scoped to one of them receives it (services/webhooks.ts).
    await tx.insert(outbox).values({
      topic: 'flag.created',
      payload: { key: flag.key, environments: envKeys, version: 1, revisions, actor: input.actor },
    });
    const view = await loadOne(tx, viewEnvironment, flag.key, false);
    return { ...view, revisions };
  });
}

export interface UpdateFlagInput {
  environment: string;
  key: string;
  patch: Record<string, unknown>;
  /** Parsed If-Match: versions allowed (null = any, undefined = header absent). */
  ifMatch?: number[] | null | undefined;
  actor: string;
  reason?: string | undefined;
  /** Coalesce the snapshot revisions into the batch's (an import); the caller flushes it. */
  batch?: RevisionBatch | undefined;
}

/** Applies a partial update in one environment (description/tags are shared: they bump every environment). */
export async function updateFlag(db: Db, input: UpdateFlagInput): Promise<WriteResult> {
  for (const k of Object.keys(input.patch)) {
    if (NOT_PATCHABLE.has(k)) {
      throw errors.validation(
        k,
        k === 'canary'
          ? 'canary state is changed with the canary actions (advance-canary, rollback-canary, …)'
          : `${k} cannot be changed`,
      );
    }
  }
  const sharedChanged = 'description' in input.patch || 'tags' in input.patch;
  return writeTransaction(db, async (tx) => {
    // A shared field gives every environment a revision: lock them all first, in key order.
    if (sharedChanged) await lockEnvironments(tx);
    const current = await loadOne(tx, input.environment, input.key, true);
    if (input.ifMatch && !input.ifMatch.includes(current.version)) {
      throw errors.versionConflict(input.ifMatch.map(etagOf).join(', '), etagOf(current.version));
    }
    const next = applyPatch(current.flag, input.patch);
    if ('stages' in input.patch) reconcileCanary(next, current.flag);
    const checked = validateFlag(next, '', { strict: true });
    if (!checked.ok) firstError(checked);
    const flag = checked.flag;
    const { definition, config } = splitFlag(flag);
    const version = current.version + 1;
    const now = new Date();
    await tx
      .update(flagConfigs)
      .set({ config, version, updatedAt: now, updatedBy: input.actor })
      .where(and(eq(flagConfigs.environment, input.environment), eq(flagConfigs.flagKey, input.key)));
    const envs = [input.environment];
    if (sharedChanged) {
      await tx
        .update(featureFlags)
        .set({ description: definition.description, tags: definition.tags, updatedAt: now })
        .where(eq(featureFlags.key, input.key));
      const others = await tx
        .select({ env: flagConfigs.environment })
        .from(flagConfigs)
        .where(eq(flagConfigs.flagKey, input.key))
        .orderBy(asc(flagConfigs.environment));
      for (const o of others) if (o.env !== input.environment) envs.push(o.env);
    }
    const revisions: Record<string, number> = {};
    for (const env of envs)
      revisions[env] = input.batch
        ? await input.batch.revisionFor(tx, env)
        : await createRevision(tx, env, `flag ${input.key} updated by ${input.actor}`);
    await tx.insert(featureFlagsAudit).values({
      flagKey: input.key,
      environment: input.environment,
      action: 'update',
      actor: input.actor,
      reason: input.reason ?? null,
      before: current.flag,
      after: { ...flag, version },
      version,
      revision: revisions[input.environment],
    });
    await tx.insert(outbox).values({
      topic: 'flag.updated',
      environment: input.environment,
      payload: { key: input.key, environment: input.environment, version, actor: input.actor },
    });
    return {
      environment: input.environment,
      flag: { ...flag, version },
      version,
      updatedAt: now.toISOString(),
      updatedBy: input.actor,
      revisions,
    };
  });
}

/** Archives a flag: it leaves every snapshot, keeps its key (no re-use) and its history. */
export async function archiveFlag(
  db: Db,
  input: { key: string; actor: string; reason?: string | undefined },
): Promise<{ key: string; archivedAt: string; revisions: Record<string, number> }> {
  return writeTransaction(db, async (tx) => {
    await lockEnvironments(tx);
    const cfgs = await tx
      .select()
      .from(flagConfigs)
      .where(eq(flagConfigs.flagKey, input.key))
      .orderBy(asc(flagConfigs.environment))
      .for('update');
    const now = new Date();
    const updated = await tx
      .update(featureFlags)
      .set({ archivedAt: now, updatedAt: now })
      .where(and(eq(featureFlags.key, input.key), isNull(featureFlags.archivedAt)))
      .returning();
    const def = updated[0];
    if (!def) throw errors.flagNotFound(input.key);
    const revisions: Record<string, number> = {};
    for (const cfg of cfgs) {
      revisions[cfg.environment] = await createRevision(tx, cfg.environment, `flag ${input.key} archived`);
      await tx.insert(featureFlagsAudit).values({
        flagKey: input.key,
        environment: cfg.environment,
        action: 'archive',
        actor: input.actor,
        reason: input.reason ?? null,
        before: toFlag({ ...def, archivedAt: null }, cfg),
        after: null,
        version: cfg.version,
        revision: revisions[cfg.environment],
      });
    }
    await tx.insert(outbox).values({
      topic: 'flag.archived',
      payload: {
        key: input.key,
        environments: cfgs.map((c) => c.environment),
        revisions,
        actor: input.actor,
      },
    });
    return { key: input.key, archivedAt: now.toISOString(), revisions };
  });
}

export interface AuditEntry {
  id: number;
  flagKey: string;
  environment: string | null;
  action: string;
  actor: string;
  reason: string | null;
  before: unknown;
  after: unknown;
  version: number | null;
  revision: number | null;
  createdAt: string;
}

/** Audit of one flag in one environment, newest first; `before` (an id) pages backwards. */
export async function listAudit(
  db: DbOrTx,
  input: { key: string; environment: string; limit: number; before?: number | undefined },
): Promise<AuditEntry[]> {
  const exists = await db
    .select({ key: featureFlags.key })
    .from(featureFlags)
    .where(eq(featureFlags.key, input.key));
  if (exists.length === 0) throw errors.flagNotFound(input.key);
  await requireEnvironment(db, input.environment);
  const rows = await db
    .select()
    .from(featureFlagsAudit)
    .where(
      and(
        eq(featureFlagsAudit.flagKey, input.key),
        eq(featureFlagsAudit.environment, input.environment),
        input.before !== undefined ? lt(featureFlagsAudit.id, input.before) : undefined,
      ),
    )
    .orderBy(desc(featureFlagsAudit.id))
    .limit(input.limit);
  return rows.map((r) => ({ ...r, createdAt: r.createdAt.toISOString() }));
}

/** Number of active flags (for /health and the seed's emptiness check). */
export async function countFlags(db: DbOrTx): Promise<number> {
  const rows = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(featureFlags)
    .where(isNull(featureFlags.archivedAt));
  return Number(rows[0]?.n ?? 0);
}

export { isCanary };
