// @launchdarkly/node-server-sdk with TestData (offline), flags in LaunchDarkly's own flag format.
// Its evaluation API is asynchronous (a Promise per call); the bench awaits each call in turn.
import { basicLogger, init, integrations } from '@launchdarkly/node-server-sdk';

export const label = 'LaunchDarkly node-server-sdk';

function flagsFor(scenario, { allow, s5 }) {
  const base = (key, extra) => ({
    key,
    version: 1,
    on: true,
    salt: key,
    variations: [true, false],
    offVariation: 1,
    fallthrough: { variation: 0 },
    targets: [],
    rules: [],
    prerequisites: [],
    ...extra,
  });
  const split = (percent) => ({
    rollout: {
      variations: [
        { variation: 0, weight: percent * 1000 },
        { variation: 1, weight: (100 - percent) * 1000 },
      ],
    },
  });
  switch (scenario.id) {
    case 'S1':
      return [base(scenario.key)];
    case 'S2':
      return [base(scenario.key, { fallthrough: split(25) })];
    case 'S3':
      return [base(scenario.key, { targets: [{ values: allow, variation: 0 }], fallthrough: split(10) })];
    case 'S4':
      return [
        base(scenario.key, { variations: ['control', 'variant_a'], offVariation: 0, fallthrough: split(50) }),
      ];
    case 'S5':
    case 'S5m':
      return s5.map((f) =>
        f.kind === 'on'
          ? base(f.key)
          : f.kind === 'off'
            ? base(f.key, { on: false })
            : base(f.key, { fallthrough: split(f.percent) }),
      );
    default:
      throw new Error(`unknown scenario ${scenario.id}`);
  }
}

export async function create(scenario, inputs) {
  const td = new integrations.TestData();
  for (const flag of flagsFor(scenario, inputs)) await td.usePreconfiguredFlag(flag);
  const client = init('sdk-bench-offline', {
    updateProcessor: td.getFactory(),
    sendEvents: false,
    diagnosticOptOut: true,
    logger: basicLogger({ level: 'error' }),
  });
  await client.waitForInitialization({ timeout: 10 });
  return {
    async: true,
    toContext: (key) => ({ kind: 'user', key }),
    isEnabled: (key, ctx) => client.variation(key, ctx, false),
    variant: (key, ctx) => client.variation(key, ctx, 'control'),
    close: () => client.close(),
  };
}
