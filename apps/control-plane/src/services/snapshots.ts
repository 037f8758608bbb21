// Snapshot revisions: written in the transaction of each change (revisionFor), built once per
// revision into prebuilt bytes (identity, gzip, brotli q5, SSE frame), and kept in memory so the
// SDK endpoints never serialise per request. Replicas learn of new revisions by LISTEN/NOTIFY
// (PGlite: its in-process notifications) and by a periodic probe that also detects storage
// outages and recovery.
import { createHash, randomUUID } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import { promisify } from 'node:util';
import { brotliCompress, constants as zlibConstants, gzip } from 'node:zlib';
import { canonicalJson, checksumPayload, type Flag, SCHEMA_VERSION, snapshotEtag } from '@rupaya/flags-core';
import { and, asc, desc, eq, inArray, isNull, lte, sql } from 'drizzle-orm';
import type { FastifyBaseLogger } from 'fastify';
import type { Config } from '../config';
import type { Database, DbOrTx } from '../db/client';
import { notify } from '../db/client';
import { writeTransaction } from '../db/retry';
import { environments, featureFlags, flagConfigs, snapshotRevisions } from '../db/schema/index';
import { toFlag } from './flag-model';
import type { StorageHealth } from './storage-health';

const gzipAsync = promisify(gzip);
const brotliAsync = promisify(brotliCompress);

export const SNAPSHOT_CHANNEL = 'rupaya_snapshot';
/** Revisions kept per environment (older rows are pruned in the writing transaction). */
const KEEP_REVISIONS = 50;
/** An environment catches up with a revision an SDK holds at most once per this long. */
const CATCH_UP_INTERVAL_MS = 5_000;
/** A claimed revision further than this past the database's is ignored (forged, not restored). */
const MAX_CATCH_UP = 1_000_000;

export interface BuiltSnapshot {
  environment: string;
  revision: number;
  checksum: string;
  generatedAt: string;
  /** `"<revision>-<first 16 hex of checksum>"` (with quotes). */
  etag: string;
  /** `String(revision)`, the `x-rupaya-revision` header, built once. */
  revisionHeader: string;
  identity: Buffer;
  gzip: Buffer;
  br: Buffer;
  /** `id: <revision>\nevent: snapshot\ndata: <json>\n\n` */
  sseFrame: Buffer;
  flagCount: number;
  /** Canaries with status `progressing` in this revision. */
  activeCanaries: number;
}

export interface SnapshotRevisionEvent {
  environment: string;
  revision: number;
}

/**
 * The lock order of every write transaction: FIRST the rows of the environments it will give a new
 * revision, in key order, before any flag row. Writers of one environment then queue on its row instead
 * of deadlocking (two creates used to take a key-share lock on the row through the flag_configs foreign
 * key, then both wait to upgrade it). `FOR NO KEY UPDATE` does not conflict with those foreign-key
 * checks. `keys` omitted: every environment. Returns the locked keys (unknown ones are absent).
 */
export async function lockEnvironments(tx: DbOrTx, keys?: readonly string[]): Promise<string[]> {
  if (keys !== undefined && keys.length === 0) return [];
  const rows = await tx
    .select({ key: environments.key })
    .from(environments)
    .where(keys === undefined ? undefined : inArray(environments.key, [...new Set(keys)]))
    .orderBy(asc(environments.key))
    .for('no key update');
  return rows.map((r) => r.key);
}

/**
 * Inside a write transaction: locks the environment row (see lockEnvironments: a transaction that
 * changes several environments locks them all first), computes the environment's flags after the
 * change, stores revision+1 (or `atLeast`, when larger) with its checksum, and queues a NOTIFY (sent
 * on commit).
 */
export async function createRevision(
  tx: DbOrTx,
  environment: string,
  cause: string,
  atLeast = 0,
): Promise<number> {
  const locked = await tx
    .select({ revision: environments.revision })
    .from(environments)
    .where(eq(environments.key, environment))
    .for('no key update');
  const current = locked[0];
  if (!current) throw new Error(`environment ${environment} vanished during a write`);
  const revision = Math.max(current.revision + 1, atLeast);
  const flagsJson = await environmentFlagsJson(tx, environment);
  const checksum = checksumOfPayload(
    canonicalWithFlags({ schemaVersion: SCHEMA_VERSION, environment, revision }, flagsJson),
  );
  const generatedAt = new Date();
  await tx.insert(snapshotRevisions).values({
    environment,
    revision,
    checksum,
    flagsJson,
    generatedAt,
    cause,
  });
  await tx.update(environments).set({ revision }).where(eq(environments.key, environment));
  if (revision > KEEP_REVISIONS) {
    await tx
      .delete(snapshotRevisions)
      .where(
        and(
          eq(snapshotRevisions.environment, environment),
          lte(snapshotRevisions.revision, revision - KEEP_REVISIONS),
        ),
      );
  }
  await notify(tx, SNAPSHOT_CHANNEL, JSON.stringify({ environment, revision }));
  return revision;
}

