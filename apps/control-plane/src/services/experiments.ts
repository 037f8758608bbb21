// Experiments: exposure and event ingest (per unit, idempotent per batch), sufficient statistics per
// (experiment, variant, metric) maintained incrementally in the same transaction, the cold rebuild
// of those statistics from the per-unit rows, the analysis (every number from core's statistics),
// and concluding an experiment. Ingest of one environment is serialised by an advisory lock so the
// read-modify-write of the per-unit aggregates is exact under concurrent batches.
import {
  type AnalysisMetric,
  type AnalysisVariant,
  analyzeExperiment,
  type EventBatch,
  type ExperimentAnalysis,
  type ExperimentDefinition,
  type ExposureBatch,
  type Flag,
  type GuardrailInput,
  LatencySketch,
  type MetricSums,
  type SerializedSketch,
  validateFlag,
} from '@rupaya/flags-core';
import { and, eq, sql } from 'drizzle-orm';
import type { Db, DbOrTx } from '../db/client';
import {
  experimentMetricStats,
  experimentVariantUnits,
  featureFlagsAudit,
  flagConfigs,
  outbox,
} from '../db/schema/index';
import { errors } from '../errors';
import { splitFlag } from './flag-model';
import { getFlag, getFlagForUpdate, listFlags } from './flags';
import { createRevision } from './snapshots';

/** Advisory-lock class of experiment ingest (second key: hashtext(environment)). */
const INGEST_LOCK = 7_242_007;
/** Guardrail P99: latency sketches of at most this many recent raw windows are merged. */
const GUARDRAIL_SKETCH_WINDOWS = 2000;
/** Events waiting for their unit's exposure are kept this long. */
const PENDING_RETENTION_SEC = 24 * 3600;

// postgres.js returns an array of rows; PGlite returns { rows }.
function rowsOf<T>(result: unknown): T[] {
  if (Array.isArray(result)) return result as T[];
  return ((result as { rows?: T[] }).rows ?? []) as T[];
}

const json = (value: unknown) => sql`${JSON.stringify(value)}::jsonb`;
const toMs = (v: Date | string | number) => (v instanceof Date ? v.getTime() : new Date(v).getTime());

/** A flag that is an experiment: variants with weights and an `experiment` definition. */
export interface ExperimentConfig {
  key: string;
  flag: Flag;
  definition: ExperimentDefinition;
  running: boolean;
  controlVariant: string;
  variants: { key: string; weight: number }[];
  metrics: AnalysisMetric[];
}

export function experimentOf(flag: Flag): ExperimentConfig | null {
  const definition = flag.experiment;
  const weighted = (flag.variants ?? []).filter((v) => v.weight !== undefined);
  if (!definition || weighted.length === 0) return null;
  const metrics: AnalysisMetric[] = [
    { ...definition.primaryMetric, role: 'primary' },
    ...(definition.secondaryMetrics ?? [])
      .filter((m) => m.event !== definition.primaryMetric.event)
      .map((m) => ({ ...m, role: 'secondary' as const })),
  ];
  return {
    key: flag.key,
    flag,
    definition,
    running: definition.status !== 'concluded',
    controlVariant: definition.controlVariant ?? 'control',
    variants: weighted.map((v) => ({ key: v.key, weight: v.weight ?? 0 })),
    metrics,
  };
}

export interface IngestResult {
  accepted: number;
  duplicate: boolean;
  /** Records that belong to no running experiment (or name an unknown variant). */
  ignored: number;
}

type Exposure = ExposureBatch['exposures'][number];
type TrackedEvent = EventBatch['events'][number];

interface UnitExposure {
  exp: string;
  unit: string;
  variant: string;
  firstMs: number;
}

interface MetricIncrement {
  exp: string;
  unit: string;
  event: string;
  variant: string;
  count: number;
  sum: number;
}

export interface ExperimentServiceOptions {
  /** How long a computed analysis is served from memory (default 5000 ms; ingest invalidates it). */
  cacheTtlMs?: number;
  now?: () => number;
}

export class ExperimentService {
  private readonly definitions = new Map<string, { stamp: string; byKey: Map<string, ExperimentConfig> }>();
  private readonly cache = new Map<string, { at: number; analysis: AnalysisReport }>();
  private readonly cacheTtlMs: number;
  private readonly now: () => number;

  constructor(
    private readonly db: Db,
    private readonly revisionOf: (environment: string) => number | undefined,
    options: ExperimentServiceOptions = {},
  ) {
    this.cacheTtlMs = options.cacheTtlMs ?? 5000;
    this.now = options.now ?? Date.now;
  }

