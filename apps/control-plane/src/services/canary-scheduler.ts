// The canary scheduler and rollback monitor. One replica at a time is the leader (a session-level
// pg_try_advisory_lock held by a dedicated one-connection session; on PGlite the single process leads). The
// leader runs when metrics arrive (NOTIFY from ingest, naming the environment and the flags whose
// windows arrived: that run looks at those flags) and on a timer every METRICS_AGGREGATION_INTERVAL
// (every flag). For every progressing or paused canary, and every guarded rollout,
// it loads the cohorts' windows, asks core's decideCanary, records the decision in
// rollback_decisions, and applies advance / complete / rollback through the same service the
// manual admin routes use (applyCanaryTransition) — inside one transaction holding the flag's row
// lock, so a decision is never applied twice, nor on a window already acted on.
import type { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import {
  type CanaryDecision,
  type CanaryPolicyInput,
  decideCanary,
  type Flag,
  resolvePolicy,
  type ResolvedCanaryPolicy,
} from '@rupaya/flags-core';
import { and, desc, eq, sql } from 'drizzle-orm';
import type { FastifyBaseLogger } from 'fastify';
import postgres from 'postgres';
import type { Config } from '../config';
import type { Database, Db, DbOrTx } from '../db/client';
import { guardStates, outbox, rollbackDecisions } from '../db/schema/index';
import { applyCanaryTransition } from './canary';
import { listEnvironments } from './environments';
import { type FlagInEnvironment, getFlagForUpdate, listFlags, listFlagsByKeys, updateFlag } from './flags';
import { loadGauges, loadWindows, METRICS_CHANNEL, parseMetricsNotification } from './metrics-ingest';
import type { MetricsSettings } from './metrics-settings';

/** Advisory-lock key of the scheduler leader (distinct from the migration lock). */
export const SCHEDULER_LOCK = 7_242_006;
export const ENV_THRESHOLD_FLAG = 'rollback.error-rate-threshold';

export type Trigger = 'ingest' | 'timer' | 'manual';

/**
 * What a run evaluates: per environment, the flags to look at (null: all of that environment's).
 * An ingest-woken run looks at the flags whose windows arrived; no scope means everything.
 */
export type RunScope = Map<string, Set<string> | null>;

/** Past this many flags, a scope names the whole environment (read with one listFlags). */
const MAX_SCOPE_FLAGS = 1000;

/** The union of two scopes (undefined, everything, absorbs). */
export function mergeScopes(a: RunScope | undefined, b: RunScope | undefined): RunScope | undefined {
  if (!a || !b) return undefined;
  const out: RunScope = new Map(a);
  for (const [env, flags] of b) {
    const mine = out.get(env);
    if (mine === undefined) out.set(env, flags && new Set(flags));
    else if (mine === null || flags === null) out.set(env, null);
    else {
      const union = new Set([...mine, ...flags]);
      out.set(env, union.size > MAX_SCOPE_FLAGS ? null : union);
    }
  }
  return out;
}

export type DecisionOutcome =
  | 'advanced'
  | 'completed'
  | 'rolled_back'
  | 'held'
  | 'would_roll_back'
  | 'skipped';

export interface EvaluationRecord {
  environment: string;
  key: string;
  kind: 'canary' | 'guard';
  decision: CanaryDecision;
  outcome: DecisionOutcome;
  decisionId: number;
}

export interface SchedulerDeps {
  database: Database;
  config: Config;
  settings: MetricsSettings;
  events: EventEmitter;
  log: FastifyBaseLogger;
  /** Rebuild an environment's snapshot after a transition (the snapshot service's refresh). */
  refreshSnapshot: (environment: string) => Promise<void>;
}

/** The env-level threshold flag's value, when it is an enabled number config. */
export function thresholdFromFlag(flag: Flag | undefined): number | undefined {
  if (!flag || flag.enabled === false) return undefined;
  if (typeof flag.value === 'number') return flag.value;
  const variant = flag.variants?.find((v) => v.key === (flag.defaultVariant ?? 'default'));
  return typeof variant?.value === 'number' ? variant.value : undefined;
}

/** A guarded rollout: boolean, no stages, 0 < rollout < 100, guard: true. */
export function isGuarded(flag: Flag): boolean {
  return (
    flag.guard === true &&
    flag.type === 'boolean' &&
    !(flag.stages && flag.stages.length > 0) &&
    typeof flag.rolloutPercentage === 'number' &&
    flag.rolloutPercentage > 0 &&
    flag.rolloutPercentage < 100
  );
}

export class CanaryScheduler {
  readonly instanceId = randomUUID();
  private leaderFlag = false;
  private lockClient: postgres.Sql | undefined;
  private timer: NodeJS.Timeout | undefined;
  private unlisten: (() => Promise<void>) | undefined;
  private running: Promise<EvaluationRecord[]> | undefined;
  private pending: { trigger: Trigger; scope: RunScope | undefined } | undefined;
  private stopped = true;
  /** Called by the leader after each timer tick (the webhook deliverer, retention). */
  readonly leaderTasks: ((nowMs: number) => Promise<void>)[] = [];

  constructor(private readonly d: SchedulerDeps) {}

  get isLeader(): boolean {
    return this.leaderFlag;
  }

  async start(): Promise<void> {
    this.stopped = false;
    try {
      this.unlisten = await this.d.database.listen(METRICS_CHANNEL, (payload) => {
        const n = parseMetricsNotification(payload);
        this.trigger('ingest', n ? new Map([[n.environment, n.flags && new Set(n.flags)]]) : undefined);
      });
    } catch (err) {
      this.d.log.warn({ err }, 'scheduler: LISTEN failed; relying on the timer');
    }
    await this.tick('timer');
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    const u = this.unlisten;
    this.unlisten = undefined;
    if (u) await u().catch(() => {});
    await this.running?.catch(() => {});
    await this.resign();
  }

  /**
   * Asks for a run soon (coalesced with a run in progress: the scopes of the triggers that arrive
   * meanwhile are merged into one run). No scope: every canary and guarded rollout.
   */
  trigger(trigger: Trigger, scope?: RunScope): void {
    if (this.stopped || !this.leaderFlag) return;
    if (this.running) {
      this.pending = {
        trigger,
        scope: this.pending ? mergeScopes(this.pending.scope, scope) : scope,
      };
      return;
    }
    void this.run(trigger, undefined, scope).catch((err) => this.d.log.warn({ err }, 'scheduler run failed'));
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick('timer'), this.d.config.metricsAggregationIntervalMs);
    this.timer.unref();
  }

  private async tick(trigger: Trigger): Promise<void> {
    try {
      await this.ensureLeadership();
      if (this.leaderFlag) {
        await this.run(trigger);
        const now = Date.now();
        for (const task of this.leaderTasks) {
          await task(now).catch((err) => this.d.log.warn({ err }, 'scheduler leader task failed'));
        }
      }
    } catch (err) {
      this.d.log.warn({ err }, 'scheduler tick failed');
    } finally {
      this.schedule();
    }
  }

  /**
   * Becomes leader if possible. The lock lives in the session of a dedicated one-connection client;
   * each tick checks in pg_locks that this very session still holds it (a dropped connection
   * reconnects as a new session without the lock: then this replica follows until it wins again).
   */
  async ensureLeadership(): Promise<boolean> {
    if (this.d.database.kind === 'pglite') {
      this.leaderFlag = true;
      return true;
    }
    if (!this.lockClient) {
      this.lockClient = postgres(this.d.config.databaseUrl!, {
        max: 1,
        idle_timeout: 0,
        connect_timeout: Math.max(1, Math.ceil(this.d.config.dbConnectTimeoutMs / 1000)),
        onnotice: () => {},
      });
    }
    const sql = this.lockClient;
    try {
      if (this.leaderFlag) {
        const [row] = await sql<{ held: boolean }[]>`
          select exists(select 1 from pg_locks where locktype = 'advisory' and objid = ${SCHEDULER_LOCK}
            and objsubid = 1 and granted and pid = pg_backend_pid()) as held`;
        if (row?.held) return true;
        this.leaderFlag = false;
        this.d.log.warn({ instance: this.instanceId }, 'scheduler: lost the leader lock; following');
      }
      const [row] = await sql<{ ok: boolean }[]>`select pg_try_advisory_lock(${SCHEDULER_LOCK}) as ok`;
      this.leaderFlag = row?.ok === true;
      if (this.leaderFlag) this.d.log.info({ instance: this.instanceId }, 'scheduler: leader');
    } catch (err) {
      this.leaderFlag = false;
      this.d.log.warn({ err }, 'scheduler: leader election failed');
    }
    return this.leaderFlag;
  }

  private async resign(): Promise<void> {
    const sql = this.lockClient;
    this.lockClient = undefined;
    this.leaderFlag = false;
    if (!sql) return;
    // Ending the session releases the lock.
    await sql.end({ timeout: 2 }).catch(() => {});
  }

  /**
   * One evaluation of everything (or of `scope`), serialised with any other run of this process.
   */
  run(trigger: Trigger, nowMs?: number, scope?: RunScope): Promise<EvaluationRecord[]> {
    const previous = this.running ?? Promise.resolve([]);
    const next = previous
      .catch(() => [])
      .then(() => this.evaluateAll(trigger, nowMs ?? Date.now(), scope))
      .finally(() => {
        if (this.running === next) this.running = undefined;
        const again = this.pending;
        this.pending = undefined;
        if (again && !this.stopped) this.trigger(again.trigger, again.scope);
      });
    this.running = next;
    return next;
  }

  private async evaluateAll(
    trigger: Trigger,
    nowMs: number,
    scope: RunScope | undefined,
  ): Promise<EvaluationRecord[]> {
    const db = this.d.database.db;
    const out: EvaluationRecord[] = [];
    // A scoped run (woken by ingest) reads only the flags it names (and the threshold flag).
    const environments = scope ? [...scope.keys()] : (await listEnvironments(db)).map((e) => e.key);
    for (const environment of environments) {
      const wanted = scope?.get(environment);
      let flags: FlagInEnvironment[];
      if (wanted) flags = await listFlagsByKeys(db, environment, [...wanted, ENV_THRESHOLD_FLAG]);
      else {
        try {
          flags = await listFlags(db, environment);
        } catch (err) {
          // An environment named by an ingest that no longer exists: nothing to evaluate.
          if (scope && (err as { code?: string }).code === 'ENVIRONMENT_NOT_FOUND') continue;
          throw err;
        }
      }
      const envThreshold = thresholdFromFlag(flags.find((f) => f.flag.key === ENV_THRESHOLD_FLAG)?.flag);
      for (const { flag, updatedAt } of flags) {
        if (wanted && !wanted.has(flag.key)) continue;
        const active = flag.canary?.status === 'progressing' || flag.canary?.status === 'paused';
        const kind =
          flag.stages && flag.stages.length > 0
            ? active
              ? 'canary'
              : null
            : isGuarded(flag)
              ? 'guard'
              : null;
        if (!kind) continue;
        try {
          const record = await this.evaluateFlag(
            environment,
            flag,
            updatedAt,
            kind,
            envThreshold,
            trigger,
            nowMs,
          );
          if (record) out.push(record);
        } catch (err) {
          this.d.log.warn({ err, environment, flag: flag.key }, 'scheduler: evaluation failed');
        }
      }
    }
    return out;
  }

  /** Environment defaults ← the environment's threshold flag ← the flag's own policy. */
  policyFor(flag: Flag, envThreshold: number | undefined): ResolvedCanaryPolicy {
    const c = this.d.config;
    const envDefaults: CanaryPolicyInput = {
      errorRateThreshold: c.rollbackErrorRateThreshold,
      p99ThresholdMs: c.rollbackResponseTimeThresholdMs,
      windowMs: c.metricsAggregationIntervalMs,
      comparisonWindowMs: Math.round(c.metricsWindowSizeSec * 1000),
    };
    return resolvePolicy(
      envDefaults,
      envThreshold === undefined ? undefined : { errorRateThreshold: envThreshold },
      flag.policy,
    );
  }

  private async evaluateFlag(
    environment: string,
    flag: Flag,
    updatedAt: string,
    kind: 'canary' | 'guard',
    envThreshold: number | undefined,
    trigger: Trigger,
    nowMs: number,
  ): Promise<EvaluationRecord | null> {
    const db = this.d.database.db;
    const policy = this.policyFor(flag, envThreshold);
    // A guarded rollout's "stage" started when its configuration last changed.
    const guardStart = kind === 'guard' ? updatedAt : null;
    const state =
      kind === 'canary'
        ? { key: flag.key, stages: flag.stages!, canary: flag.canary! }
        : {
            key: flag.key,
            stages: [{ percent: flag.rolloutPercentage!, minDurationSec: 0 }],
            canary: { stage: 0, status: 'progressing' as const, stageStartedAt: guardStart },
          };
    const stageStart = state.canary.stageStartedAt ? Date.parse(state.canary.stageStartedAt) : Number.NaN;
    const lookback = Math.max(policy.comparisonWindowMs, (policy.consecutiveWindows + 3) * policy.windowMs);
    // Every window that overlaps the stage (the stage sample), or the recent ones when it has no start.
    const since = Number.isFinite(stageStart) ? stageStart - 2 * policy.windowMs : nowMs - lookback;
    const sinceMs = Math.max(since, nowMs - 7 * 86_400_000);
    // The sample-ratio check reads the cohorts' distinct-unit sketches over the comparison horizon only.
    const unitsSince =
      policy.comparisonWindowMs > 0 ? nowMs - policy.comparisonWindowMs - policy.windowMs : sinceMs;
    const windows = await loadWindows(db, environment, flag.key, sinceMs, 'raw', {
      units:
        policy.sampleRatioSigmas > 0
          ? { sinceMs: Math.max(unitsSince, sinceMs), cohorts: ['treatment', 'control'] }
          : false,
    });
    const gauges = await loadGauges(db, environment, sinceMs);
    // A paused canary or a guarded rollout without any traffic has nothing to judge: no record.
    if (windows.length === 0 && (kind === 'guard' || state.canary.status === 'paused')) return null;
    const decision = decideCanary(state, { windows, gauges }, policy, nowMs);

    const result = await db.transaction(async (tx) => {
      const current = await getFlagForUpdate(tx, environment, flag.key);
      let outcome: DecisionOutcome = 'held';
      let logId: number | null = null;
      let reasons = decision.reasons;
      /** Whether this evaluation announces itself (rollback.triggered); only would-roll-backs may not. */
      let notify = true;
      const changed =
        JSON.stringify(current.flag.canary ?? null) !== JSON.stringify(flag.canary ?? null) ||
        current.flag.rolloutPercentage !== flag.rolloutPercentage;
      const acts = decision.action !== 'hold';
      if (acts && changed) {
        outcome = 'skipped';
        reasons = [...reasons, 'skipped: the flag changed while deciding; the next run decides again'];
      } else if (acts && (await this.alreadyActed(tx, environment, flag, decision))) {
        outcome = 'skipped';
        reasons = [...reasons, `skipped: window ${decision.stats.latestWindowStart} was already acted on`];
      } else if (decision.action === 'rollback') {
        const breaker = this.d.config.rollbackCircuitBreakerEnabled;
        const auto = flag.autoRollback !== false;
        if (!breaker || !auto) {
          outcome = 'would_roll_back';
          // Logged at every evaluation, announced once per window: a later evaluation of the same
          // window (the timer after an ingest, another instance's report) adds no event.
          notify = !(await this.alreadyActed(tx, environment, flag, decision, 'would_roll_back'));
          reasons = [
            ...reasons,
            !breaker
              ? 'would roll back: ROLLBACK_CIRCUIT_BREAKER_ENABLED=false'
              : 'would roll back: automatic rollback is off for this flag (autoRollback: false)',
          ];
        } else {
          outcome = 'rolled_back';
          if (kind === 'canary') {
            const applied = await applyCanaryTransition(tx, {
              environment,
              key: flag.key,
              action: 'rollback',
              actor: 'scheduler',
              reason: decision.reasons.join('; '),
              automatic: true,
              metrics: { checks: decision.checks, stats: decision.stats },
              nowMs,
            });
            logId = applied.logId;
          } else {
            await this.rollBackGuard(tx, environment, flag, decision);
          }
        }
        if (notify)
          await tx.insert(outbox).values({
            topic: 'rollback.triggered',
            environment,
            payload: {
              key: flag.key,
              environment,
              kind,
              applied: outcome === 'rolled_back',
              percent: decision.stats.percent,
              reasons,
              checks: decision.checks,
            },
          });
      } else if (decision.action === 'advance' || decision.action === 'complete') {
        if (kind === 'canary') {
          const applied = await applyCanaryTransition(tx, {
            environment,
            key: flag.key,
            action: decision.action,
            actor: 'scheduler',
            reason: decision.reasons.join('; '),
            automatic: true,
            metrics: { checks: decision.checks, stats: decision.stats },
            nowMs,
          });
          logId = applied.logId;
          outcome = decision.action === 'advance' ? 'advanced' : 'completed';
        } else {
          // A guarded rollout that is healthy: remember the percentage it is healthy at.
          await tx
            .insert(guardStates)
            .values({ environment, flagKey: flag.key, lastHealthyPercent: flag.rolloutPercentage! })
            .onConflictDoUpdate({
              target: [guardStates.environment, guardStates.flagKey],
              set: { lastHealthyPercent: flag.rolloutPercentage!, updatedAt: new Date(nowMs) },
            });
          outcome = 'held';
        }
      }
      const [row] = await tx
        .insert(rollbackDecisions)
        .values({
          environment,
          flagKey: flag.key,
          kind,
          runId: flag.canary?.runId ?? null,
          stage: decision.stats.stage,
          percent: decision.stats.percent,
          action: decision.action,
          outcome,
          applied: outcome === 'advanced' || outcome === 'completed' || outcome === 'rolled_back',
          reasons,
          checks: decision.checks,
          stats: decision.stats,
          policy: decision.policy,
          treatmentRequests: decision.stats.stageTreatment.requests,
          controlRequests: decision.stats.comparison?.control.requests ?? 0,
          z: finite(decision.stats.z),
          pValue: finite(decision.stats.pValue),
          latestWindowStartMs: decision.stats.latestWindowStart,
          trigger,
          leader: this.instanceId,
          canaryLogId: logId,
        })
        .returning({ id: rollbackDecisions.id });
      return { outcome, decisionId: row!.id, reasons, notify };
    });

    if (result.outcome === 'advanced' || result.outcome === 'completed' || result.outcome === 'rolled_back') {
      await this.d.refreshSnapshot(environment);
      const topic =
        result.outcome === 'advanced'
          ? 'canary.advanced'
          : result.outcome === 'completed'
            ? 'canary.completed'
            : 'canary.rolled_back';
      const payload = { environment, key: flag.key, kind, automatic: true, reasons: result.reasons };
      this.d.events.emit(topic, payload);
      this.d.events.emit('canary.transition', { ...payload, action: decision.action, actor: 'scheduler' });
      if (result.outcome === 'rolled_back') this.d.events.emit('rollback.triggered', payload);
    } else if (result.outcome === 'would_roll_back' && result.notify) {
      this.d.events.emit('rollback.triggered', {
        environment,
        key: flag.key,
        kind,
        automatic: true,
        applied: false,
        reasons: result.reasons,
      });
    }
    return {
      environment,
      key: flag.key,
      kind,
      decision,
      outcome: result.outcome,
      decisionId: result.decisionId,
    };
  }

  /**
   * An applied decision (or, with `outcome`, a decision with that outcome) of this run and stage
   * that saw the same (or a later) latest window.
   */
  private async alreadyActed(
    tx: DbOrTx,
    environment: string,
    flag: Flag,
    decision: CanaryDecision,
    outcome?: DecisionOutcome,
  ): Promise<boolean> {
    const latest = decision.stats.latestWindowStart;
    if (latest === null) return false;
    const rows = await tx
      .select({ id: rollbackDecisions.id })
      .from(rollbackDecisions)
      .where(
        and(
          eq(rollbackDecisions.environment, environment),
          eq(rollbackDecisions.flagKey, flag.key),
          outcome ? eq(rollbackDecisions.outcome, outcome) : eq(rollbackDecisions.applied, true),
          eq(rollbackDecisions.stage, decision.stats.stage),
          flag.canary?.runId ? eq(rollbackDecisions.runId, flag.canary.runId) : sql`true`,
          sql`${rollbackDecisions.latestWindowStartMs} >= ${latest}`,
        ),
      )
      .limit(1);
    return rows.length > 0;
  }

  private async rollBackGuard(tx: DbOrTx, environment: string, flag: Flag, decision: CanaryDecision) {
    const [state] = await tx
      .select()
      .from(guardStates)
      .where(and(eq(guardStates.environment, environment), eq(guardStates.flagKey, flag.key)));
    const current = flag.rolloutPercentage ?? 0;
    const target = state && state.lastHealthyPercent < current ? state.lastHealthyPercent : 0;
    await updateFlag(tx as unknown as Db, {
      environment,
      key: flag.key,
      patch: { rolloutPercentage: target },
      actor: 'rollback-monitor',
      reason: `guard: ${decision.reasons.join('; ')} → back to ${target}%`,
    });
  }

  /** Latest decisions of a flag (newest first). */
  static async latestDecisions(db: DbOrTx, environment: string, key: string, limit = 20) {
    return db
      .select()
      .from(rollbackDecisions)
      .where(and(eq(rollbackDecisions.environment, environment), eq(rollbackDecisions.flagKey, key)))
      .orderBy(desc(rollbackDecisions.id))
      .limit(limit);
  }
}

function finite(x: number | null): number | null {
  return x !== null && Number.isFinite(x) ? x : null;
}
