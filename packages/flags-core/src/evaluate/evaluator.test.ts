import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bucketOf, variantBucketOf } from '../hash/bucket';
import type { EvaluationResult, Flag, Snapshot } from '../snapshot/types';
import { createEvaluator } from './evaluator';
import { cohortOf } from './rollout';

const snapshot = (flags: Flag[], revision = 42): Snapshot => ({
  schemaVersion: 1,
  environment: 'prod',
  revision,
  checksum: 'sha256:' + '0'.repeat(64),
  generatedAt: '2026-11-25T15:00:00Z',
  flags,
});
const one = (flag: Flag) => createEvaluator(snapshot([flag]));
const users = Array.from({ length: 2000 }, (_, i) => `user-${i}`);

/** Checks evaluate() and the allocation-free calls agree. */
function check(
  e: ReturnType<typeof createEvaluator>,
  key: string,
  ctx: unknown,
  expected: Partial<EvaluationResult>,
) {
  const r = e.evaluate(key, ctx as never);
  expect(r).toMatchObject(expected);
  expect(e.isEnabled(key, ctx as never)).toBe(r.enabled);
  expect(e.variant(key, ctx as never)).toBe(r.variant);
  return r;
}

describe('evaluation order and reasons', () => {
  it('NOT_FOUND for unknown flags and non-string keys', () => {
    const e = one({ key: 'feature.a', type: 'boolean', enabled: true });
    expect(e.evaluate('feature.nope', { userId: 'u' })).toEqual({
      key: 'feature.nope',
      enabled: false,
      variant: null,
      value: undefined,
      reason: 'NOT_FOUND',
      revision: 42,
      errorCode: 'FLAG_NOT_FOUND',
      errorMessage: 'flag "feature.nope" is not in snapshot revision 42',
    });
    expect(e.isEnabled('feature.nope', {})).toBe(false);
    expect(e.variant('feature.nope', {})).toBeNull();
    expect(e.value('feature.nope', {}, 'fb')).toBe('fb');
    expect(e.evaluate(undefined as unknown as string).reason).toBe('NOT_FOUND');
    expect(e.isEnabled(123 as unknown as string)).toBe(false);
  });

  it('finds nothing through inherited names, and never coerces a non-string key', () => {
    const e = createEvaluator(
      snapshot([
        { key: 'feature.a', type: 'boolean', enabled: true },
        { key: '123', type: 'boolean', enabled: true },
        { key: 'release.toString', type: 'boolean', enabled: true },
      ]),
    );
    for (const key of ['toString', 'constructor', '__proto__', 'hasOwnProperty', 'valueOf']) {
      expect(e.evaluate(key).reason).toBe('NOT_FOUND');
      expect(e.isEnabled(key)).toBe(false);
      expect(e.variant(key)).toBeNull();
      expect(e.value(key, {}, 'fb')).toBe('fb');
      expect(e.flag(key)).toBeUndefined();
    }
    // The number 123 is not the key '123'; an object whose toString throws is not coerced at all.
    const hostile = {
      toString() {
        throw new Error('coerced');
      },
    } as unknown as string;
    for (const key of [123 as unknown as string, hostile, Symbol('k') as unknown as string, null as never]) {
      expect(e.isEnabled(key)).toBe(false);
      expect(e.variant(key)).toBeNull();
      expect(e.evaluate(key).reason).toBe('NOT_FOUND');
    }
    // '123' is not a valid key: found, and compiled to ERROR (an element index, not a property, in V8).
    expect(e.evaluate('123').reason).toBe('ERROR');
    expect(e.isEnabled('release.toString')).toBe(true);
    // Keys keep the snapshot's order, numeric-looking ones included.
    expect(e.keys()).toEqual(['feature.a', '123', 'release.toString']);
  });

  it("finds flags by keys built at run time (not the snapshot's string objects)", () => {
    const keys = Array.from({ length: 300 }, (_, i) => `feature.k${i}`);
    const e = createEvaluator(
      snapshot(keys.map((key, i) => ({ key, type: 'boolean', enabled: i % 2 === 0 }))),
    );
    for (let i = 0; i < keys.length; i++) {
      const built = ['feature', `k${i}`].join('.');
      expect(e.isEnabled(built)).toBe(i % 2 === 0);
      expect(e.evaluate(built).reason).toBe(i % 2 === 0 ? 'DEFAULT' : 'OFF');
    }
  });

  it('OFF serves the off variant (boolean: off/false) whatever the targeting', () => {
    const e = one({
      key: 'feature.a',
      type: 'boolean',
      enabled: false,
      allowList: ['u1'],
      rolloutPercentage: 100,
    });
    const r = check(
      e,
      'feature.a',
      { userId: 'u1' },
      { enabled: false, variant: 'off', value: false, reason: 'OFF' },
    );
    expect(r).toEqual({
      key: 'feature.a',
      enabled: false,
      variant: 'off',
      value: false,
      reason: 'OFF',
      revision: 42,
    });
  });

  it('OFF without an off variant gives the caller’s fallback', () => {
    const e = one({ key: 'feature.s', type: 'string', enabled: false, variants: [{ key: 'a', value: 'A' }] });
    check(
      e,
      'feature.s',
      { userId: 'u' },
      { enabled: false, variant: null, value: undefined, reason: 'OFF' },
    );
    expect(e.value('feature.s', { userId: 'u' }, 'fallback')).toBe('fallback');
  });

  it('TARGET_DENY before TARGET_ALLOW before rules and rollout', () => {
    const e = one({
      key: 'feature.t',
      type: 'boolean',
      enabled: true,
      denyList: ['bad'],
      allowList: ['bad', 'vip'],
      rules: [{ clauses: [{ attribute: 'plan', op: 'eq', values: ['free'] }], variant: 'off' }],
      rolloutPercentage: 0,
    });
    check(e, 'feature.t', { userId: 'bad' }, { enabled: false, variant: 'off', reason: 'TARGET_DENY' });
    check(
      e,
      'feature.t',
      { userId: 'vip', plan: 'free' },
      { enabled: true, variant: 'on', reason: 'TARGET_ALLOW' },
    );
    const r = check(
      e,
      'feature.t',
      { userId: 'x', plan: 'free' },
      { enabled: false, variant: 'off', reason: 'RULE_MATCH' },
    );
    expect(r.ruleIndex).toBe(0);
    check(
      e,
      'feature.t',
      { userId: 'x', plan: 'pro' },
      { enabled: false, variant: 'off', reason: 'ROLLOUT', cohort: 'none' },
    );
  });

  it('lists use the bucketBy attribute, and a missing unit key skips them', () => {
    const e = one({
      key: 'feature.o',
      type: 'boolean',
      enabled: true,
      bucketBy: 'orgId',
      allowList: ['acme'],
      denyList: ['evil'],
    });
    check(e, 'feature.o', { userId: 'acme', orgId: 'evil' }, { reason: 'TARGET_DENY' });
    check(e, 'feature.o', { userId: 'evil', orgId: 'acme' }, { reason: 'TARGET_ALLOW' });
    check(e, 'feature.o', { userId: 'evil' }, { reason: 'DEFAULT', enabled: true });
  });

  it('rules: first match wins, ruleIndex reported, partial rule rollouts fall through', () => {
    const e = one({
      key: 'feature.r',
      type: 'string',
      enabled: true,
      variants: [
        { key: 'a', value: 'A' },
        { key: 'b', value: 'B' },
        { key: 'c', value: 'C' },
      ],
      offVariant: 'c',
      rules: [
        {
          clauses: [{ attribute: 'country', op: 'in', values: ['SE'] }],
          variant: 'b',
          rolloutPercentage: 50,
        },
        { clauses: [{ attribute: 'country', op: 'in', values: ['SE', 'NO'] }], variant: 'a' },
        { clauses: [{ attribute: 'country', op: 'in', values: ['SE', 'NO'] }], variant: 'c' },
      ],
    });
    let first = 0;
    for (const userId of users) {
      const inFirst = bucketOf('feature.r', userId) < 50000;
      const r = check(e, 'feature.r', { userId, country: 'SE' }, { reason: 'RULE_MATCH' });
      expect(r.ruleIndex).toBe(inFirst ? 0 : 1);
      expect(r.variant).toBe(inFirst ? 'b' : 'a');
      expect(r.enabled).toBe(true);
      if (inFirst) first++;
    }
    expect(first).toBeGreaterThan(800);
    expect(first).toBeLessThan(1200);
    // Without a unit key the partial rule is skipped; the full one matches.
    expect(e.evaluate('feature.r', { country: 'SE' })).toMatchObject({
      reason: 'RULE_MATCH',
      ruleIndex: 1,
      variant: 'a',
    });
    // No match: the default variant (first), reason DEFAULT.
    check(
      e,
      'feature.r',
      { userId: 'u', country: 'DK' },
      { reason: 'DEFAULT', variant: 'a', value: 'A', enabled: true },
    );
    // A rule serving the off variant is not "enabled".
    const r = e.evaluate('feature.r', {
      userId: users.find((u) => bucketOf('feature.r', u) >= 50000)!,
      country: 'NO',
    });
    expect(r).toMatchObject({ variant: 'a', ruleIndex: 1 });
  });

  it('a rule with no clauses matches everyone; a 0% rule nobody', () => {
    const e = one({
      key: 'feature.c',
      type: 'boolean',
      enabled: true,
      rules: [
        { clauses: [], variant: 'on', rolloutPercentage: 0 },
        { clauses: [], variant: 'off' },
      ],
    });
    check(
      e,
      'feature.c',
      { userId: 'u' },
      { reason: 'RULE_MATCH', ruleIndex: 1, variant: 'off', enabled: false },
    );
    check(e, 'feature.c', undefined, { reason: 'RULE_MATCH', ruleIndex: 1 });
  });

  it('DEFAULT serves the default variant; a value shorthand serves its value', () => {
    check(
      one({ key: 'feature.on', type: 'boolean', enabled: true }),
      'feature.on',
      {},
      {
        enabled: true,
        variant: 'on',
        value: true,
        reason: 'DEFAULT',
      },
    );
    const e = one({ key: 'feature.limit', type: 'number', enabled: true, value: 25 });
    check(e, 'feature.limit', {}, { enabled: true, variant: 'default', value: 25, reason: 'DEFAULT' });
    expect(e.value('feature.limit', {}, 0)).toBe(25);
  });
});

