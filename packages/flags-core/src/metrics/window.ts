// The aggregate of one series (flag, cohort/variant, stage, endpoint) over one aligned window:
// counts, errors by endpoint and status (bounded, heavy hitters first), and a latency sketch.
// Fixed size whatever the request rate, and mergeable across instances and across windows.

import {
  LatencySketch,
  type LatencySketchOptions,
  type MetricsValidationError,
  validateSerializedSketch,
} from './sketch';
import type { ErrorGroup, SerializedWindow } from './types';
import {
  addUnit,
  createUnitSketch,
  estimateUnits,
  mergeUnitSketches,
  mergeUnitSketchInto,
  parseUnitSketch,
  serializeUnitSketch,
  type UnitSketch,
  validateSerializedUnitSketch,
} from './units';

/** Error groups kept per window while aggregating (space-saving heavy hitters). */
export const DEFAULT_ERROR_GROUP_CAPACITY = 64;
/** Error groups sent on the wire (`topErrors`). */
export const DEFAULT_TOP_ERRORS = 10;

/**
 * Start of the aligned window holding `epochMs`: ⌊epochMs / intervalMs⌋ · intervalMs, the same on
 * every instance, so windows from many processes merge by their start.
 */
export function alignWindow(epochMs: number, intervalMs: number): number {
  if (!(intervalMs > 0) || !Number.isFinite(intervalMs)) {
    throw new RangeError(`intervalMs must be a positive finite number, got ${intervalMs}`);
  }
  return Math.floor(epochMs / intervalMs) * intervalMs;
}

/** What identifies a window's series and time span. */
export interface WindowKey {
  flag: string;
  cohort?: string;
  variant?: string;
  stage?: number;
  endpoint: string;
  windowStart: number;
  durationMs: number;
}

/** Derived figures of a window; quantiles and rates are null when there is nothing to measure. */
export interface WindowSummary {
  windowStart: number;
  durationMs: number;
  requests: number;
  errors: number;
  /** errors / requests, a fraction in [0, 1]. */
  errorRate: number | null;
  /** Requests per second over the window's duration. */
  rps: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  topErrors: ErrorGroup[];
  /** Estimated distinct units (HyperLogLog); null when the window carries no unit sketch. */
  units: number | null;
}

export interface WindowAggregateOptions extends LatencySketchOptions {
  /** Distinct (endpoint, status) error groups tracked; default 64. */
  errorGroupCapacity?: number;
}

/** Outcome of one request, for `record`. */
export interface RequestOutcome {
  error?: boolean;
  status?: number;
  /** Route pattern; defaults to the window's endpoint. */
  endpoint?: string;
}

const groupKey = (endpoint: string, status: number): string => `${status} ${endpoint}`;

const byCountThenName = (a: ErrorGroup, b: ErrorGroup): number =>
  b.count - a.count || (a.endpoint < b.endpoint ? -1 : a.endpoint > b.endpoint ? 1 : a.status - b.status);

export class WindowAggregate {
  flag: string;
  cohort?: string;
  variant?: string;
  stage?: number;
  endpoint: string;
  windowStart: number;
  durationMs: number;
  requests = 0;
  errors = 0;
  readonly latency: LatencySketch;
  /** Distinct unit keys (`recordUnit`, or merged in); undefined when none were reported. */
  units: UnitSketch | undefined;
  private readonly errorCapacity: number;
  private readonly errorGroups = new Map<string, ErrorGroup>();

  constructor(key: WindowKey, options: WindowAggregateOptions = {}) {
    this.flag = key.flag;
    if (key.cohort !== undefined) this.cohort = key.cohort;
    if (key.variant !== undefined) this.variant = key.variant;
    if (key.stage !== undefined) this.stage = key.stage;
    this.endpoint = key.endpoint;
    this.windowStart = key.windowStart;
    this.durationMs = key.durationMs;
    this.latency = new LatencySketch(options);
    this.units = undefined;
    this.errorCapacity = Math.max(1, options.errorGroupCapacity ?? DEFAULT_ERROR_GROUP_CAPACITY);
  }

  /**
   * Count one request with its latency (ms); an error is grouped by endpoint and status. No default
   * `{}` for `outcome`: the SDK records every served request here, and most are no error.
   */
  record(latencyMs: number, outcome?: RequestOutcome): void {
    this.requests++;
    this.latency.add(latencyMs);
    if (outcome?.error) {
      this.errors++;
      this.addErrorGroup(outcome.endpoint ?? this.endpoint, outcome.status ?? 0, 1);
    }
  }

  /** Count one unit key in the window's distinct-unit sketch (created on first use). */
  recordUnit(unitKey: string): void {
    this.units ??= createUnitSketch();
    addUnit(this.units, unitKey);
  }

