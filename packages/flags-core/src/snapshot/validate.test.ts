import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Flag, Snapshot } from './types';
import { parseSnapshot, validateFlag } from './validate';

const CHECKSUM = 'sha256:' + 'ab'.repeat(32);

function snapshotWith(flags: unknown[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    schemaVersion: 1,
    environment: 'prod',
    revision: 7,
    checksum: CHECKSUM,
    generatedAt: '2026-11-25T15:00:00Z',
    flags,
    ...extra,
  };
}

const base = (): Record<string, unknown> => ({ key: 'feature.x', type: 'boolean', enabled: true });
const stringFlag = (): Record<string, unknown> => ({
  key: 'feature.s',
  type: 'string',
  enabled: true,
  variants: [
    { key: 'a', value: 'A' },
    { key: 'b', value: 'B' },
  ],
});
const experimentFlag = (): Record<string, unknown> => ({
  key: 'experiment.e',
  type: 'string',
  enabled: true,
  variants: [
    { key: 'control', value: 'c', weight: 50000 },
    { key: 'variant_a', value: 'a', weight: 50000 },
  ],
  experiment: { primaryMetric: { event: 'purchase', kind: 'conversion', direction: 'increase' } },
});
const canaryFlag = (): Record<string, unknown> => ({
  key: 'canary.c',
  type: 'boolean',
  enabled: true,
  stages: [
    { percent: 1, minDurationSec: 60 },
    { percent: 10, minDurationSec: 60 },
    { percent: 100, minDurationSec: 0 },
  ],
  canary: { stage: 1, status: 'progressing', stageStartedAt: '2026-11-25T15:00:00.000Z' },
});
const ruleFlag = (clause: Record<string, unknown>): Record<string, unknown> => ({
  ...base(),
  rules: [{ clauses: [clause], variant: 'on' }],
});

describe('parseSnapshot accepts valid snapshots', () => {
  it('accepts a snapshot with every kind of flag and returns it', () => {
    const json = snapshotWith([
      base(),
      stringFlag(),
      experimentFlag(),
      canaryFlag(),
      { key: 'feature.cfg', type: 'json', enabled: true, value: { a: [1, 'x', null] } },
      {
        ...base(),
        key: 'feature.all',
        description: 'everything',
        salt: 's',
        bucketBy: 'orgId',
        allowList: ['u1'],
        denyList: ['u2'],
        tags: ['t'],
        version: 3,
        guard: true,
        autoRollback: false,
        rolloutPercentage: 12.345,
        rules: [
          {
            id: 'r1',
            clauses: [
              { attribute: 'country', op: 'in', values: ['SE', 'NO'] },
              { attribute: 'age', op: 'gte', values: [18] },
              { attribute: 'email', op: 'matches', values: ['@example\\.com$'], negate: true },
              { attribute: 'app', op: 'semver_gt', values: ['1.2.3-beta.1'] },
              { attribute: 'signup', op: 'before', values: ['2026-01-01', 1767225600000] },
            ],
            variant: 'off',
            rolloutPercentage: 50,
          },
        ],
      },
    ]);
    const r = parseSnapshot(json);
    expect(r).toEqual({ ok: true, snapshot: json });
  });

  it('tolerates unknown properties (forward compatibility)', () => {
    const r = parseSnapshot(snapshotWith([{ ...base(), futureField: 1 }], { futureTop: true }));
    expect(r.ok).toBe(true);
  });

  it('accepts every operator with suitable values', () => {
    const values: Record<string, unknown[]> = {
      in: ['a', 1, true],
      not_in: ['a'],
      eq: [1],
      neq: [false],
      lt: [1],
      lte: [1.5],
      gt: [-1],
      gte: [0],
      starts_with: ['a'],
      ends_with: ['b'],
      contains: ['c'],
      matches: ['^x+$'],
      semver_eq: ['1.0.0'],
      semver_lt: ['v2.0.0-rc.1+build.5'],
      semver_gt: ['0.0.1'],
      before: ['2026-01-01T00:00:00+01:00'],
      after: [0],
    };
    for (const [op, vals] of Object.entries(values)) {
      const r = validateFlag(ruleFlag({ attribute: 'a', op, values: vals }));
      expect(r, op).toEqual({ ok: true, flag: expect.anything() });
    }
  });
});