describe('percentage rollouts', () => {
  it('serves the default variant to buckets below the threshold and reports cohorts', () => {
    for (const percent of [0.001, 1, 25, 50, 50.001, 75, 99.999]) {
      const e = one({ key: 'feature.p', type: 'boolean', enabled: true, rolloutPercentage: percent });
      for (const userId of users.slice(0, 500)) {
        const bucket = bucketOf('feature.p', userId);
        const inside = bucket < Math.round(percent * 1000);
        const r = check(
          e,
          'feature.p',
          { userId },
          { reason: 'ROLLOUT', enabled: inside, variant: inside ? 'on' : 'off' },
        );
        expect(r.cohort).toBe(cohortOf(bucket, percent));
      }
    }
  });

  it('0% and 100% need no unit key', () => {
    check(
      one({ key: 'feature.z', type: 'boolean', enabled: true, rolloutPercentage: 0 }),
      'feature.z',
      {},
      {
        reason: 'ROLLOUT',
        enabled: false,
        cohort: 'none',
      },
    );
    check(
      one({ key: 'feature.f', type: 'boolean', enabled: true, rolloutPercentage: 100 }),
      'feature.f',
      {},
      {
        reason: 'ROLLOUT',
        enabled: true,
        cohort: 'treatment',
      },
    );
  });

  it('a missing unit key is never put into a partial rollout, and the reason says so', () => {
    const e = one({ key: 'feature.p', type: 'boolean', enabled: true, rolloutPercentage: 99.999 });
    for (const ctx of [
      {},
      { userId: '' },
      { userId: null },
      { userId: {} },
      { userId: ['u'] },
      { userId: Number.NaN },
      null,
      'u',
    ]) {
      expect(e.evaluate('feature.p', ctx as never)).toEqual({
        key: 'feature.p',
        enabled: false,
        variant: 'off',
        value: false,
        reason: 'ERROR',
        revision: 42,
        cohort: 'none',
        errorCode: 'TARGETING_KEY_MISSING',
        errorMessage: 'context has no unit key "userId"; the flag\'s fallback was served',
      });
      expect(e.isEnabled('feature.p', ctx as never)).toBe(false);
    }
  });

  it('hashes a numeric unit key as its decimal string', () => {
    const e = one({ key: 'feature.n', type: 'boolean', enabled: true, rolloutPercentage: 50 });
    for (let id = 0; id < 300; id++)
      expect(e.isEnabled('feature.n', { userId: id as never })).toBe(
        e.isEnabled('feature.n', { userId: String(id) }),
      );
  });

  it('uses the salt, not the key, when one is set', () => {
    const a = one({
      key: 'feature.a',
      type: 'boolean',
      enabled: true,
      rolloutPercentage: 30,
      salt: 'shared',
    });
    const b = one({
      key: 'feature.b',
      type: 'boolean',
      enabled: true,
      rolloutPercentage: 30,
      salt: 'shared',
    });
    for (const userId of users.slice(0, 300)) {
      expect(a.isEnabled('feature.a', { userId })).toBe(b.isEnabled('feature.b', { userId }));
      expect(a.isEnabled('feature.a', { userId })).toBe(bucketOf('shared', userId) < 30000);
    }
  });

  it('non-boolean rollouts serve the off variant or the fallback outside', () => {
    const e = one({
      key: 'feature.s',
      type: 'string',
      enabled: true,
      variants: [
        { key: 'new', value: 'N' },
        { key: 'old', value: 'O' },
      ],
      rolloutPercentage: 50,
    });
    const outside = users.find((u) => bucketOf('feature.s', u) >= 50000)!;
    check(
      e,
      'feature.s',
      { userId: outside },
      { variant: null, value: undefined, enabled: false, reason: 'ROLLOUT' },
    );
    expect(e.value('feature.s', { userId: outside }, 'fb')).toBe('fb');
    const inside = users.find((u) => bucketOf('feature.s', u) < 50000)!;
    expect(e.value('feature.s', { userId: inside }, 'fb')).toBe('N');
  });
});

