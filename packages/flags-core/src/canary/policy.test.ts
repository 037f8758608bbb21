import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canaryPolicyRanges, defaultCanaryPolicy, policyProblems, resolvePolicy } from './policy';

describe('resolvePolicy', () => {
  it('defaults are the ones of issue 3 §5', () => {
    expect(resolvePolicy()).toEqual({
      errorRateThreshold: 5,
      p99ThresholdMs: 2000,
      consecutiveWindows: 2,
      minRequestsPerWindow: 50,
      minSampleSize: 200,
      alpha: 0.01,
      gauges: { heapUsedPercent: 90, cpuPercent: 90, eventLoopDelayP99Ms: 500, dbPoolSaturationPercent: 100 },
      windowMs: 10_000,
      comparisonWindowMs: 0,
      latencyToleranceMs: 5,
      sampleRatioSigmas: 4,
    });
    expect(Object.isFrozen(defaultCanaryPolicy)).toBe(true);
  });

  it('later layers win, gauges merge field by field', () => {
    const env = { errorRateThreshold: 3, p99ThresholdMs: 1500, gauges: { cpuPercent: 80 } };
    const envFlag = { errorRateThreshold: 2 };
    const flag = { p99ThresholdMs: 900, gauges: { heapUsedPercent: 70 } };
    const p = resolvePolicy(env, envFlag, null, undefined, flag);
    expect(p.errorRateThreshold).toBe(2);
    expect(p.p99ThresholdMs).toBe(900);
    expect(p.gauges).toEqual({
      heapUsedPercent: 70,
      cpuPercent: 80,
      eventLoopDelayP99Ms: 500,
      dbPoolSaturationPercent: 100,
    });
  });

  it('ignores bad values (never throws); zero traffic minimums are not accepted', () => {
    const p = resolvePolicy({
      errorRateThreshold: Number.NaN,
      p99ThresholdMs: 0,
      consecutiveWindows: 1.5,
      minRequestsPerWindow: 0,
      minSampleSize: -1,
      alpha: 0,
      windowMs: Number.POSITIVE_INFINITY,
      // biome-ignore lint/suspicious/noExplicitAny: untrusted input on purpose
      comparisonWindowMs: '60000' as any,
      // biome-ignore lint/suspicious/noExplicitAny: untrusted input on purpose
      gauges: { cpuPercent: -5, heapUsedPercent: 'x' as any },
    });
    expect(p).toEqual(resolvePolicy());
  });

  it('property: the result is always inside the accepted ranges', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.constantFrom(...Object.keys(canaryPolicyRanges)), fc.anything()),
        (layer) => {
          const p = resolvePolicy(layer);
          return Object.entries(canaryPolicyRanges).every(([k, r]) => {
            const v = p[k as keyof typeof canaryPolicyRanges];
            return Number.isFinite(v) && v >= r.min && v <= r.max && (!r.integer || Number.isInteger(v));
          });
        },
      ),
    );
  });
});

describe('policyProblems', () => {
  it('lists unknown fields and bad values with paths', () => {
    expect(policyProblems(undefined)).toEqual([]);
    expect(policyProblems({ errorRateThreshold: 2, gauges: { cpuPercent: 50 } })).toEqual([]);
    expect(policyProblems('x')).toEqual([{ path: 'policy', message: 'must be an object' }]);
    const problems = policyProblems(
      {
        errorRateThreshold: 200,
        minSampleSize: 0.5,
        colour: 'red',
        gauges: { heapUsedPercent: -1, disk: 3 },
      },
      'flag.policy',
    );
    expect(problems).toEqual([
      { path: 'flag.policy.errorRateThreshold', message: 'must be a number ≥ 0 and ≤ 100' },
      { path: 'flag.policy.minSampleSize', message: 'must be an integer ≥ 1 and ≤ 1000000000000' },
      { path: 'flag.policy.colour', message: 'unknown policy field' },
      { path: 'flag.policy.gauges.heapUsedPercent', message: 'must be a finite number ≥ 0' },
      { path: 'flag.policy.gauges.disk', message: 'unknown gauge' },
    ]);
    expect(policyProblems({ gauges: [] })).toEqual([{ path: 'policy.gauges', message: 'must be an object' }]);
  });
});
