import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  buildFlagsFile,
  diffEnvironment,
  type FlagsFile,
  parseFlagsFile,
  renderDiff,
  resolveEnvironment,
  serializeFlagsFile,
} from '../src/flags-file';

const root = resolve(import.meta.dirname, '../../..');
const defaultsPath = join(root, 'config/feature-flags.json');

describe('config/feature-flags.json (the default flags seed reads)', () => {
  const parsed = parseFlagsFile(readFileSync(defaultsPath, 'utf8'), defaultsPath);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
  const file = parsed.file;
  const flag = (env: string, key: string) => resolveEnvironment(file, env).find((f) => f.key === key)!;

  it('has the 9 default flags in dev, staging and prod', () => {
    expect(file.environments).toEqual(['dev', 'staging', 'prod']);
    expect(file.flags.map((f) => f.key)).toEqual([
      'feature.new-dashboard',
      'feature.advanced-analytics',
      'feature.ai-budgeting',
      'feature.offline-sync',
      'canary.new-payment-processor',
      'canary.new-notification-service',
      'experiment.new-onboarding-flow',
      'experiment.checkout-redesign',
      'rollback.error-rate-threshold',
    ]);
  });

  it.each([
    ['feature.new-dashboard', [100, 50, 0]],
    ['feature.advanced-analytics', [100, 25, 0]],
    ['feature.ai-budgeting', [100, 0, 0]],
    ['feature.offline-sync', [100, 0, 0]],
  ])('%s rolls out %o in dev/staging/prod', (key, percents) => {
    expect(['dev', 'staging', 'prod'].map((env) => flag(env, key).rolloutPercentage)).toEqual(percents);
  });

  it('seeds canaries paused at their first stage', () => {
    const pay = flag('prod', 'canary.new-payment-processor');
    expect(pay.stages!.map((s) => s.percent)).toEqual([1, 10, 25, 50, 100]);
    expect(pay.stages!.slice(0, 4).map((s) => s.minDurationSec / 60)).toEqual([30, 30, 60, 60]);
    expect(pay.canary).toMatchObject({ stage: 0, status: 'paused' });
    expect(flag('dev', 'canary.new-notification-service').stages!.map((s) => s.percent)).toEqual([
      5, 25, 100,
    ]);
  });

  it('splits experiments 50/50 between control and variant_a', () => {
    for (const key of ['experiment.new-onboarding-flow', 'experiment.checkout-redesign']) {
      expect(flag('staging', key).variants!.map((v) => [v.key, v.weight])).toEqual([
        ['control', 50000],
        ['variant_a', 50000],
      ]);
    }
  });

  it('sets the rollback threshold config to 5', () => {
    expect(flag('prod', 'rollback.error-rate-threshold')).toMatchObject({ type: 'number', value: 5 });
  });
});