/**
 * Coalesces the revisions of many writes in one transaction (an import): each write asks for the
 * revision its change will land in, and `flush` builds one snapshot revision per touched environment
 * at the end instead of one per write. The caller holds the environments' locks for the whole
 * transaction, so the promised numbers are the ones `flush` creates.
 */
export class RevisionBatch {
  private readonly next = new Map<string, number>();

  /** The revision a write in `environment` lands in (current + 1, the same for every write of the batch). */
  async revisionFor(tx: DbOrTx, environment: string): Promise<number> {
    const known = this.next.get(environment);
    if (known !== undefined) return known;
    const rows = await tx
      .select({ revision: environments.revision })
      .from(environments)
      .where(eq(environments.key, environment))
      .for('no key update');
    const current = rows[0];
    if (!current) throw new Error(`environment ${environment} vanished during a write`);
    this.next.set(environment, current.revision + 1);
    return current.revision + 1;
  }

  /** Environments with pending changes, in key order. */
  get environments(): string[] {
    return [...this.next.keys()].sort();
  }

  /** Builds one revision per touched environment; returns them. */
  async flush(tx: DbOrTx, cause: string): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const env of this.environments) {
      const revision = await createRevision(tx, env, cause);
      if (revision !== this.next.get(env))
        throw new Error(
          `revision of ${env} moved during a batched write (${revision} ≠ ${this.next.get(env)})`,
        );
      out[env] = revision;
    }
    this.next.clear();
    return out;
  }
}

export function checksumOf(environment: string, revision: number, flags: Flag[]): string {
  return checksumOfPayload(checksumPayload({ schemaVersion: SCHEMA_VERSION, environment, revision, flags }));
}

function checksumOfPayload(payload: string): string {
  return 'sha256:' + createHash('sha256').update(payload, 'utf8').digest('hex');
}

/** A string no snapshot field holds: where the flags' canonical JSON is spliced in. */
const FLAGS_SLOT = `\u0000flags-${randomUUID()}\u0000`;
const FLAGS_SLOT_JSON = JSON.stringify(FLAGS_SLOT);

/**
 * `canonicalJson({ ...fields, flags })` when the canonical JSON of `flags` is already known: the
 * flags are not parsed or serialised again (canonicalJson writes an array element by element, so
 * splicing the text in its place gives the same bytes).
 */
export function canonicalWithFlags(fields: Record<string, unknown>, flagsJson: string): string {
  const text = canonicalJson({ ...fields, flags: FLAGS_SLOT });
  const at = text.indexOf(FLAGS_SLOT_JSON);
  return text.slice(0, at) + flagsJson + text.slice(at + FLAGS_SLOT_JSON.length);
}

/**
 * Canonical JSON of single flags, by flag key and a digest of everything toFlag reads (so an entry
 * is never used for other content, whatever database or replica it came from). Bounded: cleared when full.
 */
const flagJsonCache = new Map<string, string>();
const FLAG_JSON_CACHE_MAX = 20_000;

/**
 * The digest, computed by the database from the stored row: version and 64-bit hashes of config,
 * tags, description and type (jsonb_hash_extended works on the binary jsonb: no text conversion,
 * about 5x cheaper than md5 of the text).
 */
const flagDigest = sql<string>`concat_ws(':', ${flagConfigs.flagKey}, ${flagConfigs.version}, jsonb_hash_extended(${flagConfigs.config}, 0), coalesce(jsonb_hash_extended(${featureFlags.tags}, 0)::text, '-'), coalesce(hashtextextended(${featureFlags.description}, 0)::text, '-'), hashtextextended(${featureFlags.type}, 0))`;

/**
 * `canonicalJson(flags)` of the active flags of an environment, in key order. Only the flags whose
 * digest is not cached are read in full and serialised: a write costs one light query over the
 * environment's flags plus the work for the changed ones, instead of re-reading and re-serialising all.
 */
