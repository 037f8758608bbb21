// Invariants of bucketing, rollouts, canaries and experiments (issue 3 §3), as fast-check properties
// and as distribution checks over 100,000 synthetic units.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bucketWithSeed, saltSeed, variantSeed } from '../hash/bucket';
import type { Flag, Snapshot } from '../snapshot/types';
import { createEvaluator } from './evaluator';
import { cohortOf, controlRange, treatmentRange } from './rollout';
import { cumulativeBounds, variantIndexOf } from './variants';

const snapshot = (flags: Flag[]): Snapshot => ({
  schemaVersion: 1,
  environment: 'test',
  revision: 1,
  checksum: 'sha256:' + '0'.repeat(64),
  generatedAt: '2026-11-25T00:00:00Z',
  flags,
});
const rollout = (percent: number, key = 'feature.p'): Flag => ({
  key,
  type: 'boolean',
  enabled: true,
  rolloutPercentage: percent,
});
const percentArb = fc.integer({ min: 0, max: 100_000 }).map((t) => t / 1000);
const unitArb = fc.string({ minLength: 1, maxLength: 40, unit: 'grapheme' });

// 100,000 distinct unit ids in three common shapes (sequential, email-like, uuid-like).
const N = 100_000;
const hex = (n: number) => (n >>> 0).toString(16).padStart(8, '0');
const units = Array.from({ length: N }, (_, i) =>
  i % 3 === 0
    ? `user-${i}`
    : i % 3 === 1
      ? `person${i}@example.com`
      : `${hex(i * 2654435761)}-${hex(i ^ 0x5bd1e995)}-4a7c`,
);

/** |observed − expected| within 4 binomial standard deviations. */
function expectWithin4Sigma(count: number, n: number, p: number, label: string) {
  const sigma = Math.sqrt(n * p * (1 - p));
  expect(Math.abs(count - n * p), `${label}: ${count} vs ${n * p} ± ${4 * sigma}`).toBeLessThanOrEqual(
    4 * sigma,
  );
}

describe('stickiness', () => {
  it('the same unit gets the same result every time, from any compiled copy of the snapshot', () => {
    fc.assert(
      fc.property(
        unitArb,
        percentArb,
        fc.dictionary(fc.string(), fc.string(), { maxKeys: 3 }),
        (userId, p, extra) => {
          const flags = [rollout(p)];
          const a = createEvaluator(snapshot(flags));
          const b = createEvaluator(JSON.parse(JSON.stringify(snapshot(flags))) as Snapshot);
          const r = a.evaluate('feature.p', { userId });
          expect(a.evaluate('feature.p', { userId })).toEqual(r);
          expect(b.evaluate('feature.p', { ...extra, userId })).toEqual(r);
        },
      ),
    );
  });
});

describe('monotonic rollout', () => {
  it('raising the percentage never removes a unit; lowering never adds one', () => {
    fc.assert(
      fc.property(unitArb, percentArb, percentArb, (userId, x, y) => {
        const [lo, hi] = x <= y ? [x, y] : [y, x];
        const inLo = createEvaluator(snapshot([rollout(lo)])).isEnabled('feature.p', { userId });
        const inHi = createEvaluator(snapshot([rollout(hi)])).isEnabled('feature.p', { userId });
        if (inLo) expect(inHi).toBe(true);
        if (!inHi) expect(inLo).toBe(false);
      }),
      { numRuns: 300 },
    );
  });
});

