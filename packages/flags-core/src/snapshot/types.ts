// The public data contract of Rupaya Flags: what a snapshot holds, what a flag is, what an
// evaluation returns. The control plane stores and serves these shapes; every SDK consumes them.
// Field names here are the names of the admin API (PUT bodies use the same names).

export const SCHEMA_VERSION = 1 as const;

/** Buckets per unit: 100,000, so percentages have 0.001 resolution. */
export const BUCKETS = 100_000;

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export type ValueType = 'boolean' | 'string' | 'number' | 'json';

export type FlagValue = boolean | string | number | JsonValue;

export interface Variant {
  /** Variant name, e.g. `on`, `off`, `control`, `variant_a`. */
  key: string;
  value: FlagValue;
  /** Experiment split weight: integers over all variants summing to 100,000. Only on experiment flags. */
  weight?: number;
  description?: string;
}

export type Operator =
  | 'in'
  | 'not_in'
  | 'eq'
  | 'neq'
  | 'lt'
  | 'lte'
  | 'gt'
  | 'gte'
  | 'starts_with'
  | 'ends_with'
  | 'contains'
  | 'matches'
  | 'semver_eq'
  | 'semver_lt'
  | 'semver_gt'
  | 'before'
  | 'after';

export type ClauseValue = string | number | boolean;

/** One condition on a context attribute. A missing attribute makes the clause false, whatever `negate` says. */
export interface Clause {
  attribute: string;
  op: Operator;
  values: ClauseValue[];
  negate?: boolean;
}

/**
 * A targeting rule: clauses ANDed together; the first rule that matches wins.
 * It serves `variant`, either to every matching unit or, with `rolloutPercentage`, to the matching
 * units whose rollout bucket is below the percentage (the others fall through to the next rule).
 */
export interface Rule {
  id?: string;
  description?: string;
  clauses: Clause[];
  variant: string;
  rolloutPercentage?: number;
}

export interface CanaryStage {
  /** Share of units in the treatment cohort at this stage, 0–100. */
  percent: number;
  /** Minimum time at this stage before an automatic advance. */
  minDurationSec: number;
}

export type CanaryStatus = 'progressing' | 'paused' | 'completed' | 'rolled_back';

/** Where a canary is now. Written by the control plane's scheduler, read by evaluation. */
export interface CanaryState {
  /** Index into `stages`. */
  stage: number;
  status: CanaryStatus;
  /** ISO-8601 time the current stage started (null when never started). */
  stageStartedAt: string | null;
  /** Id of the current run (a restart after a rollback starts a new run). */
  runId?: string;
}

/** Thresholds and test settings of the automatic canary decision; every field has a default in core. */
export interface CanaryPolicy {
  /** Absolute error-rate threshold, percent (default 5). */
  errorRateThreshold: number;
  /** Absolute P99 threshold, ms (default 2000). */
  p99ThresholdMs: number;
  /** Breached windows in a row needed by the fast path (default 2). */
  consecutiveWindows: number;
  /** Treatment requests a window needs to count for the fast path (default 50). */
  minRequestsPerWindow: number;
  /** Treatment requests seen in the stage before an advance (default 200). */
  minSampleSize: number;
  /** Significance level of the comparative path, one-sided (default 0.01). */
  alpha: number;
  /**
   * Sample-ratio check of the comparative path: the treatment's share of the distinct units of
   * treatment + control (HyperLogLog estimates) may be this many standard deviations (plus the
   * sketches' error) from its expected share before an advance is held — a mismatch means the
   * assignment or the reporting is broken, so the comparison cannot be trusted. 0 turns the check
   * off (default 4).
   */
  sampleRatioSigmas: number;
  /** Resource gauge limits; a gauge above its limit in `consecutiveWindows` windows is a breach. */
  gauges: {
    /** Heap used / heap limit, percent (default 90). */
    heapUsedPercent: number;
    /** Process CPU, percent of one core (default 90). */
    cpuPercent: number;
    /** Event-loop delay P99, ms (default 500). */
    eventLoopDelayP99Ms: number;
    /** DB pool saturation, percent in use (default 100, and waiters > 0). */
    dbPoolSaturationPercent: number;
  };
  /** Window length, ms (default 10,000). */
  windowMs: number;
}

export type MetricKind = 'conversion' | 'mean' | 'count';

export interface ExperimentMetric {
  /** Event name reported by `track(event, ctx, value?)`. */
  event: string;
  kind: MetricKind;
  direction: 'increase' | 'decrease';
  name?: string;
}

/** Analysis settings of an experiment; evaluation uses only the flag's variants, weights and coverage. */
export interface ExperimentDefinition {
  hypothesis?: string;
  primaryMetric: ExperimentMetric;
  secondaryMetrics?: ExperimentMetric[];
  /** Minimum detectable effect, relative (0.05 = 5% lift). */
  minimumDetectableEffect?: number;
  alpha?: number;
  power?: number;
  minUnitsPerVariant?: number;
  minDurationSec?: number;
  /** Variant that is the baseline (default `control`). */
  controlVariant?: string;
  status?: 'running' | 'concluded';
  startedAt?: string | null;
  concludedVariant?: string | null;
}

