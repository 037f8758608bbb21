// Inputs of the golden test vectors (see generate-vectors.ts and the README's "Test vectors").
import type { EvaluationResult } from '../src/snapshot/types';

export const murmurInputs: string[] = [
  '',
  'a',
  'ab',
  'abc',
  'abcd',
  'abcde',
  'Hello, world!',
  'The quick brown fox jumps over the lazy dog',
  'user-42',
  '00000000-0000-4000-8000-000000000000',
  '\u0000',
  'é',
  'naïve café',
  'Ω≈ç√',
  '日本語のユーザー',
  'emoji 😀 key',
  '𝄞',
  'lone \ud800 surrogate',
  '\udfff',
  'x'.repeat(1000),
  'ключ-'.repeat(60),
];

export const bucketSalts: string[] = ['feature.checkout', 'canary.api-v2', 'experiment.pricing', 'sälz', ''];
export const bucketUnitKeys: string[] = [
  '',
  'user-1',
  'user-2',
  'user-42',
  'alice@example.com',
  '3f2c9a1e-7b4d-4c1a-9e8f-0a1b2c3d4e5f',
  'Zoë',
  '山田',
  '😀',
  'u'.repeat(257),
];

/** The fields of a result every SDK must reproduce (no key/revision/errorMessage). */
export function expectedOf(r: EvaluationResult): Record<string, unknown> {
  const out: Record<string, unknown> = { enabled: r.enabled, variant: r.variant };
  if (r.value !== undefined) out.value = r.value;
  out.reason = r.reason;
  if (r.cohort !== undefined) out.cohort = r.cohort;
  if (r.inExperiment !== undefined) out.inExperiment = r.inExperiment;
  if (r.ruleIndex !== undefined) out.ruleIndex = r.ruleIndex;
  if (r.errorCode !== undefined) out.errorCode = r.errorCode;
  return out;
}

type Case = [flag: string, context: Record<string, unknown> | null, note?: string];
export interface Scenario {
  name: string;
  flags: Record<string, unknown>[];
  cases: Case[];
}

const users = (prefix: string, n: number, flag: string): Case[] =>
  Array.from({ length: n }, (_, i) => [flag, { userId: `${prefix}${i}` }] as Case);