describe('canary stages are nested', () => {
  const stagesArb = fc
    .uniqueArray(fc.integer({ min: 1, max: 100_000 }), { minLength: 1, maxLength: 6 })
    .map((xs) => xs.sort((a, b) => a - b).map((t) => ({ percent: t / 1000, minDurationSec: 0 })));
  it('a unit in the treatment at stage i is in it at every later stage; rollback empties it', () => {
    fc.assert(
      fc.property(stagesArb, fc.array(unitArb, { minLength: 1, maxLength: 20 }), (stages, ids) => {
        const at = (stage: number, status: 'progressing' | 'rolled_back' | 'completed' = 'progressing') =>
          createEvaluator(
            snapshot([
              {
                key: 'canary.x',
                type: 'boolean',
                enabled: true,
                stages,
                canary: { stage, status, stageStartedAt: null },
              },
            ]),
          );
        const evaluators = stages.map((_, i) => at(i));
        for (const userId of ids) {
          const inside = evaluators.map((e) => e.isEnabled('canary.x', { userId }));
          const first = inside.indexOf(true);
          if (first >= 0) expect(inside.slice(first).every(Boolean)).toBe(true);
          expect(at(stages.length - 1, 'rolled_back').isEnabled('canary.x', { userId })).toBe(false);
          expect(at(0, 'completed').isEnabled('canary.x', { userId })).toBe(true);
        }
      }),
      { numRuns: 150 },
    );
  });
});

describe('treatment and control', () => {
  it('are disjoint, equal in size up to 50%, and partition the rest above', () => {
    fc.assert(
      fc.property(percentArb, fc.integer({ min: 0, max: 99_999 }), (p, bucket) => {
        const [t0, t1] = treatmentRange(p);
        const [c0, c1] = controlRange(p);
        expect(t1 <= c0 || c1 <= t0 || t1 === t0 || c1 === c0).toBe(true);
        if (p <= 50) expect(c1 - c0).toBe(t1 - t0);
        else expect(c1).toBe(100_000);
        const cohort = cohortOf(bucket, p);
        expect(cohort === 'treatment').toBe(bucket >= t0 && bucket < t1);
        expect(cohort === 'control').toBe(bucket >= c0 && bucket < c1);
      }),
    );
  });

  it('no evaluated unit is ever in both, and treatment is exactly the enabled units', () => {
    fc.assert(
      fc.property(unitArb, percentArb, (userId, p) => {
        const r = createEvaluator(snapshot([rollout(p)])).evaluate('feature.p', { userId });
        expect(r.cohort === 'treatment').toBe(r.enabled);
      }),
      { numRuns: 300 },
    );
  });
});

describe('distributions over 100,000 units', () => {
  it.each([0.1, 1, 25, 50, 99.9])('a %s percent rollout includes within 4σ of the target', (p) => {
    const e = createEvaluator(snapshot([rollout(p)]));
    let inside = 0;
    let control = 0;
    for (const userId of units) {
      const r = e.evaluate('feature.p', { userId });
      if (r.enabled) inside++;
      if (r.cohort === 'control') control++;
    }
    expectWithin4Sigma(inside, N, p / 100, 'treatment');
    expectWithin4Sigma(control, N, p <= 50 ? p / 100 : 1 - p / 100, 'control');
  });

  it.each([[[50_000, 50_000]], [[50_000, 30_000, 20_000]], [[33_334, 33_333, 33_333]], [[1_000, 99_000]]])(
    'variant shares %j are within 4σ',
    (weights) => {
      const variants = weights.map((weight, i) => ({ key: `v${i}`, value: `v${i}`, weight }));
      const e = createEvaluator(snapshot([{ key: 'experiment.x', type: 'string', enabled: true, variants }]));
      const counts = new Map<string, number>();
      for (const userId of units) {
        const v = e.variant('experiment.x', { userId })!;
        counts.set(v, (counts.get(v) ?? 0) + 1);
      }
      for (const [i, w] of weights.entries())
        expectWithin4Sigma(counts.get(`v${i}`) ?? 0, N, w / 100_000, `v${i}`);
    },
  );

  it('salts are independent: inclusion in two flags is uncorrelated', () => {
    const pairs: [string, string][] = [
      ['feature.a', 'feature.b'],
      ['canary.checkout', 'canary.checkout-v2'],
      ['experiment.x', 'experiment.x:variant'],
    ];
    for (const [s1, s2] of pairs) {
      const seed1 = saltSeed(s1);
      const seed2 = saltSeed(s2);
      let both = 0;
      let a = 0;
      let b = 0;
      for (const u of units) {
        const x = bucketWithSeed(seed1, u) < 50_000;
        const y = bucketWithSeed(seed2, u) < 50_000;
        if (x) a++;
        if (y) b++;
        if (x && y) both++;
      }
      // Phi coefficient of the 2×2 table; under independence sqrt(N)·phi is ~N(0, 1).
      const pa = a / N;
      const pb = b / N;
      const phi = (both / N - pa * pb) / Math.sqrt(pa * (1 - pa) * pb * (1 - pb));
      expect(Math.abs(phi) * Math.sqrt(N), `${s1} vs ${s2}`).toBeLessThan(4);
    }
  });

  it('rollout and variant buckets of one flag are independent', () => {
    const seed = saltSeed('experiment.y');
    const vseed = variantSeed('experiment.y');
    let both = 0;
    let a = 0;
    let b = 0;
    for (const u of units) {
      const x = bucketWithSeed(seed, u) < 30_000;
      const y = bucketWithSeed(vseed, u) < 50_000;
      if (x) a++;
      if (y) b++;
      if (x && y) both++;
    }
    const pa = a / N;
    const pb = b / N;
    const phi = (both / N - pa * pb) / Math.sqrt(pa * (1 - pa) * pb * (1 - pb));
    expect(Math.abs(phi) * Math.sqrt(N)).toBeLessThan(4);
  });
});

