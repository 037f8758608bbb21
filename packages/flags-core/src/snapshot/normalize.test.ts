import { describe, expect, it } from 'vitest';
import { normalizeFlag } from './normalize';
import type { Flag } from './types';

describe('normalizeFlag', () => {
  it('fills in boolean variants, default/off variants, salt and bucketBy', () => {
    const flag: Flag = { key: 'feature.a', type: 'boolean', enabled: true };
    expect(normalizeFlag(flag)).toEqual({
      key: 'feature.a',
      type: 'boolean',
      enabled: true,
      variants: [
        { key: 'on', value: true },
        { key: 'off', value: false },
      ],
      defaultVariant: 'on',
      offVariant: 'off',
      salt: 'feature.a',
      bucketBy: 'userId',
    });
    expect(flag).toEqual({ key: 'feature.a', type: 'boolean', enabled: true });
  });

  it('turns a value shorthand into the single variant "default" with no off variant', () => {
    expect(normalizeFlag({ key: 'feature.limit', type: 'number', enabled: true, value: 10 })).toEqual({
      key: 'feature.limit',
      type: 'number',
      enabled: true,
      variants: [{ key: 'default', value: 10 }],
      defaultVariant: 'default',
      salt: 'feature.limit',
      bucketBy: 'userId',
    });
  });

  it('keeps explicit settings and picks boolean variants by value', () => {
    const n = normalizeFlag({
      key: 'feature.b',
      type: 'boolean',
      enabled: true,
      salt: 's',
      bucketBy: 'orgId',
      variants: [
        { key: 'no', value: false },
        { key: 'yes', value: true },
      ],
    });
    expect([n.defaultVariant, n.offVariant, n.salt, n.bucketBy]).toEqual(['yes', 'no', 's', 'orgId']);
  });

  it('defaults experiments to the control variant and full coverage', () => {
    const variants = [
      { key: 'variant_a', value: 'a', weight: 50000 },
      { key: 'control', value: 'c', weight: 50000 },
    ];
    const n = normalizeFlag({ key: 'experiment.x', type: 'string', enabled: true, variants });
    expect([n.defaultVariant, n.offVariant, n.coverage]).toEqual(['control', undefined, 100]);
    const m = normalizeFlag({
      key: 'experiment.y',
      type: 'string',
      enabled: true,
      variants,
      coverage: 20,
      experiment: {
        primaryMetric: { event: 'e', kind: 'mean', direction: 'increase' },
        controlVariant: 'variant_a',
      },
    });
    expect([m.defaultVariant, m.coverage]).toEqual(['variant_a', 20]);
  });

  it('uses the first variant of non-boolean flags and gives canaries a starting state', () => {
    const n = normalizeFlag({
      key: 'canary.s',
      type: 'string',
      enabled: true,
      variants: [
        { key: 'new', value: 'n' },
        { key: 'old', value: 'o' },
      ],
      offVariant: 'old',
      stages: [{ percent: 10, minDurationSec: 0 }],
    });
    expect([n.defaultVariant, n.offVariant]).toEqual(['new', 'old']);
    expect(n.canary).toEqual({ stage: 0, status: 'progressing', stageStartedAt: null });
  });
});