type Case = [name: string, input: unknown, path: string, message: RegExp];

// Each case makes exactly one thing wrong and names the path that must be reported.
const snapshotCases: Case[] = [
  ['not an object', 42, '$', /snapshot must be an object, got number 42/],
  ['an array', [], '$', /an array/],
  ['null', null, '$', /null/],
  ['missing schemaVersion', { ...snapshotWith([]), schemaVersion: undefined }, 'schemaVersion', /required/],
  [
    'unknown schemaVersion',
    snapshotWith([], { schemaVersion: 2 }),
    'schemaVersion',
    /unknown schema version number 2/,
  ],
  ['missing environment', { ...snapshotWith([]), environment: undefined }, 'environment', /required/],
  ['empty environment', snapshotWith([], { environment: '' }), 'environment', /must not be empty/],
  ['environment not a string', snapshotWith([], { environment: 3 }), 'environment', /must be a string/],
  ['missing revision', { ...snapshotWith([]), revision: undefined }, 'revision', /required/],
  ['negative revision', snapshotWith([], { revision: -1 }), 'revision', /at least 0/],
  ['fractional revision', snapshotWith([], { revision: 1.5 }), 'revision', /integer/],
  ['revision not a number', snapshotWith([], { revision: '3' }), 'revision', /finite number/],
  ['missing checksum', { ...snapshotWith([]), checksum: undefined }, 'checksum', /required/],
  ['bad checksum', snapshotWith([], { checksum: 'md5:abc' }), 'checksum', /sha256/],
  ['missing generatedAt', { ...snapshotWith([]), generatedAt: undefined }, 'generatedAt', /required/],
  ['bad generatedAt', snapshotWith([], { generatedAt: 'yesterday' }), 'generatedAt', /ISO-8601/],
  ['zoneless generatedAt', snapshotWith([], { generatedAt: '2026-11-25T15:00:00' }), 'generatedAt', /zone/],
  ['negative cacheTtlSec', snapshotWith([], { cacheTtlSec: -5 }), 'cacheTtlSec', /at least 0/],
  ['zero metricsWindowMs', snapshotWith([], { metricsWindowMs: 0 }), 'metricsWindowMs', /greater than 0/],
  ['bad metricsFlushMs', snapshotWith([], { metricsFlushMs: 'x' }), 'metricsFlushMs', /finite number/],
  ['missing flags', { ...snapshotWith([]), flags: undefined }, 'flags', /required/],
  ['flags not an array', snapshotWith([], { flags: {} }), 'flags', /must be an array/],
  [
    'duplicate flag keys',
    snapshotWith([base(), base()]),
    'flags[1].key',
    /duplicate flag key "feature.x" \(first at flags\[0\]\)/,
  ],
  ['flag not an object', snapshotWith([base(), 'x']), 'flags[1]', /flag must be an object/],
];