describe('canaries', () => {
  const canary = (status: 'progressing' | 'paused' | 'completed' | 'rolled_back', stage: number): Flag => ({
    key: 'canary.api',
    type: 'boolean',
    enabled: true,
    stages: [
      { percent: 1, minDurationSec: 60 },
      { percent: 10, minDurationSec: 60 },
      { percent: 50, minDurationSec: 60 },
      { percent: 100, minDurationSec: 0 },
    ],
    canary: { stage, status, stageStartedAt: '2026-11-25T15:00:00Z' },
  });

  it('serves the current stage with treatment/control/none cohorts', () => {
    for (const [stage, percent] of [
      [0, 1],
      [1, 10],
      [2, 50],
    ] as const) {
      for (const status of ['progressing', 'paused'] as const) {
        const e = one(canary(status, stage));
        for (const userId of users.slice(0, 400)) {
          const bucket = bucketOf('canary.api', userId);
          const r = check(
            e,
            'canary.api',
            { userId },
            { reason: 'CANARY', enabled: bucket < percent * 1000 },
          );
          expect(r.cohort).toBe(cohortOf(bucket, percent));
        }
      }
    }
  });

  it('rolled back serves nobody; completed serves everyone', () => {
    const back = one(canary('rolled_back', 2));
    const done = one(canary('completed', 1));
    for (const userId of users.slice(0, 200)) {
      check(back, 'canary.api', { userId }, { reason: 'CANARY', enabled: false, cohort: 'none' });
      check(done, 'canary.api', { userId }, { reason: 'CANARY', enabled: true, cohort: 'treatment' });
    }
  });

  it('without a state starts at the first stage', () => {
    const flag = canary('progressing', 0);
    delete flag.canary;
    const e = one(flag);
    const inside = users.filter((u) => e.isEnabled('canary.api', { userId: u }));
    expect(inside).toEqual(users.filter((u) => bucketOf('canary.api', u) < 1000));
  });
});

