// Read side of the metrics area: per-environment canary health (cohort stats of the latest windows,
// traffic share against the configured percentage, last decision), range series, flag usage, and
// the numbers /health shows. Every figure is derived from merged windows with core's aggregates.
import {
  effectivePercent,
  type Flag,
  mergeWindows,
  type SerializedWindow,
  trafficShare,
  unitSketchStandardError,
  WindowAggregate,
} from '@rupaya/flags-core';
import { and, desc, eq, getTableColumns, gte, lt, sql } from 'drizzle-orm';
import type { Config } from '../config';
import type { DbOrTx } from '../db/client';
import { deploymentMetrics, flagUsage, rollbackDecisions } from '../db/schema/index';
import { isGuarded } from './canary-scheduler';
import { listEnvironments } from './environments';
import { listFlags } from './flags';
import { loadWindows, rowToWindow } from './metrics-ingest';

export interface CohortSummary {
  requests: number;
  errors: number;
  /** Percent. */
  errorRate: number | null;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  rps: number;
}

function summarize(agg: WindowAggregate | null): CohortSummary {
  if (!agg) return { requests: 0, errors: 0, errorRate: null, p50: null, p95: null, p99: null, rps: 0 };
  const s = agg.summary();
  return {
    requests: s.requests,
    errors: s.errors,
    errorRate: s.errorRate === null ? null : s.errorRate * 100,
    p50: s.p50,
    p95: s.p95,
    p99: s.p99,
    rps: s.rps,
  };
}

function mergeCohort(windows: SerializedWindow[], cohort: string): WindowAggregate | null {
  return mergeWindows(
    windows.filter((w) => (w.cohort ?? '') === cohort),
    { cohort, endpoint: '*' },
  );
}

export interface CanaryHealth {
  key: string;
  kind: 'canary' | 'guard';
  stage: number | null;
  percent: number;
  status: string;
  runId: string | null;
  stageStartedAt: string | null;
  /** Over the last METRICS_WINDOW_SIZE. */
  cohorts: { treatment: CohortSummary; control: CohortSummary };
  /** The latest complete window of each cohort. */
  latestWindow: { windowStart: number | null; treatment: CohortSummary; control: CohortSummary };
  traffic: {
    configuredPercent: number;
    /** Treatment requests / all requests of the flag, percent; null without traffic. */
    observedPercent: number | null;
    requests: number;
    gap: number | null;
    /** Largest |gap| (points) that is fine at this many requests; null without traffic. */
    allowedGap: number | null;
    /**
     * Distinct units (unit keys) of the flag over the span (estimate, HyperLogLog); null when no SDK
     * reported units (older SDKs).
     */
    units: number | null;
    /** Distinct treatment units / distinct units of the flag, percent; null without units. */
    observedUnitPercent: number | null;
    unitGap: number | null;
    /** Largest |unitGap| (points) that is fine at this many units; null without units. */
    allowedUnitGap: number | null;
    /** Both shares within their allowed gap (or too little traffic to judge). */
    ok: boolean;
  };
  lastDecision: {
    action: string;
    outcome: string;
    reasons: string[];
    at: string;
    z: number | null;
    pValue: number | null;
  } | null;
  health: 'healthy' | 'degraded' | 'rolling_back';
}

export async function environmentHealth(db: DbOrTx, config: Config, environment: string, nowMs: number) {
  const spanMs = Math.round(config.metricsWindowSizeSec * 1000);
  const flags = await listFlags(db, environment);
  const items: CanaryHealth[] = [];
  for (const { flag } of flags) {
    const isCanary = !!flag.stages && flag.stages.length > 0;
    if (!isCanary && !isGuarded(flag)) continue;
    items.push(await flagHealth(db, environment, flag, isCanary ? 'canary' : 'guard', spanMs, nowMs));
  }
  const status = items.some((i) => i.health === 'rolling_back')
    ? 'rolling_back'
    : items.some((i) => i.health === 'degraded')
      ? 'degraded'
      : 'healthy';
  return { environment, status, windowSizeSec: config.metricsWindowSizeSec, canaries: items };
}

