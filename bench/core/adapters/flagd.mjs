// @openfeature/flagd-core: flagd's in-process evaluator, flags in flagd's JSON format, `fractional`
// bucketing on the targeting key (flagd's idiom: hash of flag key + targeting key).
import { FlagdCore } from '@openfeature/flagd-core';

export const label = '@openfeature/flagd-core';

const bool = (targeting, defaultVariant = 'off') => ({
  state: 'ENABLED',
  variants: { on: true, off: false },
  defaultVariant,
  ...(targeting ? { targeting } : {}),
});

function flagsFor(scenario, { allow, s5 }) {
  switch (scenario.id) {
    case 'S1':
      return { [scenario.key]: bool(null, 'on') };
    case 'S2':
      return {
        [scenario.key]: bool({
          fractional: [
            ['on', 25],
            ['off', 75],
          ],
        }),
      };
    case 'S3':
      return {
        [scenario.key]: bool({
          if: [
            { in: [{ var: 'targetingKey' }, allow] },
            'on',
            {
              fractional: [
                ['on', 10],
                ['off', 90],
              ],
            },
          ],
        }),
      };
    case 'S4':
      return {
        [scenario.key]: {
          state: 'ENABLED',
          variants: { control: 'control', variant_a: 'variant_a' },
          defaultVariant: 'control',
          targeting: {
            fractional: [
              ['control', 50],
              ['variant_a', 50],
            ],
          },
        },
      };
    case 'S5':
    case 'S5m': {
      const flags = {};
      for (const f of s5) {
        flags[f.key] =
          f.kind === 'on'
            ? bool(null, 'on')
            : f.kind === 'off'
              ? { ...bool(null, 'off'), state: 'DISABLED' }
              : bool({
                  fractional: [
                    ['on', f.percent],
                    ['off', 100 - f.percent],
                  ],
                });
      }
      return flags;
    }
    default:
      throw new Error(`unknown scenario ${scenario.id}`);
  }
}

export async function create(scenario, inputs) {
  const core = new FlagdCore();
  core.setConfigurations(JSON.stringify({ flags: flagsFor(scenario, inputs) }));
  return {
    toContext: (targetingKey) => ({ targetingKey }),
    isEnabled: (key, ctx) => core.resolveBooleanEvaluation(key, false, ctx).value,
    variant: (key, ctx) => core.resolveStringEvaluation(key, 'control', ctx).value,
    close() {},
  };
}