describe('experiments', () => {
  const flag = (coverage?: number): Flag => ({
    key: 'experiment.price',
    type: 'number',
    enabled: true,
    variants: [
      { key: 'control', value: 10, weight: 50000 },
      { key: 'cheap', value: 8, weight: 30000 },
      { key: 'zero', value: 0, weight: 0 },
      { key: 'dear', value: 12, weight: 20000 },
    ],
    ...(coverage === undefined ? {} : { coverage }),
  });

  it('assigns by the variant bucket against cumulative weights', () => {
    const e = one(flag());
    for (const userId of users) {
      const vb = variantBucketOf('experiment.price', userId);
      const expected = vb < 50000 ? 'control' : vb < 80000 ? 'cheap' : 'dear';
      const r = check(
        e,
        'experiment.price',
        { userId },
        { reason: 'EXPERIMENT', inExperiment: true, variant: expected },
      );
      expect(r.value).toBe({ control: 10, cheap: 8, dear: 12 }[expected]);
      expect(r.cohort).toBeUndefined();
    }
  });

  it('coverage uses the rollout bucket; outside units get the control variant', () => {
    const e = one(flag(30));
    for (const userId of users.slice(0, 500)) {
      const inside = bucketOf('experiment.price', userId) < 30000;
      const r = e.evaluate('experiment.price', { userId });
      expect(r.inExperiment).toBe(inside);
      expect(r.reason).toBe('EXPERIMENT');
      if (!inside) expect(r.variant).toBe('control');
      else expect(r.variant).toBe(one(flag()).variant('experiment.price', { userId }));
    }
  });

  it('a missing unit key is never in the experiment', () => {
    const r = one(flag()).evaluate('experiment.price', {});
    expect(r).toMatchObject({
      reason: 'ERROR',
      variant: 'control',
      inExperiment: false,
      errorCode: 'TARGETING_KEY_MISSING',
    });
  });
});