const flagCases: Case[] = [
  ['missing key', { ...base(), key: undefined }, 'key', /required/],
  ['key without a prefix', { ...base(), key: 'checkout' }, 'key', /dotted segments/],
  ['key with spaces', { ...base(), key: 'feature.a b' }, 'key', /dotted segments/],
  ['key too long', { ...base(), key: 'feature.' + 'x'.repeat(200) }, 'key', /at most 200/],
  ['missing type', { ...base(), type: undefined }, 'type', /required/],
  ['unknown type', { ...base(), type: 'date' }, 'type', /must be one of boolean, string, number, json/],
  ['missing enabled', { ...base(), enabled: undefined }, 'enabled', /required/],
  ['enabled not boolean', { ...base(), enabled: 'yes' }, 'enabled', /must be a boolean/],
  ['description not a string', { ...base(), description: 1 }, 'description', /must be a string/],
  ['empty salt', { ...base(), salt: '' }, 'salt', /must not be empty/],
  ['bucketBy not a string', { ...base(), bucketBy: 5 }, 'bucketBy', /must be a string/],
  ['guard not boolean', { ...base(), guard: 1 }, 'guard', /boolean/],
  ['autoRollback not boolean', { ...base(), autoRollback: 'no' }, 'autoRollback', /boolean/],
  ['allowList not an array', { ...base(), allowList: 'u1' }, 'allowList', /array of strings/],
  ['allowList entry not a string', { ...base(), allowList: ['u1', 2] }, 'allowList[1]', /must be a string/],
  ['denyList entry not a string', { ...base(), denyList: [null] }, 'denyList[0]', /must be a string/],
  ['tags entry not a string', { ...base(), tags: [{}] }, 'tags[0]', /must be a string/],
  ['negative version', { ...base(), version: -1 }, 'version', /at least 0/],
  [
    'rollout above 100',
    { ...base(), rolloutPercentage: 100.5 },
    'rolloutPercentage',
    /percentage between 0 and 100/,
  ],
  ['rollout below 0', { ...base(), rolloutPercentage: -1 }, 'rolloutPercentage', /percentage/],
  ['rollout finer than 0.001', { ...base(), rolloutPercentage: 12.3456 }, 'rolloutPercentage', /3 decimals/],
  ['rollout not a number', { ...base(), rolloutPercentage: '50' }, 'rolloutPercentage', /percentage/],
  ['rollout NaN', { ...base(), rolloutPercentage: Number.NaN }, 'rolloutPercentage', /percentage/],
  ['coverage above 100', { ...experimentFlag(), coverage: 101 }, 'coverage', /percentage/],
  ['coverage without experiment', { ...base(), coverage: 50 }, 'coverage', /only to experiments/],
  ['variants not an array', { ...stringFlag(), variants: {} }, 'variants', /must be an array/],
  ['variants empty', { ...stringFlag(), variants: [] }, 'variants', /must not be empty/],
  [
    'too many variants',
    { ...stringFlag(), variants: Array.from({ length: 1001 }, (_, i) => ({ key: `v${i}`, value: 'x' })) },
    'variants',
    /at most 1000/,
  ],
  ['variant not an object', { ...stringFlag(), variants: ['a'] }, 'variants[0]', /must be an object/],
  ['variant without key', { ...stringFlag(), variants: [{ value: 'A' }] }, 'variants[0].key', /required/],
  [
    'duplicate variant keys',
    {
      ...stringFlag(),
      variants: [
        { key: 'a', value: 'A' },
        { key: 'a', value: 'B' },
      ],
    },
    'variants[1].key',
    /duplicate variant key "a"/,
  ],
  ['variant without value', { ...stringFlag(), variants: [{ key: 'a' }] }, 'variants[0].value', /required/],
  [
    'string flag with number value',
    { ...stringFlag(), variants: [{ key: 'a', value: 1 }] },
    'variants[0].value',
    /must be a string \(flag type string\)/,
  ],
  [
    'boolean flag with string value',
    { ...base(), variants: [{ key: 'on', value: 'true' }] },
    'variants[0].value',
    /must be a boolean/,
  ],
  [
    'number flag with Infinity',
    { key: 'feature.n', type: 'number', enabled: true, value: Number.POSITIVE_INFINITY },
    'value',
    /must be a number/,
  ],
  [
    'json flag with a function',
    { key: 'feature.j', type: 'json', enabled: true, value: { f: () => 1 } },
    'value',
    /JSON value/,
  ],
  [
    'json flag with a Date',
    { key: 'feature.j', type: 'json', enabled: true, variants: [{ key: 'a', value: new Date(0) }] },
    'variants[0].value',
    /JSON value/,
  ],
  [
    'variant description not a string',
    { ...stringFlag(), variants: [{ key: 'a', value: 'A', description: 2 }] },
    'variants[0].description',
    /string/,
  ],
  ['value and variants together', { ...stringFlag(), value: 'x' }, 'value', /cannot be combined/],
  [
    'string flag without variants',
    { key: 'feature.s', type: 'string', enabled: true },
    'variants',
    /required for string flags/,
  ],
  [
    'defaultVariant unknown',
    { ...stringFlag(), defaultVariant: 'z' },
    'defaultVariant',
    /unknown variant "z"; variants are a, b/,
  ],
  [
    'offVariant unknown',
    { ...base(), offVariant: 'disabled' },
    'offVariant',
    /unknown variant "disabled"; variants are on, off/,
  ],
  [
    'defaultVariant of a value shorthand',
    { key: 'feature.n', type: 'number', enabled: true, value: 3, defaultVariant: 'on' },
    'defaultVariant',
    /unknown variant/,
  ],
  ['offVariant empty', { ...base(), offVariant: '' }, 'offVariant', /must not be empty/],
  [
    'weight on some variants only',
    {
      ...experimentFlag(),
      variants: [
        { key: 'control', value: 'c', weight: 100000 },
        { key: 'b', value: 'b' },
      ],
    },
    'variants[1].weight',
    /required when any variant has a weight/,
  ],
  [
    'weights not summing to 100000',
    {
      ...experimentFlag(),
      variants: [
        { key: 'control', value: 'c', weight: 50 },
        { key: 'b', value: 'b', weight: 50 },
      ],
    },
    'variants',
    /sum to 100000, got 100/,
  ],
  [
    'fractional weight',
    {
      ...experimentFlag(),
      variants: [
        { key: 'control', value: 'c', weight: 50000.5 },
        { key: 'b', value: 'b', weight: 49999.5 },
      ],
    },
    'variants[0].weight',
    /integer/,
  ],
  [
    'negative weight',
    {
      ...experimentFlag(),
      variants: [
        { key: 'control', value: 'c', weight: -1 },
        { key: 'b', value: 'b', weight: 100001 },
      ],
    },
    'variants[0].weight',
    /at least 0/,
  ],
  ['rules not an array', { ...base(), rules: {} }, 'rules', /must be an array/],
  ['rule not an object', { ...base(), rules: [1] }, 'rules[0]', /must be an object/],
  ['rule without variant', { ...base(), rules: [{ clauses: [] }] }, 'rules[0].variant', /required/],
  [
    'rule with unknown variant',
    { ...base(), rules: [{ clauses: [], variant: 'maybe' }] },
    'rules[0].variant',
    /unknown variant "maybe"/,
  ],
  ['rule without clauses', { ...base(), rules: [{ variant: 'on' }] }, 'rules[0].clauses', /required/],
  [
    'rule clauses not an array',
    { ...base(), rules: [{ variant: 'on', clauses: 'x' }] },
    'rules[0].clauses',
    /must be an array/,
  ],
  [
    'rule rollout out of range',
    { ...base(), rules: [{ variant: 'on', clauses: [], rolloutPercentage: 200 }] },
    'rules[0].rolloutPercentage',
    /percentage/,
  ],
  [
    'rule id empty',
    { ...base(), rules: [{ id: '', variant: 'on', clauses: [] }] },
    'rules[0].id',
    /must not be empty/,
  ],
  [
    'clause not an object',
    ruleFlag(null as unknown as Record<string, unknown>),
    'rules[0].clauses[0]',
    /must be an object, got null/,
  ],
  [
    'clause without attribute',
    ruleFlag({ op: 'eq', values: [1] }),
    'rules[0].clauses[0].attribute',
    /required/,
  ],
  ['clause without op', ruleFlag({ attribute: 'a', values: [1] }), 'rules[0].clauses[0].op', /required/],
  [
    'unknown operator',
    ruleFlag({ attribute: 'a', op: 'like', values: ['x'] }),
    'rules[0].clauses[0].op',
    /unknown operator the string "like"/,
  ],
  ['clause without values', ruleFlag({ attribute: 'a', op: 'eq' }), 'rules[0].clauses[0].values', /required/],
  [
    'clause values not an array',
    ruleFlag({ attribute: 'a', op: 'eq', values: 'x' }),
    'rules[0].clauses[0].values',
    /must be an array/,
  ],
  [
    'clause values empty',
    ruleFlag({ attribute: 'a', op: 'in', values: [] }),
    'rules[0].clauses[0].values',
    /must not be empty/,
  ],
  [
    'clause value an object',
    ruleFlag({ attribute: 'a', op: 'eq', values: [{}] }),
    'rules[0].clauses[0].values[0]',
    /string, number or boolean/,
  ],
  [
    'clause negate not boolean',
    ruleFlag({ attribute: 'a', op: 'eq', values: [1], negate: 'yes' }),
    'rules[0].clauses[0].negate',
    /boolean/,
  ],
  [
    'lt with a string',
    ruleFlag({ attribute: 'a', op: 'lt', values: ['5'] }),
    'rules[0].clauses[0].values[0]',
    /lt needs numbers/,
  ],
  [
    'gte with a boolean',
    ruleFlag({ attribute: 'a', op: 'gte', values: [true] }),
    'rules[0].clauses[0].values[0]',
    /gte needs numbers/,
  ],
  [
    'starts_with with a number',
    ruleFlag({ attribute: 'a', op: 'starts_with', values: [1] }),
    'rules[0].clauses[0].values[0]',
    /needs strings/,
  ],
  [
    'contains with a boolean',
    ruleFlag({ attribute: 'a', op: 'contains', values: [true] }),
    'rules[0].clauses[0].values[0]',
    /needs strings/,
  ],
  [
    'matches with a bad regex',
    ruleFlag({ attribute: 'a', op: 'matches', values: ['ok', '(unclosed'] }),
    'rules[0].clauses[0].values[1]',
    /invalid regular expression/,
  ],
  [
    'matches with a number',
    ruleFlag({ attribute: 'a', op: 'matches', values: [1] }),
    'rules[0].clauses[0].values[0]',
    /regular expressions as strings/,
  ],
  [
    'matches with a huge pattern',
    ruleFlag({ attribute: 'a', op: 'matches', values: ['a'.repeat(1001)] }),
    'rules[0].clauses[0].values[0]',
    /longer than 1000/,
  ],
  [
    'semver_eq with a bad version',
    ruleFlag({ attribute: 'v', op: 'semver_eq', values: ['1.2'] }),
    'rules[0].clauses[0].values[0]',
    /semantic versions/,
  ],
  [
    'semver_lt with leading zeros',
    ruleFlag({ attribute: 'v', op: 'semver_lt', values: ['01.2.3'] }),
    'rules[0].clauses[0].values[0]',
    /semantic versions/,
  ],
  [
    'semver_gt with a number',
    ruleFlag({ attribute: 'v', op: 'semver_gt', values: [1] }),
    'rules[0].clauses[0].values[0]',
    /semantic versions/,
  ],
  [
    'before with a bad date',
    ruleFlag({ attribute: 't', op: 'before', values: ['next week'] }),
    'rules[0].clauses[0].values[0]',
    /ISO-8601/,
  ],
  [
    'after with a zoneless time',
    ruleFlag({ attribute: 't', op: 'after', values: ['2026-01-01T10:00'] }),
    'rules[0].clauses[0].values[0]',
    /ISO-8601/,
  ],
  [
    'after with an impossible date',
    ruleFlag({ attribute: 't', op: 'after', values: ['2026-13-45'] }),
    'rules[0].clauses[0].values[0]',
    /ISO-8601/,
  ],
  ['stages not an array', { ...canaryFlag(), stages: 5, canary: undefined }, 'stages', /must be an array/],
  ['stages empty', { ...canaryFlag(), stages: [], canary: undefined }, 'stages', /must not be empty/],
  [
    'stage not an object',
    { ...canaryFlag(), stages: [1], canary: undefined },
    'stages[0]',
    /must be an object/,
  ],
  [
    'stage without percent',
    { ...canaryFlag(), stages: [{ minDurationSec: 1 }], canary: undefined },
    'stages[0].percent',
    /required/,
  ],
  [
    'stage percent zero',
    { ...canaryFlag(), stages: [{ percent: 0, minDurationSec: 1 }], canary: undefined },
    'stages[0].percent',
    /greater than 0/,
  ],
  [
    'stage percent above 100',
    { ...canaryFlag(), stages: [{ percent: 120, minDurationSec: 1 }], canary: undefined },
    'stages[0].percent',
    /percentage/,
  ],
  [
    'stages not increasing',
    {
      ...canaryFlag(),
      stages: [
        { percent: 10, minDurationSec: 1 },
        { percent: 10, minDurationSec: 1 },
      ],
      canary: undefined,
    },
    'stages[1].percent',
    /greater than the previous stage's 10/,
  ],
  [
    'stages decreasing',
    {
      ...canaryFlag(),
      stages: [
        { percent: 50, minDurationSec: 1 },
        { percent: 25, minDurationSec: 1 },
      ],
      canary: undefined,
    },
    'stages[1].percent',
    /stages increase/,
  ],
  [
    'stage without minDurationSec',
    { ...canaryFlag(), stages: [{ percent: 5 }], canary: undefined },
    'stages[0].minDurationSec',
    /required/,
  ],
  [
    'stage negative minDurationSec',
    { ...canaryFlag(), stages: [{ percent: 5, minDurationSec: -1 }], canary: undefined },
    'stages[0].minDurationSec',
    /at least 0/,
  ],
  [
    'canary without stages',
    { ...base(), canary: { stage: 0, status: 'progressing', stageStartedAt: null } },
    'canary',
    /needs stages/,
  ],
  ['canary not an object', { ...canaryFlag(), canary: 'go' }, 'canary', /must be an object/],
  [
    'canary stage missing',
    { ...canaryFlag(), canary: { status: 'paused', stageStartedAt: null } },
    'canary.stage',
    /required/,
  ],
  [
    'canary stage out of range',
    { ...canaryFlag(), canary: { stage: 3, status: 'paused', stageStartedAt: null } },
    'canary.stage',
    /must index stages \(0–2\), got 3/,
  ],
  [
    'canary stage fractional',
    { ...canaryFlag(), canary: { stage: 0.5, status: 'paused', stageStartedAt: null } },
    'canary.stage',
    /integer/,
  ],
  [
    'canary status missing',
    { ...canaryFlag(), canary: { stage: 0, stageStartedAt: null } },
    'canary.status',
    /required/,
  ],
  [
    'canary status unknown',
    { ...canaryFlag(), canary: { stage: 0, status: 'done', stageStartedAt: null } },
    'canary.status',
    /progressing, paused, completed, rolled_back/,
  ],
  [
    'canary stageStartedAt missing',
    { ...canaryFlag(), canary: { stage: 0, status: 'paused' } },
    'canary.stageStartedAt',
    /required/,
  ],
  [
    'canary stageStartedAt bad',
    { ...canaryFlag(), canary: { stage: 0, status: 'paused', stageStartedAt: 'now' } },
    'canary.stageStartedAt',
    /ISO-8601/,
  ],
  [
    'canary runId empty',
    { ...canaryFlag(), canary: { stage: 0, status: 'paused', stageStartedAt: null, runId: '' } },
    'canary.runId',
    /must not be empty/,
  ],
  ['policy not an object', { ...canaryFlag(), policy: [] }, 'policy', /must be an object/],
  ['policy alpha out of range', { ...canaryFlag(), policy: { alpha: 1.5 } }, 'policy.alpha', /at most 1/],
  ['policy alpha zero', { ...canaryFlag(), policy: { alpha: 0 } }, 'policy.alpha', /greater than 0/],
  [
    'policy sampleRatioSigmas negative',
    { ...canaryFlag(), policy: { sampleRatioSigmas: -1 } },
    'policy.sampleRatioSigmas',
    /at least 0/,
  ],
  [
    'policy consecutiveWindows zero',
    { ...canaryFlag(), policy: { consecutiveWindows: 0 } },
    'policy.consecutiveWindows',
    /at least 1/,
  ],
  [
    'policy errorRateThreshold above 100',
    { ...canaryFlag(), policy: { errorRateThreshold: 150 } },
    'policy.errorRateThreshold',
    /at most 100/,
  ],
  [
    'policy gauges not an object',
    { ...canaryFlag(), policy: { gauges: 1 } },
    'policy.gauges',
    /must be an object/,
  ],
  [
    'policy gauge negative',
    { ...canaryFlag(), policy: { gauges: { cpuPercent: -1 } } },
    'policy.gauges.cpuPercent',
    /at least 0/,
  ],
  ['experiment not an object', { ...experimentFlag(), experiment: 'ab' }, 'experiment', /must be an object/],
  [
    'experiment without primaryMetric',
    { ...experimentFlag(), experiment: {} },
    'experiment.primaryMetric',
    /required/,
  ],
  [
    'primaryMetric not an object',
    { ...experimentFlag(), experiment: { primaryMetric: 1 } },
    'experiment.primaryMetric',
    /must be an object/,
  ],
  [
    'metric without event',
    { ...experimentFlag(), experiment: { primaryMetric: { kind: 'mean', direction: 'increase' } } },
    'experiment.primaryMetric.event',
    /required/,
  ],
  [
    'metric unknown kind',
    {
      ...experimentFlag(),
      experiment: { primaryMetric: { event: 'e', kind: 'median', direction: 'increase' } },
    },
    'experiment.primaryMetric.kind',
    /conversion, mean, count/,
  ],
  [
    'metric kind missing',
    { ...experimentFlag(), experiment: { primaryMetric: { event: 'e', direction: 'increase' } } },
    'experiment.primaryMetric.kind',
    /required/,
  ],
  [
    'metric direction missing',
    { ...experimentFlag(), experiment: { primaryMetric: { event: 'e', kind: 'mean' } } },
    'experiment.primaryMetric.direction',
    /required/,
  ],
  [
    'metric direction unknown',
    { ...experimentFlag(), experiment: { primaryMetric: { event: 'e', kind: 'mean', direction: 'up' } } },
    'experiment.primaryMetric.direction',
    /increase or decrease/,
  ],
  [
    'secondaryMetrics not an array',
    { ...experimentFlag(), experiment: { ...(experimentFlag().experiment as object), secondaryMetrics: {} } },
    'experiment.secondaryMetrics',
    /must be an array/,
  ],
  [
    'secondary metric bad',
    {
      ...experimentFlag(),
      experiment: {
        ...(experimentFlag().experiment as object),
        secondaryMetrics: [{ event: '', kind: 'mean', direction: 'increase' }],
      },
    },
    'experiment.secondaryMetrics[0].event',
    /must not be empty/,
  ],
  [
    'experiment alpha above 1',
    { ...experimentFlag(), experiment: { ...(experimentFlag().experiment as object), alpha: 2 } },
    'experiment.alpha',
    /at most 1/,
  ],
  [
    'experiment power zero',
    { ...experimentFlag(), experiment: { ...(experimentFlag().experiment as object), power: 0 } },
    'experiment.power',
    /greater than 0/,
  ],
  [
    'experiment mde zero',
    {
      ...experimentFlag(),
      experiment: { ...(experimentFlag().experiment as object), minimumDetectableEffect: 0 },
    },
    'experiment.minimumDetectableEffect',
    /greater than 0/,
  ],
  [
    'experiment minUnitsPerVariant fractional',
    {
      ...experimentFlag(),
      experiment: { ...(experimentFlag().experiment as object), minUnitsPerVariant: 1.5 },
    },
    'experiment.minUnitsPerVariant',
    /integer/,
  ],
  [
    'experiment minDurationSec negative',
    { ...experimentFlag(), experiment: { ...(experimentFlag().experiment as object), minDurationSec: -1 } },
    'experiment.minDurationSec',
    /at least 0/,
  ],
  [
    'experiment unknown controlVariant',
    {
      ...experimentFlag(),
      experiment: { ...(experimentFlag().experiment as object), controlVariant: 'base' },
    },
    'experiment.controlVariant',
    /unknown variant "base"/,
  ],
  [
    'experiment unknown concludedVariant',
    {
      ...experimentFlag(),
      experiment: { ...(experimentFlag().experiment as object), concludedVariant: 'zz' },
    },
    'experiment.concludedVariant',
    /unknown variant "zz"/,
  ],
  [
    'experiment status unknown',
    { ...experimentFlag(), experiment: { ...(experimentFlag().experiment as object), status: 'paused' } },
    'experiment.status',
    /running or concluded/,
  ],
  [
    'experiment startedAt bad',
    { ...experimentFlag(), experiment: { ...(experimentFlag().experiment as object), startedAt: 5 } },
    'experiment.startedAt',
    /ISO-8601/,
  ],
  [
    'experiment hypothesis not a string',
    { ...experimentFlag(), experiment: { ...(experimentFlag().experiment as object), hypothesis: 5 } },
    'experiment.hypothesis',
    /string/,
  ],
  [
    'rollout and canary together',
    { ...canaryFlag(), rolloutPercentage: 50 },
    '$',
    /at most one of rollout, canary, experiment; this one is rollout \(rolloutPercentage\) and canary \(stages\)/,
  ],
  [
    'rollout and experiment together',
    { ...experimentFlag(), rolloutPercentage: 50 },
    '$',
    /rollout \(rolloutPercentage\) and experiment/,
  ],
  [
    'canary and experiment together',
    { ...experimentFlag(), stages: [{ percent: 5, minDurationSec: 0 }] },
    '$',
    /canary \(stages\) and experiment/,
  ],
];