  /**
   * Fold another window of the same series into this one. Windows of different spans widen this
   * one to cover both (rps is then over the covered span).
   */
  merge(other: WindowAggregate | SerializedWindow): this {
    const sketch =
      other instanceof WindowAggregate ? other.latency : LatencySketch.fromSerialized(other.latency);
    const end = Math.max(this.windowStart + this.durationMs, other.windowStart + other.durationMs);
    this.windowStart = Math.min(this.windowStart, other.windowStart);
    this.durationMs = end - this.windowStart;
    this.requests += other.requests;
    this.errors += other.errors;
    this.latency.merge(sketch);
    this.mergeUnits(other);
    const groups = other instanceof WindowAggregate ? other.errorGroups.values() : other.topErrors;
    for (const g of groups) this.addErrorGroup(g.endpoint, g.status, g.count);
    return this;
  }

  /** Union of the other window's units with this one's (a serialised sketch is parsed first). */
  private mergeUnits(other: WindowAggregate | SerializedWindow): void {
    let units: UnitSketch | undefined;
    if (other instanceof WindowAggregate) units = other.units;
    else if (other.units !== undefined) {
      const parsed = parseUnitSketch(other.units);
      if (!parsed.ok) throw new RangeError(`${parsed.errors[0]!.path}: ${parsed.errors[0]!.message}`);
      units = parsed.sketch;
    }
    if (!units) return;
    if (!this.units) this.units = { p: units.p, registers: units.registers.slice() };
    else if (this.units.p === units.p) mergeUnitSketchInto(this.units, units);
    else this.units = mergeUnitSketches(this.units, units);
  }

  /** Estimated distinct units; null when no unit sketch was recorded or merged. */
  get unitCount(): number | null {
    return this.units ? estimateUnits(this.units) : null;
  }

  /** errors / requests in [0, 1]; null without requests. */
  get errorRate(): number | null {
    return this.requests > 0 ? this.errors / this.requests : null;
  }

  get rps(): number {
    return this.durationMs > 0 ? (this.requests * 1000) / this.durationMs : 0;
  }

  /** Latency quantile in ms; null when no latency was recorded. */
  quantile(q: number): number | null {
    const v = this.latency.quantile(q);
    return Number.isNaN(v) ? null : v;
  }

  /** The `k` largest error groups, largest first (ties by endpoint, then status). */
  topErrors(k = DEFAULT_TOP_ERRORS): ErrorGroup[] {
    return [...this.errorGroups.values()]
      .sort(byCountThenName)
      .slice(0, k)
      .map((g) => ({ ...g }));
  }

  summary(topK = DEFAULT_TOP_ERRORS): WindowSummary {
    return {
      windowStart: this.windowStart,
      durationMs: this.durationMs,
      requests: this.requests,
      errors: this.errors,
      errorRate: this.errorRate,
      rps: this.rps,
      p50: this.quantile(0.5),
      p95: this.quantile(0.95),
      p99: this.quantile(0.99),
      topErrors: this.topErrors(topK),
      units: this.unitCount,
    };
  }

  toSerialized(topK = DEFAULT_TOP_ERRORS): SerializedWindow {
    const out: SerializedWindow = {
      windowStart: this.windowStart,
      durationMs: this.durationMs,
      flag: this.flag,
      endpoint: this.endpoint,
      requests: this.requests,
      errors: this.errors,
      topErrors: this.topErrors(topK),
      latency: this.latency.serialize(),
    };
    if (this.cohort !== undefined) out.cohort = this.cohort;
    if (this.variant !== undefined) out.variant = this.variant;
    if (this.stage !== undefined) out.stage = this.stage;
    if (this.units !== undefined) out.units = serializeUnitSketch(this.units);
    return out;
  }

  static fromSerialized(window: SerializedWindow, options: WindowAggregateOptions = {}): WindowAggregate {
    const agg = new WindowAggregate(window, options);
    return agg.merge(window);
  }

  /**
   * Space-saving (Metwally, Agrawal & El Abbadi 2005): when full, a new group replaces the smallest,
   * inheriting its count, so the heaviest groups survive with counts never under-estimated.
   */
  private addErrorGroup(endpoint: string, status: number, count: number): void {
    if (!(count > 0)) return;
    const key = groupKey(endpoint, status);
    const existing = this.errorGroups.get(key);
    if (existing) {
      existing.count += count;
      return;
    }
    if (this.errorGroups.size < this.errorCapacity) {
      this.errorGroups.set(key, { endpoint, status, count });
      return;
    }
    let minKey = '';
    let minGroup: ErrorGroup | undefined;
    for (const [k, g] of this.errorGroups) {
      if (!minGroup || g.count < minGroup.count) {
        minKey = k;
        minGroup = g;
      }
    }
    this.errorGroups.delete(minKey);
    this.errorGroups.set(key, { endpoint, status, count: count + (minGroup?.count ?? 0) });
  }
}