/** Integer weights summing to 100,000, zeros anywhere (first, last, in between) and edges at 1. */
const weightsArb = fc
  .array(fc.oneof(fc.constant(0), fc.constant(1), fc.integer({ min: 0, max: 100_000 })), {
    minLength: 1,
    maxLength: 6,
  })
  .map((raw) => {
    const total = raw.reduce((a, b) => a + b, 0);
    if (total === 0) return raw.map((_, i) => (i === raw.length - 1 ? 100_000 : 0));
    const weights = raw.map((w) => Math.floor((w * 100_000) / total));
    weights[weights.findIndex((w) => w > 0)]! += 100_000 - weights.reduce((a, b) => a + b, 0);
    return weights;
  });

describe('experiments', () => {
  it("the variant is the first whose cumulative weight is above the unit's variant bucket, for any weights", () => {
    fc.assert(
      fc.property(weightsArb, fc.array(unitArb, { minLength: 1, maxLength: 20 }), (weights, userIds) => {
        const variants = weights.map((weight, i) => ({ key: `v${i}`, value: i, weight }));
        const e = createEvaluator(
          snapshot([{ key: 'experiment.w', type: 'number', enabled: true, variants }]),
        );
        const seed = variantSeed('experiment.w');
        const bounds = cumulativeBounds(weights);
        for (const userId of userIds) {
          const expected = `v${variantIndexOf(bounds, bucketWithSeed(seed, userId))}`;
          expect(e.variant('experiment.w', { userId })).toBe(expected);
          expect(e.evaluate('experiment.w', { userId }).variant).toBe(expected);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('changing coverage never reshuffles variants', () => {
    const variants = [
      { key: 'control', value: 0, weight: 40_000 },
      { key: 'a', value: 1, weight: 35_000 },
      { key: 'b', value: 2, weight: 25_000 },
    ];
    const at = (coverage: number) =>
      createEvaluator(snapshot([{ key: 'experiment.z', type: 'number', enabled: true, variants, coverage }]));
    fc.assert(
      fc.property(unitArb, percentArb, percentArb, (userId, c1, c2) => {
        const r1 = at(c1).evaluate('experiment.z', { userId });
        const r2 = at(c2).evaluate('experiment.z', { userId });
        if (r1.inExperiment && r2.inExperiment) expect(r2.variant).toBe(r1.variant);
        // Coverage is monotonic too: in at the lower coverage ⇒ in at the higher.
        const [lo, hi] = c1 <= c2 ? [r1, r2] : [r2, r1];
        if (lo.inExperiment) expect(hi.inExperiment).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