async function flagHealth(
  db: DbOrTx,
  environment: string,
  flag: Flag,
  kind: 'canary' | 'guard',
  spanMs: number,
  nowMs: number,
): Promise<CanaryHealth> {
  const windows = (
    await loadWindows(db, environment, flag.key, nowMs - spanMs, 'raw', { units: true })
  ).filter((w) => w.windowStart + w.durationMs <= nowMs);
  const latestStart = windows.reduce<number | null>(
    (m, w) => (m === null || w.windowStart > m ? w.windowStart : m),
    null,
  );
  const latest = windows.filter((w) => w.windowStart === latestStart);
  const treatment = mergeCohort(windows, 'treatment');
  const total = mergeWindows(windows, { endpoint: '*' });
  const configured = effectivePercent(flag);
  const requests = total?.requests ?? 0;
  const byRequests = trafficShare(configured, treatment?.requests ?? 0, requests);
  // Units: a union of the sketches (never a sum: one unit is in many windows and endpoints).
  const unitEstimate = total?.unitCount ?? null;
  const units = unitEstimate === null ? null : Math.round(unitEstimate);
  const byUnits = trafficShare(configured, treatment?.unitCount ?? 0, unitEstimate ?? 0, {
    sketchError: total?.units ? unitSketchStandardError(total.units.p) : 0,
  });
  const trafficOk = byRequests.ok && byUnits.ok;
  const [decision] = await db
    .select()
    .from(rollbackDecisions)
    .where(and(eq(rollbackDecisions.environment, environment), eq(rollbackDecisions.flagKey, flag.key)))
    .orderBy(desc(rollbackDecisions.id))
    .limit(1);
  const recentRollback =
    decision?.outcome === 'rolled_back' && nowMs - decision.createdAt.getTime() <= Math.max(spanMs, 60_000);
  const failingFast = Array.isArray(decision?.checks)
    ? (decision.checks as { path: string; passed: boolean; observed: unknown }[]).some(
        (c) => c.path === 'fast' && !c.passed && c.observed !== null,
      )
    : false;
  const health: CanaryHealth['health'] = recentRollback
    ? 'rolling_back'
    : !trafficOk || failingFast || decision?.outcome === 'would_roll_back'
      ? 'degraded'
      : 'healthy';
  return {
    key: flag.key,
    kind,
    stage: kind === 'canary' ? (flag.canary?.stage ?? 0) : null,
    percent: configured,
    status: kind === 'canary' ? (flag.canary?.status ?? 'paused') : 'guarded',
    runId: flag.canary?.runId ?? null,
    stageStartedAt: flag.canary?.stageStartedAt ?? null,
    cohorts: { treatment: summarize(treatment), control: summarize(mergeCohort(windows, 'control')) },
    latestWindow: {
      windowStart: latestStart,
      treatment: summarize(mergeCohort(latest, 'treatment')),
      control: summarize(mergeCohort(latest, 'control')),
    },
    traffic: {
      configuredPercent: configured,
      observedPercent: byRequests.observedPercent,
      requests,
      gap: byRequests.gap,
      allowedGap: byRequests.allowedGap,
      units,
      observedUnitPercent: byUnits.observedPercent,
      unitGap: byUnits.gap,
      allowedUnitGap: byUnits.allowedGap,
      ok: trafficOk,
    },
    lastDecision: decision
      ? {
          action: decision.action,
          outcome: decision.outcome,
          reasons: decision.reasons,
          at: decision.createdAt.toISOString(),
          z: decision.z,
          pValue: decision.pValue,
        }
      : null,
    health,
  };
}

/** /health `deployment`: worst status over environments; error rate and P99 over all recent windows. */
export async function deploymentSummary(db: DbOrTx, config: Config, nowMs: number) {
  const spanMs = Math.round(config.metricsWindowSizeSec * 1000);
  let status: 'healthy' | 'degraded' | 'rolling_back' = 'healthy';
  for (const env of await listEnvironments(db)) {
    const h = await environmentHealth(db, config, env.key, nowMs);
    if (h.status === 'rolling_back' || (h.status === 'degraded' && status === 'healthy')) status = h.status;
  }
  // Units are left out (not even read): one total over every flag means nothing.
  const { unitSketch: _units, ...columns } = getTableColumns(deploymentMetrics);
  const rows = await db
    .select(columns)
    .from(deploymentMetrics)
    .where(
      and(eq(deploymentMetrics.granularity, 'raw'), gte(deploymentMetrics.windowStartMs, nowMs - spanMs)),
    );
  const all = mergeWindows(
    rows.filter((r) => r.reports > 0).map((r) => rowToWindow({ ...r, unitSketch: null })),
    { flag: '*', endpoint: '*' },
  );
  const s = summarize(all);
  return { status, errorRate: s.errorRate ?? 0, p99ResponseTime: s.p99 ?? 0 };
}

export async function flagUsageTotals(db: DbOrTx) {
  const rows = await db
    .select({ flag: flagUsage.flagKey, count: sql<string>`sum(${flagUsage.count})` })
    .from(flagUsage)
    .groupBy(flagUsage.flagKey);
  const checksPerFlag: Record<string, number> = {};
  let checksTotal = 0;
  for (const r of rows) {
    const n = Number(r.count);
    checksPerFlag[r.flag] = n;
    checksTotal += n;
  }
  return { checksTotal, checksPerFlag };
}

export interface RangeQuery {
  environment: string;
  from: number;
  to: number;
  flag?: string | undefined;
  stage?: number | undefined;
  variant?: string | undefined;
  cohort?: string | undefined;
  endpoint?: string | undefined;
  /** raw (SDK windows), 1m, or auto (raw when available, else 1m). */
  granularity: 'raw' | '1m' | 'auto';
}

