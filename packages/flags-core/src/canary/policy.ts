// Thresholds and test settings of the automatic canary decision. Every field has a default; the
// control plane layers environment defaults, the environment's `rollback.error-rate-threshold`
// flag and the flag's own `policy` on top with `resolvePolicy(envDefaults, envFlag, flagPolicy)`.

import type { CanaryPolicy } from '../snapshot/types';

/** The policy `decideCanary` works with: `CanaryPolicy` plus the comparison horizon. */
export interface ResolvedCanaryPolicy extends CanaryPolicy {
  /**
   * How far back (ms) the comparative path looks, counted from `now`; 0 = the whole stage.
   * The control plane sets it from `METRICS_WINDOW_SIZE`.
   */
  comparisonWindowMs: number;
  /**
   * Practical margin of the latency comparison, ms: a treatment request counts as slower only
   * above the control P95 plus this much, so sub-millisecond noise is not a regression (default 5).
   */
  latencyToleranceMs: number;
}

export type CanaryPolicyInput = Partial<Omit<ResolvedCanaryPolicy, 'gauges'>> & {
  gauges?: Partial<CanaryPolicy['gauges']>;
};

export const defaultCanaryPolicy: Readonly<ResolvedCanaryPolicy> = Object.freeze({
  errorRateThreshold: 5,
  p99ThresholdMs: 2000,
  consecutiveWindows: 2,
  minRequestsPerWindow: 50,
  minSampleSize: 200,
  alpha: 0.01,
  gauges: Object.freeze({
    heapUsedPercent: 90,
    cpuPercent: 90,
    eventLoopDelayP99Ms: 500,
    dbPoolSaturationPercent: 100,
  }),
  windowMs: 10_000,
  comparisonWindowMs: 0,
  latencyToleranceMs: 5,
  sampleRatioSigmas: 4,
});

type Range = { min: number; max: number; integer?: boolean; minExclusive?: boolean };

/** Accepted range of each numeric field; a value outside it is ignored (the lower layer applies). */
export const canaryPolicyRanges: Readonly<Record<Exclude<keyof ResolvedCanaryPolicy, 'gauges'>, Range>> = {
  errorRateThreshold: { min: 0, max: 100 },
  p99ThresholdMs: { min: 0, max: 3_600_000, minExclusive: true },
  consecutiveWindows: { min: 1, max: 1000, integer: true },
  // At least one request: a window or stage without traffic is never evidence of health.
  minRequestsPerWindow: { min: 1, max: 1e9, integer: true },
  minSampleSize: { min: 1, max: 1e12, integer: true },
  alpha: { min: 0, max: 0.5, minExclusive: true },
  windowMs: { min: 1, max: 86_400_000, integer: true },
  comparisonWindowMs: { min: 0, max: 90 * 86_400_000, integer: true },
  latencyToleranceMs: { min: 0, max: 3_600_000 },
  sampleRatioSigmas: { min: 0, max: 100 },
};

const gaugeRange: Range = { min: 0, max: 1e12 };

function accepts(range: Range, value: unknown): value is number {
  if (typeof value !== 'number' || !Number.isFinite(value)) return false;
  if (range.integer && !Number.isInteger(value)) return false;
  if (range.minExclusive ? value <= range.min : value < range.min) return false;
  return value <= range.max;
}

/**
 * The policy from `defaultCanaryPolicy` overridden by each layer in turn (later layers win, gauges
 * merged field by field). Never throws: fields that are missing, not finite or out of
 * `canaryPolicyRanges` leave the value of the layer below; `policyProblems` lists them.
 */
export function resolvePolicy(...layers: (CanaryPolicyInput | null | undefined)[]): ResolvedCanaryPolicy {
  const out: ResolvedCanaryPolicy = { ...defaultCanaryPolicy, gauges: { ...defaultCanaryPolicy.gauges } };
  for (const layer of layers) {
    if (!layer || typeof layer !== 'object') continue;
    for (const field of Object.keys(canaryPolicyRanges) as (keyof typeof canaryPolicyRanges)[]) {
      const value = layer[field];
      if (accepts(canaryPolicyRanges[field], value)) out[field] = value;
    }
    const gauges = layer.gauges;
    if (gauges && typeof gauges === 'object') {
      for (const g of Object.keys(out.gauges) as (keyof CanaryPolicy['gauges'])[]) {
        if (accepts(gaugeRange, gauges[g])) out.gauges[g] = gauges[g];
      }
    }
  }
  return out;
}

/** Problems of a policy layer (unknown fields, bad values), as `{ path, message }`; empty when valid. */
export function policyProblems(layer: unknown, path = 'policy'): { path: string; message: string }[] {
  if (layer === undefined || layer === null) return [];
  if (typeof layer !== 'object' || Array.isArray(layer)) return [{ path, message: 'must be an object' }];
  const problems: { path: string; message: string }[] = [];
  for (const [field, value] of Object.entries(layer as Record<string, unknown>)) {
    if (field === 'gauges') {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        problems.push({ path: `${path}.gauges`, message: 'must be an object' });
        continue;
      }
      for (const [g, gv] of Object.entries(value as Record<string, unknown>)) {
        if (!(g in defaultCanaryPolicy.gauges))
          problems.push({ path: `${path}.gauges.${g}`, message: 'unknown gauge' });
        else if (!accepts(gaugeRange, gv)) {
          problems.push({ path: `${path}.gauges.${g}`, message: 'must be a finite number ≥ 0' });
        }
      }
      continue;
    }
    const range = canaryPolicyRanges[field as keyof typeof canaryPolicyRanges];
    if (!range) problems.push({ path: `${path}.${field}`, message: 'unknown policy field' });
    else if (!accepts(range, value)) {
      const lower = range.minExclusive ? `> ${range.min}` : `≥ ${range.min}`;
      problems.push({
        path: `${path}.${field}`,
        message: `must be ${range.integer ? 'an integer' : 'a number'} ${lower} and ≤ ${range.max}`,
      });
    }
  }
  return problems;
}