  /** Experiment flags of an environment, cached per snapshot revision. */
  async experiments(environment: string): Promise<Map<string, ExperimentConfig>> {
    const revision = this.revisionOf(environment);
    const stamp = revision === undefined ? `t${Math.floor(this.now() / 1000)}` : `r${revision}`;
    const hit = this.definitions.get(environment);
    if (hit && hit.stamp === stamp) return hit.byKey;
    const flags = await listFlags(this.db, environment);
    const byKey = new Map<string, ExperimentConfig>();
    for (const f of flags) {
      const e = experimentOf(f.flag);
      if (e) byKey.set(e.key, e);
    }
    this.definitions.set(environment, { stamp, byKey });
    return byKey;
  }

  private invalidate(environment: string, experiments: Iterable<string>): void {
    for (const e of experiments) this.cache.delete(`${environment}\u0000${e}`);
  }

  // ---------------------------------------------------------------------------------------------
  // Ingest

  /** Claims a batch key inside the transaction; returns the earlier count when it is a retry. */
  private async claimBatch(
    tx: DbOrTx,
    kind: 'exposures' | 'events',
    environment: string,
    instanceId: string,
    batchKey: string,
    accepted: number,
  ): Promise<number | null> {
    const inserted = rowsOf<{ kind: string }>(
      await tx.execute(sql`insert into experiment_batches (kind, environment, instance_id, batch_key, accepted)
        values (${kind}, ${environment}, ${instanceId}, ${batchKey}, ${accepted})
        on conflict do nothing returning kind`),
    );
    if (inserted.length > 0) return null;
    const prior = rowsOf<{ accepted: number }>(
      await tx.execute(sql`select accepted from experiment_batches where kind = ${kind}
        and environment = ${environment} and instance_id = ${instanceId} and batch_key = ${batchKey}`),
    );
    return Number(prior[0]?.accepted ?? 0);
  }