describe('flags files', () => {
  const file: FlagsFile = {
    version: 1,
    environments: ['dev', 'prod'],
    flags: [
      {
        key: 'feature.a',
        type: 'boolean',
        enabled: true,
        description: 'A',
        environments: { dev: { rolloutPercentage: 100 }, prod: { rolloutPercentage: 10 } },
      },
      { key: 'feature.b', type: 'boolean', enabled: false },
    ],
  };

  it('resolves an environment: the base overlaid with the environment', () => {
    expect(resolveEnvironment(file, 'prod')).toEqual([
      { key: 'feature.a', type: 'boolean', enabled: true, description: 'A', rolloutPercentage: 10 },
      { key: 'feature.b', type: 'boolean', enabled: false },
    ]);
  });

  it('round-trips through JSON and YAML', () => {
    for (const path of ['flags.json', 'flags.yaml', 'flags.yml']) {
      const text = serializeFlagsFile(file, path);
      if (path.endsWith('.json')) expect(() => JSON.parse(text)).not.toThrow();
      else expect(text).toContain('- key: feature.a');
      const back = parseFlagsFile(text, path);
      expect(back).toEqual({ ok: true, file });
    }
  });

  it('reports every problem with its path', () => {
    const bad = {
      version: 2,
      environments: ['dev'],
      flags: [
        { key: 'feature.a', type: 'boolean', colour: 'red' },
        { key: 'feature.a', type: 'boolean', environments: { qa: {}, dev: { nope: 1 } } },
        { type: 'boolean' },
      ],
    };
    const r = parseFlagsFile(JSON.stringify(bad), 'f.json');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems.map((p) => p.path)).toEqual([
      'version',
      'flags[0].colour',
      'flags[1].key',
      'flags[1].environments.qa',
      'flags[1].environments.dev.nope',
      'flags[2].key',
    ]);
    expect(parseFlagsFile('{', 'f.json')).toMatchObject({ ok: false, problems: [{ path: '' }] });
    expect(parseFlagsFile('a: [', 'f.yaml')).toMatchObject({ ok: false, problems: [{ path: '' }] });
  });

  it('diffs: create, update of changed fields only, unchanged; canary state never overwritten', () => {
    const current = [
      {
        key: 'feature.a',
        type: 'boolean',
        enabled: true,
        description: 'A',
        rolloutPercentage: 50,
        salt: 'feature.a',
        version: 3,
      },
      {
        key: 'canary.c',
        type: 'boolean',
        enabled: true,
        stages: [{ percent: 1, minDurationSec: 60 }],
        canary: { stage: 0, status: 'progressing', stageStartedAt: '2026-01-01T00:00:00Z' },
      },
    ];
    const desired = [
      { key: 'feature.a', type: 'boolean' as const, enabled: true, description: 'A', rolloutPercentage: 10 },
      {
        key: 'canary.c',
        type: 'boolean' as const,
        enabled: true,
        stages: [{ percent: 1, minDurationSec: 60 }],
        canary: { stage: 0, status: 'paused' as const, stageStartedAt: null },
      },
      { key: 'feature.new', type: 'boolean' as const, enabled: true },
    ];
    const changes = diffEnvironment('prod', desired, current);
    expect(changes).toEqual([
      {
        environment: 'prod',
        key: 'feature.a',
        action: 'update',
        changes: [{ field: 'rolloutPercentage', from: 50, to: 10 }],
      },
      { environment: 'prod', key: 'canary.c', action: 'unchanged', changes: [] },
      {
        environment: 'prod',
        key: 'feature.new',
        action: 'create',
        changes: [
          { field: 'type', from: undefined, to: 'boolean' },
          { field: 'enabled', from: undefined, to: true },
        ],
      },
    ]);
    expect(renderDiff(changes)).toBe(
      '~ [prod] feature.a\n    rolloutPercentage: 50 -> 10\n+ [prod] feature.new (new)\n1 to create, 1 to update, 1 unchanged\n',
    );
  });

  it('builds a file from the API: shared values in the base, differing ones per environment, defaults dropped', () => {
    const boolDefaults = {
      variants: [
        { key: 'on', value: true },
        { key: 'off', value: false },
      ],
      defaultVariant: 'on',
      offVariant: 'off',
      bucketBy: 'userId',
    };
    const built = buildFlagsFile({
      dev: [
        {
          key: 'feature.a',
          type: 'boolean',
          enabled: true,
          rolloutPercentage: 100,
          salt: 'feature.a',
          version: 7,
          ...boolDefaults,
        },
      ],
      prod: [
        {
          key: 'feature.a',
          type: 'boolean',
          enabled: true,
          rolloutPercentage: 5,
          salt: 'feature.a',
          version: 2,
          ...boolDefaults,
        },
        { key: 'feature.only-prod', type: 'boolean', enabled: false, salt: 'feature.only-prod' },
      ],
    });
    expect(built).toEqual({
      version: 1,
      environments: ['dev', 'prod'],
      flags: [
        {
          key: 'feature.a',
          type: 'boolean',
          enabled: true,
          environments: { dev: { rolloutPercentage: 100 }, prod: { rolloutPercentage: 5 } },
        },
        { key: 'feature.only-prod', type: 'boolean', enabled: false },
      ],
    });
    // Re-resolving the built file gives each environment's values back.
    expect(resolveEnvironment(built, 'prod')[0]).toMatchObject({ rolloutPercentage: 5, enabled: true });
  });
});