export const evaluationScenarios: Scenario[] = [
  {
    name: 'order: off, deny, allow, rules, rollout, default',
    flags: [
      { key: 'feature.killed', type: 'boolean', enabled: false, allowList: ['vip'] },
      {
        key: 'feature.targeted',
        type: 'boolean',
        enabled: true,
        denyList: ['banned', 'both'],
        allowList: ['vip', 'both'],
        rules: [
          {
            id: 'staff',
            clauses: [{ attribute: 'email', op: 'ends_with', values: ['@rupaya.dev'] }],
            variant: 'on',
          },
          {
            id: 'free-plan-off',
            clauses: [{ attribute: 'plan', op: 'eq', values: ['free'] }],
            variant: 'off',
          },
        ],
        rolloutPercentage: 30,
      },
      { key: 'feature.plain', type: 'boolean', enabled: true },
    ],
    cases: [
      ['feature.killed', { userId: 'vip' }, 'kill switch wins over the allow list'],
      ['feature.targeted', { userId: 'banned', email: 'x@rupaya.dev' }, 'deny list before rules'],
      ['feature.targeted', { userId: 'both' }, 'deny list before allow list'],
      ['feature.targeted', { userId: 'vip', plan: 'free' }, 'allow list before rules'],
      [
        'feature.targeted',
        { userId: 'u-1', email: 'a@rupaya.dev', plan: 'free' },
        'first matching rule wins',
      ],
      ['feature.targeted', { userId: 'u-2', plan: 'free' }],
      ['feature.targeted', { email: 'a@rupaya.dev' }, 'rules need no unit key'],
      ['feature.targeted', {}, 'no unit key: never in a partial rollout'],
      ['feature.targeted', null, 'no context at all'],
      ...users('user-', 12, 'feature.targeted'),
      ['feature.plain', {}],
      ['feature.missing', { userId: 'u' }, 'unknown flag'],
    ],
  },
  {
    name: 'rollouts: thresholds, cohorts, unit keys',
    flags: [
      { key: 'feature.tiny', type: 'boolean', enabled: true, rolloutPercentage: 0.5 },
      { key: 'feature.quarter', type: 'boolean', enabled: true, rolloutPercentage: 25 },
      { key: 'feature.most', type: 'boolean', enabled: true, rolloutPercentage: 87.654 },
      { key: 'feature.none', type: 'boolean', enabled: true, rolloutPercentage: 0 },
      { key: 'feature.all', type: 'boolean', enabled: true, rolloutPercentage: 100 },
      {
        key: 'feature.by-org',
        type: 'boolean',
        enabled: true,
        rolloutPercentage: 50,
        bucketBy: 'orgId',
        salt: 'org-salt',
      },
      {
        key: 'feature.banner',
        type: 'string',
        enabled: true,
        variants: [
          { key: 'new', value: 'New banner' },
          { key: 'old', value: 'Old banner' },
        ],
        offVariant: 'old',
        rolloutPercentage: 40,
      },
    ],
    cases: [
      ...users('user-', 16, 'feature.tiny'),
      ...users('user-', 16, 'feature.quarter'),
      ...users('user-', 10, 'feature.most'),
      ['feature.quarter', { userId: 'Zoë' }],
      ['feature.quarter', { userId: '山田太郎' }],
      ['feature.quarter', { userId: 'emoji-😀' }],
      ['feature.quarter', { userId: 'x'.repeat(300) }, 'long key'],
      ['feature.quarter', { userId: 12345 }, 'numbers hash as their decimal string'],
      ['feature.quarter', { userId: '12345' }],
      ['feature.quarter', { userId: '' }, 'empty string is no unit key'],
      ['feature.none', {}],
      ['feature.none', { userId: 'user-1' }],
      ['feature.all', {}],
      ['feature.by-org', { userId: 'u', orgId: 'acme' }],
      ['feature.by-org', { userId: 'u', orgId: 'globex' }],
      ['feature.by-org', { userId: 'u', orgId: 'initech' }],
      ['feature.by-org', { userId: 'u' }, 'bucketBy attribute missing'],
      ...users('user-', 8, 'feature.banner'),
    ],
  },
  {
    name: 'canaries: stages, status, cohorts',
    flags: [
      {
        key: 'canary.checkout',
        type: 'boolean',
        enabled: true,
        stages: [
          { percent: 1, minDurationSec: 300 },
          { percent: 10, minDurationSec: 300 },
          { percent: 50, minDurationSec: 600 },
          { percent: 100, minDurationSec: 0 },
        ],
        canary: { stage: 1, status: 'progressing', stageStartedAt: '2026-11-25T00:00:00Z' },
      },
      {
        key: 'canary.search',
        type: 'boolean',
        enabled: true,
        stages: [
          { percent: 25, minDurationSec: 60 },
          { percent: 75, minDurationSec: 60 },
        ],
        canary: { stage: 1, status: 'paused', stageStartedAt: '2026-11-25T00:00:00Z' },
      },
      {
        key: 'canary.rolled-back',
        type: 'boolean',
        enabled: true,
        stages: [{ percent: 50, minDurationSec: 60 }],
        canary: { stage: 0, status: 'rolled_back', stageStartedAt: null },
      },
      {
        key: 'canary.done',
        type: 'boolean',
        enabled: true,
        stages: [{ percent: 5, minDurationSec: 60 }],
        canary: { stage: 0, status: 'completed', stageStartedAt: null },
      },
    ],
    cases: [
      ...users('user-', 24, 'canary.checkout'),
      ...users('user-', 12, 'canary.search'),
      ...users('user-', 4, 'canary.rolled-back'),
      ...users('user-', 4, 'canary.done'),
      ['canary.checkout', {}, 'no unit key'],
    ],
  },
  {
    name: 'experiments: weights, coverage, variant buckets',
    flags: [
      {
        key: 'experiment.pricing',
        type: 'number',
        enabled: true,
        variants: [
          { key: 'control', value: 10, weight: 34000 },
          { key: 'cheaper', value: 8, weight: 33000 },
          { key: 'dearer', value: 12, weight: 33000 },
        ],
        coverage: 60,
        experiment: { primaryMetric: { event: 'purchase', kind: 'conversion', direction: 'increase' } },
      },
      {
        key: 'experiment.layout',
        type: 'json',
        enabled: true,
        variants: [
          { key: 'control', value: { columns: 1 }, weight: 50000 },
          { key: 'grid', value: { columns: 3, dense: true }, weight: 50000 },
        ],
      },
    ],
    cases: [
      ...users('user-', 24, 'experiment.pricing'),
      ...users('user-', 8, 'experiment.layout'),
      ['experiment.pricing', {}],
    ],
  },
  {
    name: 'rules: operators and clause semantics',
    flags: [
      {
        key: 'feature.rules',
        type: 'string',
        enabled: true,
        variants: [
          { key: 'in', value: 'in' },
          { key: 'not_in', value: 'not_in' },
          { key: 'numbers', value: 'numbers' },
          { key: 'strings', value: 'strings' },
          { key: 'regex', value: 'regex' },
          { key: 'semver', value: 'semver' },
          { key: 'time', value: 'time' },
          { key: 'negated', value: 'negated' },
          { key: 'fallthrough', value: 'fallthrough' },
        ],
        defaultVariant: 'fallthrough',
        rules: [
          { clauses: [{ attribute: 'country', op: 'in', values: ['SE', 'NO'] }], variant: 'in' },
          { clauses: [{ attribute: 'tier', op: 'not_in', values: ['free', 'trial'] }], variant: 'not_in' },
          {
            clauses: [
              { attribute: 'age', op: 'gte', values: [18] },
              { attribute: 'age', op: 'lt', values: [65] },
            ],
            variant: 'numbers',
          },
          {
            clauses: [
              { attribute: 'email', op: 'starts_with', values: ['qa+'] },
              { attribute: 'email', op: 'contains', values: ['@'] },
            ],
            variant: 'strings',
          },
          { clauses: [{ attribute: 'device', op: 'matches', values: ['^iPhone1[5-9]'] }], variant: 'regex' },
          { clauses: [{ attribute: 'appVersion', op: 'semver_gt', values: ['2.3.0'] }], variant: 'semver' },
          {
            clauses: [{ attribute: 'signupAt', op: 'after', values: ['2026-06-01T00:00:00Z'] }],
            variant: 'time',
          },
          { clauses: [{ attribute: 'beta', op: 'eq', values: [true], negate: true }], variant: 'negated' },
        ],
      },
    ],
    cases: [
      ['feature.rules', { country: 'SE' }],
      ['feature.rules', { country: 'DK', tier: 'pro' }],
      ['feature.rules', { tier: 'free', age: 30 }],
      ['feature.rules', { tier: 'free', age: 65 }],
      ['feature.rules', { tier: 'trial', email: 'qa+1@x.io' }],
      ['feature.rules', { tier: 'trial', email: 'qa+nobody' }],
      ['feature.rules', { tier: 'free', device: 'iPhone16,2' }],
      ['feature.rules', { tier: 'free', device: 'iPhone14,2' }],
      ['feature.rules', { tier: 'free', appVersion: '2.10.0' }],
      ['feature.rules', { tier: 'free', appVersion: '2.3.0-rc.1' }],
      ['feature.rules', { tier: 'free', signupAt: '2026-07-01T12:00:00+02:00' }],
      ['feature.rules', { tier: 'free', signupAt: 1767225600000 }],
      ['feature.rules', { tier: 'free', beta: false }],
      ['feature.rules', { tier: 'free', beta: true }],
      ['feature.rules', { tier: ['free', 'pro'] }, 'array attribute: not_in needs none of the elements'],
      ['feature.rules', { country: ['FI', 'NO'] }, 'array attribute: in needs any element'],
      ['feature.rules', {}],
    ],
  },
  {
    name: 'values: types, shorthand, fallbacks',
    flags: [
      { key: 'feature.limit', type: 'number', enabled: true, value: 25 },
      { key: 'feature.theme', type: 'string', enabled: false, variants: [{ key: 'dark', value: 'dark' }] },
      {
        key: 'feature.config',
        type: 'json',
        enabled: true,
        value: { retries: 3, hosts: ['a', 'b'], nested: { on: null } },
      },
      {
        key: 'feature.copy',
        type: 'string',
        enabled: true,
        variants: [
          { key: 'a', value: 'Hej' },
          { key: 'b', value: 'Hallo' },
        ],
        defaultVariant: 'b',
        offVariant: 'a',
        denyList: ['u-deny'],
      },
    ],
    cases: [
      ['feature.limit', {}],
      ['feature.theme', { userId: 'u' }, 'off without an off variant: caller fallback'],
      ['feature.config', { userId: 'u' }],
      ['feature.copy', { userId: 'u' }],
      ['feature.copy', { userId: 'u-deny' }],
    ],
  },
];