  async ingestExposures(environment: string, batch: ExposureBatch): Promise<IngestResult> {
    const experiments = await this.experiments(environment);
    const relevant: Exposure[] = [];
    for (const x of batch.exposures) {
      const e = experiments.get(x.flag);
      if (e?.running && e.variants.some((v) => v.key === x.variant)) relevant.push(x);
    }
    const ignored = batch.exposures.length - relevant.length;
    const touched = new Set(relevant.map((x) => x.flag));
    const result = await this.db.transaction(async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(${INGEST_LOCK}, hashtext(${environment}))`);
      const prior = await this.claimBatch(
        tx,
        'exposures',
        environment,
        batch.instanceId,
        batch.batchKey,
        batch.exposures.length,
      );
      if (prior !== null) return { accepted: prior, duplicate: true, ignored: 0 };
      if (relevant.length > 0) await this.applyExposures(tx, environment, relevant, experiments);
      return { accepted: batch.exposures.length, duplicate: false, ignored };
    });
    if (!result.duplicate) this.invalidate(environment, touched);
    return result;
  }

  private async applyExposures(
    tx: DbOrTx,
    environment: string,
    exposures: Exposure[],
    experiments: Map<string, ExperimentConfig>,
  ): Promise<void> {
    // One group per (experiment, unit) in this batch.
    const groups = new Map<
      string,
      {
        exp: string;
        unit: string;
        variant: string;
        variants: Set<string>;
        minMs: number;
        maxMs: number;
        n: number;
      }
    >();
    for (const x of exposures) {
      const id = `${x.flag}\u0000${x.unitKey}`;
      const g = groups.get(id);
      if (!g) {
        groups.set(id, {
          exp: x.flag,
          unit: x.unitKey,
          variant: x.variant,
          variants: new Set([x.variant]),
          minMs: x.timestamp,
          maxMs: x.timestamp,
          n: 1,
        });
        continue;
      }
      g.variants.add(x.variant);
      g.n++;
      if (x.timestamp < g.minMs) {
        g.minMs = x.timestamp;
        g.variant = x.variant;
      }
      g.maxMs = Math.max(g.maxMs, x.timestamp);
    }
    const list = [...groups.values()];
    const existing = new Map<string, { variant: string; conflicting: boolean }>();
    for (const r of rowsOf<{
      experiment_key: string;
      unit_key: string;
      variant: string;
      conflicting: boolean;
    }>(
      await tx.execute(sql`select r.experiment_key, r.unit_key, r.variant, r.conflicting
        from experiment_results r
        join jsonb_to_recordset(${json(list.map((g) => ({ exp: g.exp, unit: g.unit })))}) as i(exp text, unit text)
          on r.experiment_key = i.exp and r.unit_key = i.unit
        where r.environment = ${environment}`),
    )) {
      existing.set(`${r.experiment_key}\u0000${r.unit_key}`, {
        variant: r.variant,
        conflicting: r.conflicting,
      });
    }

    type Delta = { units: number; exposures: number; excluded: number; firstMs: number | null };
    const deltas = new Map<string, Delta & { exp: string; variant: string }>();
    const delta = (exp: string, variant: string) => {
      const id = `${exp}\u0000${variant}`;
      let d = deltas.get(id);
      if (!d) {
        d = { exp, variant, units: 0, exposures: 0, excluded: 0, firstMs: null };
        deltas.set(id, d);
      }
      return d;
    };
    const rows: {
      exp: string;
      unit: string;
      variant: string;
      first: string;
      last: string;
      n: number;
      conflicting: boolean;
      other: string | null;
    }[] = [];
    const newlyConflicting: { exp: string; unit: string; variant: string }[] = [];
    const newPairs: UnitExposure[] = [];
    for (const g of list) {
      const before = existing.get(`${g.exp}\u0000${g.unit}`);
      const variant = before?.variant ?? g.variant;
      const others = [...g.variants].filter((v) => v !== variant);
      const conflictingNow = others.length > 0;
      rows.push({
        exp: g.exp,
        unit: g.unit,
        variant,
        first: new Date(g.minMs).toISOString(),
        last: new Date(g.maxMs).toISOString(),
        n: g.n,
        conflicting: conflictingNow,
        other: others[0] ?? null,
      });
      const d = delta(g.exp, variant);
      d.exposures += g.n;
      if (!before) {
        if (conflictingNow) d.excluded += 1;
        else {
          d.units += 1;
          d.firstMs = d.firstMs === null ? g.minMs : Math.min(d.firstMs, g.minMs);
          newPairs.push({ exp: g.exp, unit: g.unit, variant, firstMs: g.minMs });
        }
      } else if (!before.conflicting && conflictingNow) {
        d.units -= 1;
        d.excluded += 1;
        newlyConflicting.push({ exp: g.exp, unit: g.unit, variant });
      }
    }

    await tx.execute(sql`insert into experiment_results
        (environment, experiment_key, unit_key, variant, first_exposure_at, last_exposure_at, exposures, conflicting, conflicting_variant)
      select ${environment}, i.exp, i.unit, i.variant, i.first, i.last, i.n, i.conflicting, i.other
      from jsonb_to_recordset(${json(rows)}) as i(exp text, unit text, variant text, first timestamptz, last timestamptz,
        n int, conflicting boolean, other text)
      on conflict (environment, experiment_key, unit_key) do update set
        first_exposure_at = least(experiment_results.first_exposure_at, excluded.first_exposure_at),
        last_exposure_at = greatest(experiment_results.last_exposure_at, excluded.last_exposure_at),
        exposures = experiment_results.exposures + excluded.exposures,
        conflicting = experiment_results.conflicting or excluded.conflicting,
        conflicting_variant = coalesce(experiment_results.conflicting_variant, excluded.conflicting_variant)`);

    if (newlyConflicting.length > 0) {
      // Take the units that just became conflicting out of their variant's metric statistics.
      await tx.execute(sql`insert into experiment_metric_stats as s
          (environment, experiment_key, variant, event, converted, sum_count, sum_count_squares, sum_value, sum_value_squares)
        select ${environment}, m.experiment_key, i.variant, m.event,
          -sum(case when m.count > 0 then 1 else 0 end), -sum(m.count), -sum(m.count::float8 * m.count),
          -sum(m.sum), -sum(m.sum * m.sum)
        from experiment_unit_metrics m
        join jsonb_to_recordset(${json(newlyConflicting)}) as i(exp text, unit text, variant text)
          on m.experiment_key = i.exp and m.unit_key = i.unit
        where m.environment = ${environment}
        group by m.experiment_key, i.variant, m.event
        on conflict (environment, experiment_key, variant, event) do update set
          converted = s.converted + excluded.converted,
          sum_count = s.sum_count + excluded.sum_count,
          sum_count_squares = s.sum_count_squares + excluded.sum_count_squares,
          sum_value = s.sum_value + excluded.sum_value,
          sum_value_squares = s.sum_value_squares + excluded.sum_value_squares`);
    }

    const deltaRows = [...deltas.values()].map((d) => ({
      ...d,
      first: d.firstMs === null ? null : new Date(d.firstMs).toISOString(),
    }));
    await tx.execute(sql`insert into experiment_variant_units as u
        (environment, experiment_key, variant, units, exposures, excluded_units, first_exposure_at)
      select ${environment}, i.exp, i.variant, i.units, i.exposures, i.excluded, i.first
      from jsonb_to_recordset(${json(deltaRows)}) as i(exp text, variant text, units bigint, exposures bigint,
        excluded bigint, first timestamptz)
      on conflict (environment, experiment_key, variant) do update set
        units = u.units + excluded.units,
        exposures = u.exposures + excluded.exposures,
        excluded_units = u.excluded_units + excluded.excluded_units,
        first_exposure_at = least(u.first_exposure_at, excluded.first_exposure_at)`);

    // Events that arrived before these exposures: apply them to the new (experiment, unit) pairs.
    if (newPairs.length > 0) {
      const units = [...new Set(newPairs.map((p) => p.unit))];
      const pending = rowsOf<{
        unit_key: string;
        event: string;
        value: number | null;
        occurred_at: Date | string;
      }>(
        await tx.execute(sql`select p.unit_key, p.event, p.value, p.occurred_at
          from experiment_pending_events p
          join jsonb_array_elements_text(${json(units)}) as i(unit) on p.unit_key = i.unit
          where p.environment = ${environment}`),
      );
      if (pending.length > 0) {
        const events: TrackedEvent[] = pending.map((p) => ({
          event: p.event,
          unitKey: p.unit_key,
          timestamp: toMs(p.occurred_at),
          ...(p.value === null ? {} : { value: Number(p.value) }),
        }));
        await this.applyEvents(tx, environment, events, experiments, newPairs, false);
      }
    }
  }

  async ingestEvents(environment: string, batch: EventBatch): Promise<IngestResult> {
    const experiments = await this.experiments(environment);
    const tracked = new Set<string>();
    for (const e of experiments.values()) {
      if (e.running) for (const m of e.metrics) tracked.add(m.event);
    }
    const relevant = batch.events.filter((e) => tracked.has(e.event));
    const touched = new Set<string>();
    for (const e of experiments.values()) {
      if (e.running && e.metrics.some((m) => relevant.some((r) => r.event === m.event))) touched.add(e.key);
    }
    const result = await this.db.transaction(async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(${INGEST_LOCK}, hashtext(${environment}))`);
      const prior = await this.claimBatch(
        tx,
        'events',
        environment,
        batch.instanceId,
        batch.batchKey,
        batch.events.length,
      );
      if (prior !== null) return { accepted: prior, duplicate: true, ignored: 0 };
      if (relevant.length > 0) {
        const units = [...new Set(relevant.map((e) => e.unitKey))];
        const keys = [...experiments.values()].filter((e) => e.running).map((e) => e.key);
        const exposed = rowsOf<{
          experiment_key: string;
          unit_key: string;
          variant: string;
          first_exposure_at: Date | string;
        }>(
          await tx.execute(sql`select r.experiment_key, r.unit_key, r.variant, r.first_exposure_at
            from experiment_results r
            join jsonb_array_elements_text(${json(units)}) as i(unit) on r.unit_key = i.unit
            where r.environment = ${environment} and not r.conflicting
              and r.experiment_key in (select jsonb_array_elements_text(${json(keys)}))`),
        ).map((r) => ({
          exp: r.experiment_key,
          unit: r.unit_key,
          variant: r.variant,
          firstMs: toMs(r.first_exposure_at),
        }));
        // Units with any row (conflicting included) are not pending for that experiment.
        const known = rowsOf<{ experiment_key: string; unit_key: string }>(
          await tx.execute(sql`select r.experiment_key, r.unit_key from experiment_results r
            join jsonb_array_elements_text(${json(units)}) as i(unit) on r.unit_key = i.unit
            where r.environment = ${environment} and r.conflicting`),
        );
        await this.applyEvents(
          tx,
          environment,
          relevant,
          experiments,
          exposed,
          true,
          new Set(known.map((k) => `${k.experiment_key}\u0000${k.unit_key}`)),
        );
      }
      await tx.execute(
        sql`delete from experiment_pending_events where received_at < now() - make_interval(secs => ${PENDING_RETENTION_SEC})`,
      );
      return {
        accepted: batch.events.length,
        duplicate: false,
        ignored: batch.events.length - relevant.length,
      };
    });
    if (!result.duplicate) this.invalidate(environment, touched);
    return result;
  }

  /**
   * Adds events to the per-unit aggregates of the experiments their units are exposed to (events
   * before the unit's first exposure are ignored), and the resulting changes to the sufficient
   * statistics. With `keepPending`, events of units not yet exposed to an experiment tracking them
   * are stored to be applied when the exposure arrives.
   */
  private async applyEvents(
    tx: DbOrTx,
    environment: string,
    events: TrackedEvent[],
    experiments: Map<string, ExperimentConfig>,
    exposed: UnitExposure[],
    keepPending: boolean,
    conflicting: Set<string> = new Set(),
  ): Promise<void> {
    const byUnit = new Map<string, UnitExposure[]>();
    for (const x of exposed) {
      const list = byUnit.get(x.unit);
      if (list) list.push(x);
      else byUnit.set(x.unit, [x]);
    }
    const trackedBy = new Map<string, string[]>();
    for (const e of experiments.values()) {
      if (!e.running) continue;
      for (const m of new Set(e.metrics.map((mm) => mm.event))) {
        const list = trackedBy.get(m);
        if (list) list.push(e.key);
        else trackedBy.set(m, [e.key]);
      }
    }
    const increments = new Map<string, MetricIncrement>();
    const pending: { unit: string; event: string; value: number | null; at: string }[] = [];
    for (const ev of events) {
      const exps = trackedBy.get(ev.event) ?? [];
      let waiting = false;
      for (const exp of exps) {
        const x = byUnit.get(ev.unitKey)?.find((u) => u.exp === exp);
        if (!x) {
          if (!conflicting.has(`${exp}\u0000${ev.unitKey}`)) waiting = true;
          continue;
        }
        if (ev.timestamp < x.firstMs) continue;
        const id = `${exp}\u0000${ev.unitKey}\u0000${ev.event}`;
        let inc = increments.get(id);
        if (!inc) {
          inc = { exp, unit: ev.unitKey, event: ev.event, variant: x.variant, count: 0, sum: 0 };
          increments.set(id, inc);
        }
        inc.count += 1;
        inc.sum += ev.value ?? 0;
      }
      if (keepPending && waiting) {
        pending.push({
          unit: ev.unitKey,
          event: ev.event,
          value: ev.value ?? null,
          at: new Date(ev.timestamp).toISOString(),
        });
      }
    }
    if (pending.length > 0) {
      await tx.execute(sql`insert into experiment_pending_events (environment, unit_key, event, value, occurred_at)
        select ${environment}, i.unit, i.event, i.value, i.at
        from jsonb_to_recordset(${json(pending)}) as i(unit text, event text, value float8, at timestamptz)`);
    }
    if (increments.size === 0) return;
    const list = [...increments.values()];
    const current = new Map<string, { count: number; sum: number }>();
    for (const r of rowsOf<{
      experiment_key: string;
      unit_key: string;
      event: string;
      count: number | string;
      sum: number;
    }>(
      await tx.execute(sql`select m.experiment_key, m.unit_key, m.event, m.count, m.sum
        from experiment_unit_metrics m
        join jsonb_to_recordset(${json(list.map(({ exp, unit, event }) => ({ exp, unit, event })))})
          as i(exp text, unit text, event text)
          on m.experiment_key = i.exp and m.unit_key = i.unit and m.event = i.event
        where m.environment = ${environment}`),
    )) {
      current.set(`${r.experiment_key}\u0000${r.unit_key}\u0000${r.event}`, {
        count: Number(r.count),
        sum: Number(r.sum),
      });
    }
    // Changes of the per-variant sums caused by each unit's new aggregate.
    const stats = new Map<string, { exp: string; variant: string; event: string } & MetricSums>();
    for (const inc of list) {
      const old = current.get(`${inc.exp}\u0000${inc.unit}\u0000${inc.event}`) ?? { count: 0, sum: 0 };
      const count = old.count + inc.count;
      const sum = old.sum + inc.sum;
      const id = `${inc.exp}\u0000${inc.variant}\u0000${inc.event}`;
      let s = stats.get(id);
      if (!s) {
        s = {
          exp: inc.exp,
          variant: inc.variant,
          event: inc.event,
          converted: 0,
          sumCount: 0,
          sumCountSquares: 0,
          sumValue: 0,
          sumValueSquares: 0,
        };
        stats.set(id, s);
      }
      s.converted += (count > 0 ? 1 : 0) - (old.count > 0 ? 1 : 0);
      s.sumCount += inc.count;
      s.sumCountSquares += count * count - old.count * old.count;
      s.sumValue += inc.sum;
      s.sumValueSquares += sum * sum - old.sum * old.sum;
    }
    await tx.execute(sql`insert into experiment_unit_metrics as m (environment, experiment_key, unit_key, variant, event, count, sum)
      select ${environment}, i.exp, i.unit, i.variant, i.event, i.count, i.sum
      from jsonb_to_recordset(${json(list)}) as i(exp text, unit text, variant text, event text, count bigint, sum float8)
      on conflict (environment, experiment_key, unit_key, event) do update set
        count = m.count + excluded.count, sum = m.sum + excluded.sum`);
    await tx.execute(sql`insert into experiment_metric_stats as s
        (environment, experiment_key, variant, event, converted, sum_count, sum_count_squares, sum_value, sum_value_squares)
      select ${environment}, i.exp, i.variant, i.event, i.converted, i."sumCount", i."sumCountSquares", i."sumValue",
        i."sumValueSquares"
      from jsonb_to_recordset(${json([...stats.values()])}) as i(exp text, variant text, event text, converted bigint,
        "sumCount" float8, "sumCountSquares" float8, "sumValue" float8, "sumValueSquares" float8)
      on conflict (environment, experiment_key, variant, event) do update set
        converted = s.converted + excluded.converted,
        sum_count = s.sum_count + excluded.sum_count,
        sum_count_squares = s.sum_count_squares + excluded.sum_count_squares,
        sum_value = s.sum_value + excluded.sum_value,
        sum_value_squares = s.sum_value_squares + excluded.sum_value_squares`);
  }

  // ---------------------------------------------------------------------------------------------
  // Statistics

  /**
   * Recomputes an experiment's sufficient statistics from the per-unit rows: one grouped pass over its
   * units (per variant) and one over its per-unit metric rows (per variant and event — each row carries
   * its unit's variant, so no join with the units; the few conflicting units are left out through
   * their partial index).
   *
   * The units pass is a plain SELECT, which Postgres may run in parallel (an INSERT … SELECT never
   * is); its aggregates are exact (counts, integer sums, a minimum) and written back as text. The
   * metric pass stays an INSERT … SELECT: serial, so the float sums are accumulated in the rows'
   * stored order and a rebuild of the same rows gives the same bits (a parallel plan would not).
   */
  async rebuild(
    environment: string,
    key: string,
  ): Promise<{ variants: number; metrics: number; ms: number }> {
    await this.requireExperiment(environment, key);
    const started = performance.now();
    const out = await this.db.transaction(async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(${INGEST_LOCK}, hashtext(${environment}))`);
      await tx
        .delete(experimentVariantUnits)
        .where(
          and(
            eq(experimentVariantUnits.environment, environment),
            eq(experimentVariantUnits.experimentKey, key),
          ),
        );
      await tx
        .delete(experimentMetricStats)
        .where(
          and(
            eq(experimentMetricStats.environment, environment),
            eq(experimentMetricStats.experimentKey, key),
          ),
        );
      const units = rowsOf<Record<string, string | null>>(
        await tx.execute(sql`select variant,
            (count(*) filter (where not conflicting))::text as units, sum(exposures)::text as exposures,
            (count(*) filter (where conflicting))::text as excluded,
            (min(first_exposure_at) filter (where not conflicting))::text as first
          from experiment_results where environment = ${environment} and experiment_key = ${key}
          group by variant`),
      );
      if (units.length > 0) {
        await tx.execute(sql`insert into experiment_variant_units
            (environment, experiment_key, variant, units, exposures, excluded_units, first_exposure_at)
          select ${environment}, ${key}, i.variant, i.units::bigint, i.exposures::bigint, i.excluded::bigint,
            i.first::timestamptz
          from jsonb_to_recordset(${json(units)}) as i(variant text, units text, exposures text, excluded text,
            first text)`);
      }
      const metrics = rowsOf(
        await tx.execute(sql`insert into experiment_metric_stats
            (environment, experiment_key, variant, event, converted, sum_count, sum_count_squares, sum_value, sum_value_squares)
          select m.environment, m.experiment_key, m.variant, m.event,
            count(*) filter (where m.count > 0), sum(m.count), sum(m.count::float8 * m.count), sum(m.sum), sum(m.sum * m.sum)
          from experiment_unit_metrics m
          where m.environment = ${environment} and m.experiment_key = ${key}
            and not exists (select from experiment_results c where c.conflicting and c.environment = m.environment
              and c.experiment_key = m.experiment_key and c.unit_key = m.unit_key)
          group by m.environment, m.experiment_key, m.variant, m.event
          returning event`),
      ).length;
      return { variants: units.length, metrics };
    });
    this.invalidate(environment, [key]);
    return { ...out, ms: performance.now() - started };
  }

  async requireExperiment(environment: string, key: string): Promise<ExperimentConfig> {
    const byKey = await this.experiments(environment);
    const found = byKey.get(key);
    if (found) return found;
    // Distinguish "no such flag" from "a flag that is not an experiment".
    const flag = await getFlag(this.db, environment, key);
    const e = experimentOf(flag.flag);
    if (!e) throw errors.notAnExperiment(key);
    return e;
  }

  /**
   * Scheduled refresh: recomputes the cached analyses that are older than half the TTL, so readers
   * of a busy experiment get a fresh answer without paying for it. Returns how many were refreshed.
   */
  async refreshCached(): Promise<number> {
    const now = this.now();
    let refreshed = 0;
    for (const [id, entry] of [...this.cache]) {
      if (now - entry.at < this.cacheTtlMs / 2) continue;
      const [environment, key] = id.split('\u0000') as [string, string];
      try {
        await this.analysis(environment, key, { refresh: true });
        refreshed++;
      } catch {
        this.cache.delete(id); // The experiment is gone or no longer one.
      }
    }
    return refreshed;
  }

  /** The analysis of an experiment, from the maintained statistics (cached for `cacheTtlMs`). */
  async analysis(
    environment: string,
    key: string,
    options: { refresh?: boolean } = {},
  ): Promise<AnalysisReport> {
    const id = `${environment}\u0000${key}`;
    const hit = this.cache.get(id);
    const now = this.now();
    if (!options.refresh && hit && now - hit.at < this.cacheTtlMs) return { ...hit.analysis, cached: true };
    const experiment = await this.requireExperiment(environment, key);
    const report = await this.compute(environment, experiment, now);
    this.cache.set(id, { at: now, analysis: report });
    return report;
  }

  private async compute(environment: string, e: ExperimentConfig, now: number): Promise<AnalysisReport> {
    const units = await this.db
      .select()
      .from(experimentVariantUnits)
      .where(
        and(
          eq(experimentVariantUnits.environment, environment),
          eq(experimentVariantUnits.experimentKey, e.key),
        ),
      );
    const metricRows = await this.db
      .select()
      .from(experimentMetricStats)
      .where(
        and(
          eq(experimentMetricStats.environment, environment),
          eq(experimentMetricStats.experimentKey, e.key),
        ),
      );
    const unitsOf = new Map(units.map((u) => [u.variant, u]));
    const variants: AnalysisVariant[] = e.variants.map((v) => {
      const metrics: Record<string, MetricSums> = {};
      for (const r of metricRows) {
        if (r.variant !== v.key) continue;
        metrics[r.event] = {
          converted: Number(r.converted),
          sumCount: r.sumCount,
          sumCountSquares: r.sumCountSquares,
          sumValue: r.sumValue,
          sumValueSquares: r.sumValueSquares,
        };
      }
      return { key: v.key, weight: v.weight, units: Number(unitsOf.get(v.key)?.units ?? 0), metrics };
    });
    const firsts = units
      .map((u) => u.firstExposureAt?.getTime())
      .filter((t): t is number => typeof t === 'number' && Number.isFinite(t));
    const startedAt = e.definition.startedAt
      ? Date.parse(e.definition.startedAt)
      : firsts.length > 0
        ? Math.min(...firsts)
        : null;
    const elapsedSec = startedAt === null ? 0 : Math.max(0, (now - startedAt) / 1000);
    if (startedAt !== null) {
      const guardrails = await this.guardrails(environment, e.key, startedAt);
      for (const v of variants) v.guardrail = guardrails.get(v.key) ?? null;
    }
    const d = e.definition;
    const analysis = analyzeExperiment({
      controlVariant: e.controlVariant,
      variants,
      metrics: e.metrics,
      elapsedSec,
      ...(d.alpha !== undefined ? { alpha: d.alpha } : {}),
      ...(d.power !== undefined ? { power: d.power } : {}),
      ...(d.minimumDetectableEffect !== undefined
        ? { minimumDetectableEffect: d.minimumDetectableEffect }
        : {}),
      ...(d.minUnitsPerVariant !== undefined ? { minUnitsPerVariant: d.minUnitsPerVariant } : {}),
      ...(d.minDurationSec !== undefined ? { minDurationSec: d.minDurationSec } : {}),
    });
    return {
      experiment: e.key,
      environment,
      status: e.running ? 'running' : 'concluded',
      concludedVariant: d.concludedVariant ?? null,
      hypothesis: d.hypothesis ?? null,
      startedAt: startedAt === null ? null : new Date(startedAt).toISOString(),
      computedAt: new Date(now).toISOString(),
      cached: false,
      exposures: Object.fromEntries(units.map((u) => [u.variant, Number(u.exposures)])),
      excludedUnits: units.reduce((s, u) => s + Number(u.excludedUnits), 0),
      excludedByVariant: Object.fromEntries(units.map((u) => [u.variant, Number(u.excludedUnits)])),
      analysis,
    };
  }

  /**
   * Operational guardrails per variant since the experiment started, from the SDKs' request metrics
   * (`deployment_metrics`, raw windows tagged with the variant): requests and errors summed in SQL,
   * P99 from the merged latency sketches of the most recent windows.
   */
  private async guardrails(
    environment: string,
    key: string,
    sinceMs: number,
  ): Promise<Map<string, GuardrailInput>> {
    const out = new Map<string, GuardrailInput>();
    const totals = rowsOf<{ variant: string; requests: number | string; errors: number | string }>(
      await this.db.execute(sql`select variant, sum(requests) as requests, sum(errors) as errors
        from deployment_metrics
        where environment = ${environment} and flag_key = ${key} and granularity = 'raw' and variant <> ''
          and window_start_ms >= ${Math.floor(sinceMs)}
        group by variant`),
    );
    for (const t of totals)
      out.set(t.variant, { requests: Number(t.requests), errors: Number(t.errors), p99Ms: null });
    if (out.size === 0) return out;
    const sketches = rowsOf<{ variant: string; sketch: SerializedSketch | string | null }>(
      await this.db.execute(sql`select variant, sketch from deployment_metrics
        where environment = ${environment} and flag_key = ${key} and granularity = 'raw' and variant <> ''
          and window_start_ms >= ${Math.floor(sinceMs)} and sketch is not null
        order by window_start_ms desc limit ${GUARDRAIL_SKETCH_WINDOWS}`),
    );
    const merged = new Map<string, LatencySketch>();
    for (const r of sketches) {
      if (!r.sketch) continue;
      try {
        const data = typeof r.sketch === 'string' ? (JSON.parse(r.sketch) as SerializedSketch) : r.sketch;
        const sk = LatencySketch.fromSerialized(data);
        const m = merged.get(r.variant);
        if (m) m.merge(sk);
        else merged.set(r.variant, sk);
      } catch {
        // A malformed stored sketch only loses its window from the P99.
      }
    }
    for (const [variant, sk] of merged) {
      const g = out.get(variant);
      const p99 = sk.quantile(0.99);
      if (g) g.p99Ms = Number.isFinite(p99) ? p99 : null;
    }
    return out;
  }

  /** Per variant: units, exposures and per metric the rate or mean, standard deviation and sum. */
  async results(environment: string, key: string, options: { refresh?: boolean } = {}) {
    const report = await this.analysis(environment, key, options);
    const a = report.analysis;
    return {
      experiment: report.experiment,
      environment,
      status: report.status,
      concludedVariant: report.concludedVariant,
      startedAt: report.startedAt,
      computedAt: report.computedAt,
      elapsedSec: a.elapsedSec,
      controlVariant: a.controlVariant,
      excludedUnits: report.excludedUnits,
      variants: a.variants.map((v) => ({
        key: v.key,
        isControl: v.isControl,
        weight: v.weight,
        units: v.units,
        exposures: report.exposures[v.key] ?? 0,
        excludedUnits: report.excludedByVariant[v.key] ?? 0,
        metrics: v.metrics.map((m) => ({
          event: m.event,
          kind: m.kind,
          role: m.role,
          ...(m.kind === 'conversion' ? { conversionRate: m.value } : { mean: m.value }),
          sd: m.sd,
          sum: m.sum,
        })),
        guardrails: v.guardrail,
      })),
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Conclude

  /** Ships `variant` to 100% and marks the experiment concluded, audited, in one transaction. */
  async conclude(input: {
    environment: string;
    key: string;
    variant: string;
    reason: string;
    actor: string;
  }): Promise<{ flag: Flag; version: number; revision: number; analysis: AnalysisReport | null }> {
    let analysis: AnalysisReport | null = null;
    try {
      analysis = await this.analysis(input.environment, input.key, { refresh: true });
    } catch {
      analysis = null; // The conclusion does not depend on it; errors surface below.
    }
    const out = await this.db.transaction(async (tx) => {
      const current = await getFlagForUpdate(tx, input.environment, input.key);
      const e = experimentOf(current.flag);
      if (!e) throw errors.notAnExperiment(input.key);
      if (!e.running) throw errors.experimentConcluded(input.key, e.definition.concludedVariant ?? null);
      if (!e.variants.some((v) => v.key === input.variant)) {
        throw errors.validation(
          'variant',
          `variant "${input.variant}" is not a variant of experiment "${input.key}" (${e.variants.map((v) => v.key).join(', ')})`,
        );
      }
      const next: Flag = {
        ...current.flag,
        variants: (current.flag.variants ?? []).map((v) =>
          v.weight === undefined ? v : { ...v, weight: v.key === input.variant ? 100_000 : 0 },
        ),
        experiment: { ...e.definition, status: 'concluded', concludedVariant: input.variant },
      };
      delete next.coverage;
      delete next.version;
      const checked = validateFlag(next, '', { strict: true });
      if (!checked.ok) {
        const first = checked.errors[0]!;
        throw errors.validation(first.path || 'variant', first.message);
      }
      const flag = checked.flag;
      const version = current.version + 1;
      const now = new Date(this.now());
      await tx
        .update(flagConfigs)
        .set({ config: splitFlag(flag).config, version, updatedAt: now, updatedBy: input.actor })
        .where(and(eq(flagConfigs.environment, input.environment), eq(flagConfigs.flagKey, input.key)));
      const revision = await createRevision(
        tx,
        input.environment,
        `experiment ${input.key} concluded (${input.variant}) by ${input.actor}`,
      );
      await tx.insert(featureFlagsAudit).values({
        flagKey: input.key,
        environment: input.environment,
        action: 'experiment.conclude',
        actor: input.actor,
        reason: input.reason,
        before: current.flag,
        after: { ...flag, version },
        version,
        revision,
      });
      const verdicts = analysis
        ? Object.fromEntries(
            analysis.analysis.variants.filter((v) => !v.isControl).map((v) => [v.key, v.verdict]),
          )
        : null;
      await tx.insert(outbox).values({
        topic: 'experiment.concluded',
        environment: input.environment,
        payload: {
          key: input.key,
          environment: input.environment,
          variant: input.variant,
          reason: input.reason,
          actor: input.actor,
          version,
          verdicts,
        },
      });
      return { flag: { ...flag, version }, version, revision };
    });
    this.invalidate(input.environment, [input.key]);
    this.definitions.delete(input.environment);
    return { ...out, analysis };
  }
}

export interface AnalysisReport {
  experiment: string;
  environment: string;
  status: 'running' | 'concluded';
  concludedVariant: string | null;
  hypothesis: string | null;
  startedAt: string | null;
  computedAt: string;
  cached: boolean;
  exposures: Record<string, number>;
  excludedUnits: number;
  excludedByVariant: Record<string, number>;
  analysis: ExperimentAnalysis;
}

const services = new WeakMap<object, ExperimentService>();

/** The experiment service of an app (one per database handle, shared by every route module). */
export function experimentServiceFor(
  db: Db,
  revisionOf: (environment: string) => number | undefined,
  options?: ExperimentServiceOptions,
): ExperimentService {
  let s = services.get(db);
  if (!s) {
    s = new ExperimentService(db, revisionOf, options);
    services.set(db, s);
  }
  return s;
}