describe('robustness', () => {
  it('never throws on bad contexts', () => {
    const e = one({
      key: 'feature.x',
      type: 'boolean',
      enabled: true,
      allowList: ['a'],
      rules: [{ clauses: [{ attribute: 'n', op: 'gt', values: [1] }], variant: 'on' }],
      rolloutPercentage: 50,
    });
    const throwing = new Proxy(
      {},
      {
        get: () => {
          throw new Error('boom');
        },
      },
    );
    expect(e.evaluate('feature.x', throwing as never)).toMatchObject({
      reason: 'ERROR',
      variant: null,
      enabled: false,
    });
    expect(e.isEnabled('feature.x', throwing as never)).toBe(false);
    fc.assert(
      fc.property(fc.anything(), (ctx) => {
        const r = e.evaluate('feature.x', ctx as never);
        expect(e.isEnabled('feature.x', ctx as never)).toBe(r.enabled);
        expect(e.variant('feature.x', ctx as never)).toBe(r.variant);
      }),
    );
  });

  it('compiles invalid flags to ERROR and keeps the valid ones', () => {
    const e = createEvaluator(
      snapshot([
        { key: 'feature.bad', type: 'boolean', enabled: true, rolloutPercentage: 300 },
        { key: 'feature.good', type: 'boolean', enabled: true },
        { nonsense: true } as unknown as Flag,
      ]),
    );
    expect(e.evaluate('feature.bad', { userId: 'u' })).toMatchObject({
      reason: 'ERROR',
      variant: null,
      errorCode: 'PARSE_ERROR',
      errorMessage: expect.stringContaining('rolloutPercentage'),
    });
    expect(e.isEnabled('feature.good', {})).toBe(true);
    expect(e.keys()).toEqual(['feature.bad', 'feature.good', 'undefined']);
    expect(() => createEvaluator(null as never)).not.toThrow();
    expect(createEvaluator({} as never).keys()).toEqual([]);
  });

  it('value() returns the fallback on a type mismatch, and frozen JSON values', () => {
    const e = createEvaluator(
      snapshot([
        { key: 'feature.flag', type: 'boolean', enabled: true },
        { key: 'feature.cfg', type: 'json', enabled: true, value: { limits: [1, 2] } },
      ]),
    );
    expect(e.value('feature.flag', {}, 'nope')).toBe('nope');
    expect(e.value('feature.flag', {}, false)).toBe(true);
    const cfg = e.value('feature.cfg', {}, {});
    expect(cfg).toEqual({ limits: [1, 2] });
    expect(Object.isFrozen(cfg)).toBe(true);
    expect(Object.isFrozen((cfg as { limits: number[] }).limits)).toBe(true);
  });

  it('exposes revision, environment, keys and normalised flags', () => {
    const e = createEvaluator(snapshot([{ key: 'feature.a', type: 'boolean', enabled: true }], 9));
    expect([e.revision, e.environment, e.keys()]).toEqual([9, 'prod', ['feature.a']]);
    expect(e.flag('feature.a')).toMatchObject({
      defaultVariant: 'on',
      offVariant: 'off',
      salt: 'feature.a',
      bucketBy: 'userId',
    });
    expect(e.flag('feature.none')).toBeUndefined();
  });
});