describe('validateFlag reports each error at its path', () => {
  it.each(flagCases)('%s', (_name, input, path, message) => {
    const r = validateFlag(input);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const hit = r.errors.find((e) => e.path === path);
    expect(hit, JSON.stringify(r.errors)).toBeDefined();
    expect(hit!.message).toMatch(message);
  });

  it.each(flagCases)('%s (inside a snapshot, path prefixed)', (_name, input, path, message) => {
    const r = parseSnapshot(snapshotWith([base(), input]));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const full = path === '$' ? 'flags[1]' : `flags[1].${path}`;
    const hit = r.errors.find((e) => e.path === full);
    expect(hit, JSON.stringify(r.errors)).toBeDefined();
    expect(hit!.message).toMatch(message);
  });

  it('reports a non-object flag at its own path', () => {
    expect(validateFlag('x')).toEqual({
      ok: false,
      errors: [{ path: '$', message: 'flag must be an object, got the string "x"' }],
    });
    expect(validateFlag(7, 'body')).toEqual({
      ok: false,
      errors: [{ path: 'body', message: 'flag must be an object, got number 7' }],
    });
  });

  it('rejects unknown properties in strict mode only', () => {
    const flag = {
      ...base(),
      extra: 1,
      variants: [
        { key: 'on', value: true, colour: 'red' },
        { key: 'off', value: false },
      ],
      rules: [{ clauses: [{ attribute: 'a', op: 'eq', values: [1], weird: true }], variant: 'on', x: 1 }],
      stages: [{ percent: 10, minDurationSec: 0, y: 1 }],
      canary: { stage: 0, status: 'paused', stageStartedAt: null, z: 2 },
    };
    expect(validateFlag(flag).ok).toBe(true);
    const r = validateFlag(flag, 'body', { strict: true });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors.map((e) => e.path).sort()).toEqual(
      [
        'body.extra',
        'body.variants[0].colour',
        'body.rules[0].x',
        'body.rules[0].clauses[0].weird',
        'body.stages[0].y',
        'body.canary.z',
      ].sort(),
    );
    for (const e of r.errors) expect(e.message).toBe('is not a known property');
  });
});