export async function environmentFlagsJson(db: DbOrTx, environment: string): Promise<string> {
  const active = and(eq(flagConfigs.environment, environment), isNull(featureFlags.archivedAt));
  const digests = await db
    .select({ key: flagConfigs.flagKey, digest: flagDigest })
    .from(flagConfigs)
    .innerJoin(featureFlags, eq(featureFlags.key, flagConfigs.flagKey))
    .where(active)
    .orderBy(asc(flagConfigs.flagKey));
  const fresh = new Map<string, string>();
  const missing = digests.filter((d) => !flagJsonCache.has(d.digest)).map((d) => d.key);
  if (missing.length > 0) {
    const rows = await db
      .select({ def: featureFlags, cfg: flagConfigs, digest: flagDigest })
      .from(flagConfigs)
      .innerJoin(featureFlags, eq(featureFlags.key, flagConfigs.flagKey))
      .where(and(active, inArray(flagConfigs.flagKey, missing)));
    if (flagJsonCache.size + rows.length > FLAG_JSON_CACHE_MAX) flagJsonCache.clear();
    for (const r of rows) {
      const json = canonicalJson(toFlag(r.def, r.cfg));
      flagJsonCache.set(r.digest, json);
      fresh.set(r.cfg.flagKey, json);
    }
  }
  const parts: string[] = [];
  for (const d of digests) {
    const json = fresh.get(d.key) ?? flagJsonCache.get(d.digest);
    if (json !== undefined) parts.push(json);
  }
  return '[' + parts.join(',') + ']';
}

export interface SnapshotServiceOptions {
  database: Database;
  config: Config;
  events: EventEmitter;
  storage: StorageHealth;
  log: FastifyBaseLogger;
}

export class SnapshotService {
  private readonly built = new Map<string, BuiltSnapshot>();
  /** Per-environment chain so builds of one environment apply in order. */
  private readonly chains = new Map<string, Promise<void>>();
  private unlisten: (() => Promise<void>) | undefined;
  private probeTimer: NodeJS.Timeout | undefined;
  private probing = false;
  private stopped = false;
  /** When each environment last tried to catch up with a revision an SDK held (see `catchUp`). */
  private readonly catchUps = new Map<string, number>();

  constructor(private readonly o: SnapshotServiceOptions) {}

  /**
   * An SDK holds revision `claimed` of `environment`, newer than any this control plane has built:
   * the database was restored from a backup or reset, and its revisions started again below what
   * SDKs hold. SDKs refuse a snapshot older than the one they hold (a replayed snapshot must never
   * roll flags back), so they would ignore every change until the revisions caught up on their own.
   * A new revision past the claim, with the database's flags, makes them take those flags again.
   * Nothing happens when the database is already there (a replica that has not built it yet), for
   * a claim more than MAX_CATCH_UP ahead (not a restore: a forged claim must not run revisions up),
   * or within CATCH_UP_INTERVAL_MS of the environment's last attempt. Never throws; logged.
   */
  catchUp(environment: string, claimed: number): void {
    const now = Date.now();
    const last = this.catchUps.get(environment);
    if (last !== undefined && now - last < CATCH_UP_INTERVAL_MS) return;
    this.catchUps.set(environment, now);
    const log = this.o.log;
    writeTransaction(this.o.database.db, async (tx) => {
      const [row] = await tx
        .select({ revision: environments.revision })
        .from(environments)
        .where(eq(environments.key, environment))
        .for('no key update');
      if (!row || row.revision >= claimed) return undefined;
      if (claimed - row.revision > MAX_CATCH_UP) {
        log.warn(
          { environment, claimed, revision: row.revision },
          'an SDK claims a revision far past the database: ignored',
        );
        return undefined;
      }
      const revision = await createRevision(
        tx,
        environment,
        `catch-up: an SDK held revision ${claimed}, the database was at ${row.revision} (restored or reset)`,
        claimed + 1,
      );
      return { from: row.revision, revision };
    }).then(
      (done) => {
        if (!done) return;
        log.warn(
          { environment, claimed, from: done.from, revision: done.revision },
          'SDKs held a newer revision than the database (restored or reset): revision moved past theirs',
        );
        void this.refresh(environment);
      },
      (err) => log.warn({ err, environment, claimed }, 'revision catch-up failed'),
    );
  }

  get(environment: string): BuiltSnapshot | undefined {
    return this.built.get(environment);
  }

  environments(): string[] {
    return [...this.built.keys()];
  }

  /** True when the database was unreachable at the last attempt: responses carry X-Rupaya-Stale. */
  get stale(): boolean {
    return !this.o.storage.available;
  }