/**
 * A flag as it appears in a snapshot (one environment's configuration merged into the definition).
 *
 * Kind, from the fields present (at most one of the three):
 * - `stages` → canary (treatment `[0, 1000p)`, control `[50000, 50000 + 1000p)` of the rollout bucket);
 * - variants with `weight` → experiment (variant bucket, `coverage` on the rollout bucket);
 * - `rolloutPercentage` → percentage rollout;
 * - otherwise the flag serves `defaultVariant` to everyone (reason DEFAULT).
 */
export interface Flag {
  key: string;
  type: ValueType;
  description?: string;
  /** Kill switch: false serves `offVariant` (reason OFF). */
  enabled: boolean;
  /** Named variants. Boolean flags default to `[{ key: 'on', value: true }, { key: 'off', value: false }]`. */
  variants?: Variant[];
  /** Variant served to units that are "in" (allow list, rollout/canary treatment, default). Boolean default `on`. */
  defaultVariant?: string;
  /** Variant served when off, denied, or outside a rollout/canary. Boolean default `off`; else none (caller's fallback). */
  offVariant?: string;
  /** Shorthand for a config flag with one value: becomes the single variant `default`. */
  value?: FlagValue;
  /** Hash salt, default the key. */
  salt?: string;
  /** Context attribute that is the unit key, default `userId`. */
  bucketBy?: string;
  allowList?: string[];
  denyList?: string[];
  rules?: Rule[];
  /** Percentage rollout, 0–100 with 0.001 resolution. */
  rolloutPercentage?: number;
  /** Experiments: percent (0–100) of units in the experiment at all, by the rollout bucket. Default 100. */
  coverage?: number;
  stages?: CanaryStage[];
  canary?: CanaryState;
  policy?: Partial<CanaryPolicy>;
  /** A rollout (< 100%) guarded by the rollback monitor: a breach returns it to its last healthy percentage. */
  guard?: boolean;
  /** Automatic rollback for this flag (default true). */
  autoRollback?: boolean;
  experiment?: ExperimentDefinition;
  tags?: string[];
  /** Configuration version (optimistic concurrency); informative in snapshots. */
  version?: number;
}

export interface Snapshot {
  schemaVersion: typeof SCHEMA_VERSION;
  environment: string;
  /** Monotonically increasing per environment; SDKs never apply an older or equal revision. */
  revision: number;
  /** `sha256:<hex>` of `canonicalJson({ schemaVersion, environment, revision, flags })`. */
  checksum: string;
  generatedAt: string;
  /** Max staleness SDKs should allow before results say STALE. */
  cacheTtlSec?: number;
  /** Metrics window length SDKs aggregate into. */
  metricsWindowMs?: number;
  /** How often SDKs flush metrics. */
  metricsFlushMs?: number;
  flags: Flag[];
}

export type Reason =
  | 'NOT_FOUND'
  | 'OFF'
  | 'TARGET_DENY'
  | 'TARGET_ALLOW'
  | 'RULE_MATCH'
  | 'ROLLOUT'
  | 'CANARY'
  | 'EXPERIMENT'
  | 'DEFAULT'
  | 'ERROR'
  | 'NOT_READY'
  | 'STALE';

export type Cohort = 'treatment' | 'control' | 'none';

/** Attributes of the unit being evaluated; `userId` is the default unit key. */
export interface EvaluationContext {
  userId?: string;
  [attribute: string]: unknown;
}

export interface EvaluationResult {
  key: string;
  /** True when the unit gets the feature (boolean flags: the value is true). */
  enabled: boolean;
  /** Served variant, or null when the caller's fallback applies. */
  variant: string | null;
  /** Served value, or undefined when the caller's fallback applies. */
  value: FlagValue | undefined;
  reason: Reason;
  revision: number;
  /** Rollouts and canaries: the unit's cohort for metrics. */
  cohort?: Cohort;
  /** Experiments: whether the unit is in the experiment (inside coverage). */
  inExperiment?: boolean;
  /** Index of the matching rule for RULE_MATCH. */
  ruleIndex?: number;
  /**
   * `TARGETING_KEY_MISSING`: the context has no unit key (`bucketBy` attribute) and the flag needed
   * one for a partial rollout, canary or experiment; the flag's fallback was served.
   */
  errorCode?: 'FLAG_NOT_FOUND' | 'TYPE_MISMATCH' | 'PARSE_ERROR' | 'GENERAL' | 'TARGETING_KEY_MISSING';
  errorMessage?: string;
}

export interface SnapshotError {
  /** JSON path, e.g. `flags[3].rules[0].clauses[1].op`. */
  path: string;
  message: string;
}

export type ParseResult = { ok: true; snapshot: Snapshot } | { ok: false; errors: SnapshotError[] };