/**
 * Merge windows into one aggregate spanning all of them (the key fields of `key`, else of the first
 * window). Null for an empty list.
 */
export function mergeWindows(
  windows: readonly (SerializedWindow | WindowAggregate)[],
  key: Partial<WindowKey> = {},
  options: WindowAggregateOptions = {},
): WindowAggregate | null {
  const first = windows[0];
  if (!first) return null;
  const agg = new WindowAggregate({ ...keyOf(first), ...key }, options);
  for (const w of windows) agg.merge(w);
  return agg;
}

function keyOf(w: SerializedWindow | WindowAggregate): WindowKey {
  const k: WindowKey = {
    flag: w.flag,
    endpoint: w.endpoint,
    windowStart: w.windowStart,
    durationMs: w.durationMs,
  };
  if (w.cohort !== undefined) k.cohort = w.cohort;
  if (w.variant !== undefined) k.variant = w.variant;
  if (w.stage !== undefined) k.stage = w.stage;
  return k;
}

/** Longest accepted flag / endpoint / cohort strings at ingest. */
export const MAX_METRIC_LABEL_LENGTH = 256;

const isLabel = (x: unknown): x is string =>
  typeof x === 'string' && x.length > 0 && x.length <= MAX_METRIC_LABEL_LENGTH;
const isCount = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x) && x >= 0;

/** Every problem of an untrusted serialised window, with JSON paths under `path`; empty when valid. */
export function validateSerializedWindow(data: unknown, path = 'window'): MetricsValidationError[] {
  if (data === null || typeof data !== 'object' || Array.isArray(data))
    return [{ path, message: 'must be an object' }];
  const w = data as Record<string, unknown>;
  const errors: MetricsValidationError[] = [];
  if (!(isCount(w.windowStart) && Number.isSafeInteger(w.windowStart))) {
    errors.push({ path: `${path}.windowStart`, message: 'must be a non-negative integer epoch in ms' });
  }
  if (!(isCount(w.durationMs) && (w.durationMs as number) > 0 && (w.durationMs as number) <= 86_400_000)) {
    errors.push({ path: `${path}.durationMs`, message: 'must be an integer in (0, 86400000]' });
  }
  if (!errors.length && (w.windowStart as number) % (w.durationMs as number) !== 0) {
    errors.push({ path: `${path}.windowStart`, message: 'must be aligned: a multiple of durationMs' });
  }
  for (const field of ['flag', 'endpoint'] as const) {
    if (!isLabel(w[field])) {
      errors.push({
        path: `${path}.${field}`,
        message: `must be a string of 1–${MAX_METRIC_LABEL_LENGTH} chars`,
      });
    }
  }
  for (const field of ['cohort', 'variant'] as const) {
    if (w[field] !== undefined && !isLabel(w[field])) {
      errors.push({
        path: `${path}.${field}`,
        message: `must be a string of 1–${MAX_METRIC_LABEL_LENGTH} chars`,
      });
    }
  }
  if (w.stage !== undefined && !(isCount(w.stage) && (w.stage as number) < 1000)) {
    errors.push({ path: `${path}.stage`, message: 'must be an integer in [0, 1000)' });
  }
  if (!isCount(w.requests)) errors.push({ path: `${path}.requests`, message: 'must be an integer ≥ 0' });
  if (!isCount(w.errors)) errors.push({ path: `${path}.errors`, message: 'must be an integer ≥ 0' });
  else if (isCount(w.requests) && w.errors > w.requests) {
    errors.push({ path: `${path}.errors`, message: 'must not exceed requests' });
  }
  if (!Array.isArray(w.topErrors)) {
    errors.push({ path: `${path}.topErrors`, message: 'must be an array' });
  } else if (w.topErrors.length > DEFAULT_ERROR_GROUP_CAPACITY) {
    errors.push({
      path: `${path}.topErrors`,
      message: `must hold at most ${DEFAULT_ERROR_GROUP_CAPACITY} groups`,
    });
  } else {
    w.topErrors.forEach((g: unknown, i) => {
      const p = `${path}.topErrors[${i}]`;
      if (g === null || typeof g !== 'object') errors.push({ path: p, message: 'must be an object' });
      else {
        const e = g as Record<string, unknown>;
        if (!isLabel(e.endpoint))
          errors.push({ path: `${p}.endpoint`, message: 'must be a non-empty string' });
        if (!(isCount(e.status) && (e.status as number) < 1000)) {
          errors.push({ path: `${p}.status`, message: 'must be an integer in [0, 1000)' });
        }
        if (!isCount(e.count)) errors.push({ path: `${p}.count`, message: 'must be an integer ≥ 0' });
      }
    });
  }
  errors.push(...validateSerializedSketch(w.latency, `${path}.latency`));
  if (w.units !== undefined) errors.push(...validateSerializedUnitSketch(w.units, `${path}.units`));
  return errors;
}