describe('last-key memo of isEnabled / variant / value', () => {
  it('answers like evaluate whatever order keys come in, unknown keys included', () => {
    const e = createEvaluator(
      snapshot([
        { key: 'feature.on', type: 'boolean', enabled: true },
        { key: 'feature.off', type: 'boolean', enabled: false },
        { key: 'feature.half', type: 'boolean', enabled: true, rolloutPercentage: 50 },
        {
          key: 'experiment.split',
          type: 'string',
          enabled: true,
          variants: [
            { key: 'a', value: 'A', weight: 50_000 },
            { key: 'b', value: 'B', weight: 50_000 },
          ],
        },
      ]),
    );
    const keys = ['feature.on', 'feature.off', 'feature.half', 'experiment.split', 'feature.missing'];
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom(...keys), fc.constantFrom('isEnabled', 'variant', 'value')), {
          minLength: 1,
          maxLength: 40,
        }),
        fc.string({ minLength: 1, maxLength: 12 }),
        (calls, userId) => {
          for (const [key, api] of calls) {
            // A fresh string each time, so equality is by content, not by identity.
            const k = `${key}`.split('').join('');
            const full = e.evaluate(k, { userId });
            if (api === 'isEnabled') expect(e.isEnabled(k, { userId })).toBe(full.enabled);
            else if (api === 'variant') expect(e.variant(k, { userId })).toBe(full.variant);
            else expect(e.value(k, { userId }, undefined as never)).toBe(full.value);
          }
        },
      ),
    );
  });
});