describe('parseSnapshot reports each snapshot-level error', () => {
  it.each(snapshotCases)('%s', (_name, input, path, message) => {
    const r = parseSnapshot(input);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const hit = r.errors.find((e) => e.path === path);
    expect(hit, JSON.stringify(r.errors)).toBeDefined();
    expect(hit!.message).toMatch(message);
  });

  it('reports every error, not only the first', () => {
    const r = parseSnapshot(
      snapshotWith([{ ...base(), rolloutPercentage: 101, offVariant: 'nope' }], { revision: -2 }),
    );
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors.map((e) => e.path)).toEqual([
      'revision',
      'flags[0].rolloutPercentage',
      'flags[0].offVariant',
    ]);
  });

  it('never throws, whatever it is given', () => {
    const hostile = new Proxy(
      {},
      {
        get() {
          throw new Error('boom');
        },
        ownKeys() {
          throw new Error('boom');
        },
      },
    );
    expect(parseSnapshot(hostile)).toEqual({
      ok: false,
      errors: [{ path: '$', message: 'unreadable snapshot: boom' }],
    });
    fc.assert(
      fc.property(fc.anything(), (x) => {
        const r = parseSnapshot(x);
        return r.ok === false && r.errors.length > 0;
      }),
    );
    fc.assert(
      fc.property(fc.array(fc.anything(), { maxLength: 3 }), (flags) => {
        const r = parseSnapshot(snapshotWith(flags));
        return typeof r.ok === 'boolean';
      }),
    );
  });

  it('is typed as a Snapshot when ok', () => {
    const r = parseSnapshot(snapshotWith([base()]));
    if (!r.ok) throw new Error('expected ok');
    const s: Snapshot = r.snapshot;
    const f: Flag | undefined = s.flags[0];
    expect(f?.key).toBe('feature.x');
  });
});