export interface RangePoint {
  windowStart: number;
  durationMs: number;
  requests: number;
  errors: number;
  /** Percent. */
  errorRate: number | null;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  rps: number;
  topErrors: { endpoint: string; status: number; count: number }[];
  /**
   * Distinct units of the point (estimate, union over its rows); null when none were reported, and
   * with an `endpoint` filter (SDKs count units per series across endpoints, not per endpoint).
   */
  units: number | null;
}

/** Series per (flag, cohort, variant) of merged windows in [from, to). */
export async function metricsRange(db: DbOrTx, q: RangeQuery) {
  const select = (granularity: string) =>
    db
      .select()
      .from(deploymentMetrics)
      .where(
        and(
          eq(deploymentMetrics.environment, q.environment),
          eq(deploymentMetrics.granularity, granularity),
          gte(deploymentMetrics.windowStartMs, q.from),
          lt(deploymentMetrics.windowStartMs, q.to),
          q.flag !== undefined ? eq(deploymentMetrics.flagKey, q.flag) : undefined,
          q.stage !== undefined ? eq(deploymentMetrics.stage, q.stage) : undefined,
          q.variant !== undefined ? eq(deploymentMetrics.variant, q.variant) : undefined,
          q.cohort !== undefined ? eq(deploymentMetrics.cohort, q.cohort) : undefined,
          q.endpoint !== undefined ? eq(deploymentMetrics.endpoint, q.endpoint) : undefined,
        ),
      )
      .orderBy(deploymentMetrics.windowStartMs);
  let granularity: 'raw' | '1m' = q.granularity === '1m' ? '1m' : 'raw';
  let rows = await select(granularity);
  if (q.granularity === 'auto') {
    // Older data exists only as roll-ups: serve minutes when raw windows do not cover the range.
    const rolled = await select('1m');
    if (rolled.length > 0 && (rows.length === 0 || rolled[0]!.windowStartMs < rows[0]!.windowStartMs)) {
      rows = rolled;
      granularity = '1m';
    }
  }
  const groups = new Map<
    string,
    { flag: string; cohort: string | null; variant: string | null; byStart: Map<number, WindowAggregate> }
  >();
  for (const r of rows) {
    if (r.reports === 0) continue;
    const gk = `${r.flagKey}\u0000${r.cohort}\u0000${r.variant}`;
    let g = groups.get(gk);
    if (!g) {
      g = { flag: r.flagKey, cohort: r.cohort || null, variant: r.variant || null, byStart: new Map() };
      groups.set(gk, g);
    }
    const w = rowToWindow(r);
    if (q.endpoint !== undefined) delete w.units; // not reported per endpoint
    const agg = g.byStart.get(r.windowStartMs);
    if (agg) agg.merge(w);
    else g.byStart.set(r.windowStartMs, WindowAggregate.fromSerialized({ ...w, endpoint: '*' }));
  }
  const series = [...groups.values()].map((g) => ({
    flag: g.flag,
    cohort: g.cohort,
    variant: g.variant,
    points: [...g.byStart.values()]
      .sort((a, b) => a.windowStart - b.windowStart)
      .map((agg): RangePoint => {
        const s = agg.summary();
        return {
          windowStart: s.windowStart,
          durationMs: s.durationMs,
          requests: s.requests,
          errors: s.errors,
          errorRate: s.errorRate === null ? null : s.errorRate * 100,
          p50: s.p50,
          p95: s.p95,
          p99: s.p99,
          rps: s.rps,
          topErrors: s.topErrors,
          units: q.endpoint === undefined && s.units !== null ? Math.round(s.units) : null,
        };
      }),
  }));
  return { environment: q.environment, from: q.from, to: q.to, granularity, series };
}

export async function flagUsageRange(
  db: DbOrTx,
  q: { environment: string; from: number; to: number; flag?: string | undefined },
) {
  const rows = await db
    .select()
    .from(flagUsage)
    .where(
      and(
        eq(flagUsage.environment, q.environment),
        gte(flagUsage.windowStartMs, q.from),
        lt(flagUsage.windowStartMs, q.to),
        q.flag !== undefined ? eq(flagUsage.flagKey, q.flag) : undefined,
      ),
    )
    .orderBy(flagUsage.windowStartMs, flagUsage.flagKey, flagUsage.variant);
  const totals: Record<string, Record<string, number>> = {};
  for (const r of rows) {
    const perVariant = (totals[r.flagKey] ??= {});
    const v = r.variant || '(none)';
    perVariant[v] = (perVariant[v] ?? 0) + r.count;
  }
  return {
    environment: q.environment,
    from: q.from,
    to: q.to,
    points: rows.map((r) => ({
      flag: r.flagKey,
      variant: r.variant || null,
      windowStart: r.windowStartMs,
      count: r.count,
    })),
    totals,
  };
}