describe('allow and deny lists before a partial rollout (checked through the unit hash)', () => {
  const reference = (flag: Flag, unit: string | undefined, percent: number) => {
    if (unit === undefined) return { reason: 'ERROR', cohort: 'none' };
    if (flag.denyList?.includes(unit)) return { reason: 'TARGET_DENY' };
    if (flag.allowList?.includes(unit)) return { reason: 'TARGET_ALLOW' };
    return {
      reason: flag.stages ? 'CANARY' : 'ROLLOUT',
      cohort: cohortOf(bucketOf(flag.key, unit), percent),
    };
  };
  const unitOf = (ctx: Record<string, unknown> | null, attribute: string) => {
    const v = ctx?.[attribute];
    if (typeof v === 'string') return v.length > 0 ? v : undefined;
    return typeof v === 'number' && Number.isFinite(v) ? String(v) : undefined;
  };

  it('decide exactly as lists first, then the rollout, for any lists, percentage and context', () => {
    const listed = fc.array(fc.oneof(fc.string({ minLength: 1, maxLength: 8 }), fc.integer().map(String)), {
      maxLength: 40,
    });
    fc.assert(
      fc.property(
        listed,
        listed,
        fc.integer({ min: 1, max: 99_999 }).map((t) => t / 1000),
        fc.constantFrom('userId', 'orgId'),
        fc.array(fc.oneof(fc.string({ maxLength: 8 }), fc.integer()), { maxLength: 30 }),
        (allowList, denyList, percent, bucketBy, probes) => {
          const flag: Flag = {
            key: 'feature.lists',
            type: 'boolean',
            enabled: true,
            bucketBy,
            rolloutPercentage: percent,
            ...(allowList.length > 0 ? { allowList } : {}),
            ...(denyList.length > 0 ? { denyList } : {}),
          };
          const e = one(flag);
          // Every listed unit, and probes that mostly are not listed; as strings and as numbers.
          const contexts = [...allowList, ...denyList, ...probes].flatMap((u) => [
            { [bucketBy]: u },
            { [bucketBy]: typeof u === 'string' && /^-?\d+$/.test(u) ? Number(u) : u },
          ]);
          contexts.push({}, { [bucketBy]: '' });
          for (const ctx of contexts) {
            const want = reference(flag, unitOf(ctx, bucketBy), percent);
            const r = e.evaluate('feature.lists', ctx);
            expect({ reason: r.reason, ...(want.cohort ? { cohort: r.cohort } : {}) }).toEqual(want);
            expect(e.isEnabled('feature.lists', ctx)).toBe(r.enabled);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('lists too long for the hash table still decide by the lists', () => {
    const allowList = Array.from({ length: 70_000 }, (_, i) => `member-${i}`);
    const e = one({
      key: 'feature.big',
      type: 'boolean',
      enabled: true,
      rolloutPercentage: 1,
      allowList,
      denyList: ['member-5'],
    });
    expect(e.evaluate('feature.big', { userId: 'member-69999' }).reason).toBe('TARGET_ALLOW');
    expect(e.evaluate('feature.big', { userId: 'member-5' }).reason).toBe('TARGET_DENY');
    expect(e.evaluate('feature.big', { userId: 'outsider' }).reason).toBe('ROLLOUT');
  });
});

describe('variant of experiments (its own lookup table and pick functions)', () => {
  it('agrees with evaluate for any coverage, targeting, bucketBy, kill switch and context', () => {
    const throwing = new Proxy(
      {},
      {
        get: () => {
          throw new Error('boom');
        },
      },
    );
    fc.assert(
      fc.property(
        fc.constantFrom(0, 0.001, 30, 99.999, 100),
        fc.constantFrom('userId', 'orgId'),
        fc.boolean(),
        fc.boolean(),
        fc.option(fc.constantFrom('control', 'b'), { nil: undefined }),
        fc.array(
          fc.oneof(
            fc.record({ userId: fc.string(), orgId: fc.string() }),
            fc.record({ userId: fc.integer() }),
            fc.constant({ userId: 'u-allowed' }),
            fc.constant({}),
            fc.constant(null),
            fc.constant(throwing),
          ),
          { minLength: 1, maxLength: 30 },
        ),
        (coverage, bucketBy, enabled, targeted, offVariant, contexts) => {
          const flag: Flag = {
            key: 'experiment.v',
            type: 'string',
            enabled,
            bucketBy,
            coverage,
            ...(offVariant === undefined ? {} : { offVariant }),
            ...(targeted ? { allowList: ['u-allowed'] } : {}),
            variants: [
              { key: 'control', value: 'c', weight: 40_000 },
              { key: 'a', value: 'a', weight: 0 },
              { key: 'b', value: 'b', weight: 60_000 },
            ],
          };
          const e = one(flag);
          for (const ctx of contexts) {
            expect(e.variant('experiment.v', ctx as never)).toBe(
              e.evaluate('experiment.v', ctx as never).variant,
            );
          }
          // Unknown keys and non-string keys serve no variant.
          expect(e.variant('experiment.none', {})).toBeNull();
          expect(e.variant(7 as never, {})).toBeNull();
        },
      ),
    );
  });
});

describe('isEnabled of rollouts (hash-space bounds)', () => {
  it('agree with evaluate for any percentage, canary stage, bucketBy and context', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 100_000 }).map((t) => t / 1000),
        fc.constantFrom('userId', 'orgId'),
        fc.boolean(),
        fc.array(
          fc.oneof(
            fc.record({ userId: fc.string(), orgId: fc.string() }),
            fc.record({ userId: fc.integer() }),
            fc.constant({}),
            fc.constant(null),
          ),
          { minLength: 1, maxLength: 30 },
        ),
        (percent, bucketBy, canary, contexts) => {
          const flag: Flag = canary
            ? {
                key: 'canary.x',
                type: 'boolean',
                enabled: true,
                bucketBy,
                stages: [{ percent, minDurationSec: 0 }],
                canary: { stage: 0, status: 'progressing', stageStartedAt: null },
              }
            : { key: 'feature.x', type: 'boolean', enabled: true, bucketBy, rolloutPercentage: percent };
          const e = createEvaluator(snapshot([flag, { key: 'feature.on', type: 'boolean', enabled: true }]));
          for (const ctx of contexts) {
            expect(e.isEnabled(flag.key, ctx as never)).toBe(e.evaluate(flag.key, ctx as never).enabled);
            expect(e.isEnabled('feature.on', ctx as never)).toBe(true);
          }
        },
      ),
      { numRuns: 400 },
    );
  });

  // isEnabled keeps the rollouts without targeting in flat arrays, one index per rollout: many of
  // them in one snapshot, among flags of other kinds, each with its own seed, bound, attribute and
  // enabled sides (a boolean flag may serve `false` in its treatment and `true` to everyone else).
  it('agree with evaluate for many rollouts of every shape in one snapshot, in any order', () => {
    const rolloutArb = fc.record({
      percent: fc.integer({ min: 0, max: 100_000 }).map((t) => t / 1000),
      bucketBy: fc.constantFrom('userId', 'orgId'),
      inverted: fc.boolean(),
      salt: fc.option(fc.string({ minLength: 1, maxLength: 8 }), { nil: undefined }),
      kind: fc.constantFrom('rollout', 'canary', 'on', 'off', 'listed'),
    });
    fc.assert(
      fc.property(
        fc.array(rolloutArb, { minLength: 1, maxLength: 12 }),
        fc.array(
          fc.oneof(
            fc.record({ userId: fc.string(), orgId: fc.string() }),
            fc.record({ userId: fc.integer(), orgId: fc.constantFrom('o-1', 'o-2') }),
            fc.constant({}),
            fc.constant(null),
          ),
          { minLength: 1, maxLength: 20 },
        ),
        fc.array(fc.nat(), { minLength: 1, maxLength: 60 }),
        (shapes, contexts, order) => {
          const flags: Flag[] = shapes.map((s, i): Flag => {
            const key = `feature.r${i}`;
            const variants = s.inverted
              ? {
                  variants: [
                    { key: 'in', value: false },
                    { key: 'out', value: true },
                  ],
                  defaultVariant: 'in',
                  offVariant: 'out',
                }
              : {};
            const common = { key, type: 'boolean' as const, bucketBy: s.bucketBy, ...variants };
            const salt = s.salt === undefined ? {} : { salt: s.salt };
            switch (s.kind) {
              case 'on':
                return { ...common, enabled: true };
              case 'off':
                return { ...common, enabled: false };
              case 'canary':
                return {
                  ...common,
                  ...salt,
                  enabled: true,
                  stages: [{ percent: s.percent, minDurationSec: 0 }],
                  canary: { stage: 0, status: 'progressing', stageStartedAt: null },
                };
              case 'listed':
                return {
                  ...common,
                  ...salt,
                  enabled: true,
                  rolloutPercentage: s.percent,
                  allowList: ['u-1'],
                };
              default:
                return { ...common, ...salt, enabled: true, rolloutPercentage: s.percent };
            }
          });
          const e = createEvaluator(snapshot(flags));
          for (const n of order) {
            const key = flags[n % flags.length]!.key;
            const ctx = contexts[n % contexts.length];
            expect(e.isEnabled(key, ctx as never)).toBe(e.evaluate(key, ctx as never).enabled);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a context whose unit-key getter throws is not enabled, and the next call is answered', () => {
    const e = createEvaluator(
      snapshot([
        { key: 'feature.r', type: 'boolean', enabled: true, rolloutPercentage: 100 - 1e-3 },
        {
          key: 'feature.inverted',
          type: 'boolean',
          enabled: true,
          rolloutPercentage: 1e-3,
          variants: [
            { key: 'in', value: false },
            { key: 'out', value: true },
          ],
          defaultVariant: 'in',
          offVariant: 'out',
        },
      ]),
    );
    const throwing = Object.defineProperty({}, 'userId', {
      get() {
        throw new Error('no user');
      },
    });
    for (const key of ['feature.r', 'feature.inverted']) {
      expect(e.isEnabled(key, throwing as never)).toBe(false);
      expect(e.evaluate(key, throwing as never).reason).toBe('ERROR');
    }
    // Out of every tiny treatment: the inverted flag serves its `true` to the unit.
    const outside = users.find((u) => bucketOf('feature.inverted', u) >= 1)!;
    expect(e.isEnabled('feature.inverted', { userId: outside })).toBe(true);
    expect(e.isEnabled('feature.inverted', {})).toBe(true); // no unit key: the off variant, true
  });

  it('decide a unit exactly at each side of the treatment and control bounds', () => {
    // Units whose buckets sit right at the edges of a 25% rollout: 24,999 / 25,000 and 74,999 / 75,000
    // (control is [50,000, 75,000)).
    const flag: Flag = { key: 'feature.edge', type: 'boolean', enabled: true, rolloutPercentage: 25 };
    const e = createEvaluator(snapshot([flag]));
    const wanted = new Set([24_999, 25_000, 49_999, 50_000, 74_999, 75_000]);
    const found = new Map<number, string>();
    for (let i = 0; found.size < wanted.size && i < 3_000_000; i++) {
      const id = `edge-${i}`;
      const b = bucketOf('feature.edge', id);
      if (wanted.has(b) && !found.has(b)) found.set(b, id);
    }
    expect(found.size).toBe(wanted.size);
    for (const [bucket, id] of found) {
      const r = e.evaluate('feature.edge', { userId: id });
      expect(r.enabled).toBe(bucket < 25_000);
      expect(r.cohort).toBe(
        bucket < 25_000 ? 'treatment' : bucket >= 50_000 && bucket < 75_000 ? 'control' : 'none',
      );
      expect(e.isEnabled('feature.edge', { userId: id })).toBe(bucket < 25_000);
    }
  });
});