  async start(): Promise<void> {
    this.stopped = false;
    try {
      this.unlisten = await this.o.database.listen(SNAPSHOT_CHANNEL, (payload) => {
        try {
          const { environment } = JSON.parse(payload) as SnapshotRevisionEvent;
          void this.refresh(environment);
        } catch (err) {
          this.o.log.warn({ err, payload }, 'bad snapshot notification');
        }
      });
    } catch (err) {
      this.o.log.warn({ err }, 'LISTEN failed; relying on the probe');
    }
    await this.probe();
    this.scheduleProbe();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.probeTimer) clearTimeout(this.probeTimer);
    const u = this.unlisten;
    this.unlisten = undefined;
    // Bounded: after an outage the LISTEN connection may be gone; never hold up shutdown for it.
    const bounded = (p: Promise<unknown>) =>
      Promise.race([p.catch(() => {}), new Promise((r) => setTimeout(r, 1000).unref())]);
    if (u) await bounded(u());
    await bounded(Promise.allSettled([...this.chains.values()]));
  }

  private scheduleProbe(): void {
    if (this.stopped) return;
    this.probeTimer = setTimeout(async () => {
      await this.probe();
      this.scheduleProbe();
    }, this.o.config.dbProbeIntervalMs);
    this.probeTimer.unref();
  }

  /** Reads every environment's revision; rebuilds those that moved; tracks storage health. */
  async probe(): Promise<void> {
    if (this.probing) return;
    this.probing = true;
    try {
      const rows = await this.o.database.db
        .select({ key: environments.key, revision: environments.revision })
        .from(environments);
      this.o.storage.markAvailable();
      await Promise.all(
        rows.map((r) => {
          const have = this.built.get(r.key);
          return !have || have.revision < r.revision ? this.refresh(r.key) : undefined;
        }),
      );
    } catch (err) {
      this.o.storage.markUnavailable(err);
    } finally {
      this.probing = false;
    }
  }

  /** Loads and builds the latest revision of an environment if it is newer than the one held. */
  refresh(environment: string): Promise<void> {
    const prev = this.chains.get(environment) ?? Promise.resolve();
    const next = prev
      .then(() => this.load(environment))
      .catch((err) => {
        this.o.log.warn({ err, environment }, 'snapshot refresh failed');
      });
    this.chains.set(environment, next);
    return next;
  }

  private async load(environment: string): Promise<void> {
    // The revision number first: a refresh that finds nothing newer does not read the flags' text.
    const latest = await this.o.database.db
      .select({ revision: environments.revision })
      .from(environments)
      .where(eq(environments.key, environment));
    const held = this.built.get(environment);
    if (held && latest[0] && held.revision >= latest[0].revision) return;
    const rows = await this.o.database.db
      .select()
      .from(snapshotRevisions)
      .where(eq(snapshotRevisions.environment, environment))
      .orderBy(desc(snapshotRevisions.revision))
      .limit(1);
    const row = rows[0];
    if (!row) return;
    const have = this.built.get(environment);
    if (have && have.revision >= row.revision) return;
    const built = await this.build(row);
    const now = this.built.get(environment);
    if (now && now.revision >= built.revision) return;
    this.built.set(environment, built);
    this.o.events.emit('snapshot.revision', {
      environment,
      revision: built.revision,
    } satisfies SnapshotRevisionEvent);
  }

  private async build(row: typeof snapshotRevisions.$inferSelect): Promise<BuiltSnapshot> {
    const { config } = this.o;
    const generatedAt = row.generatedAt.toISOString();
    const flags = JSON.parse(row.flagsJson) as Flag[];
    // flagsJson is canonical already: spliced, not re-serialised.
    const json = canonicalWithFlags(
      {
        schemaVersion: SCHEMA_VERSION,
        environment: row.environment,
        revision: row.revision,
        checksum: row.checksum,
        generatedAt,
        cacheTtlSec: config.cacheTtlSec,
        metricsWindowMs: config.metricsAggregationIntervalMs,
        metricsFlushMs: config.metricsFlushMs,
      },
      row.flagsJson,
    );
    const identity = Buffer.from(json, 'utf8');
    const [gz, br] = await Promise.all([
      gzipAsync(identity, { level: 6 }),
      brotliAsync(identity, {
        params: {
          [zlibConstants.BROTLI_PARAM_QUALITY]: 5,
          [zlibConstants.BROTLI_PARAM_SIZE_HINT]: identity.length,
          [zlibConstants.BROTLI_PARAM_MODE]: zlibConstants.BROTLI_MODE_TEXT,
        },
      }),
    ]);
    return {
      environment: row.environment,
      revision: row.revision,
      checksum: row.checksum,
      generatedAt,
      etag: snapshotEtag(row.revision, row.checksum),
      revisionHeader: String(row.revision),
      identity,
      gzip: gz,
      br,
      sseFrame: Buffer.from(`id: ${row.revision}\nevent: snapshot\ndata: ${json}\n\n`, 'utf8'),
      flagCount: flags.length,
      activeCanaries: flags.filter((f) => f.canary?.status === 'progressing').length,
    };
  }
}
