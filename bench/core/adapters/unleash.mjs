// unleash-client: bootstrapped from an in-memory payload, no polling (refreshInterval 0), no metrics.
import { InMemStorageProvider, Unleash } from 'unleash-client';

export const label = 'unleash-client';

const rollout = (name, percent) => ({
  name: 'flexibleRollout',
  parameters: { rollout: String(percent), stickiness: 'userId', groupId: name },
  constraints: [],
});

function featuresFor(scenario, { allow, s5 }) {
  const feature = (name, strategies, extra = {}) => ({
    name,
    enabled: true,
    strategies,
    variants: [],
    ...extra,
  });
  switch (scenario.id) {
    case 'S1':
      return [feature(scenario.key, [{ name: 'default', parameters: {}, constraints: [] }])];
    case 'S2':
      return [feature(scenario.key, [rollout(scenario.key, 25)])];
    case 'S3':
      return [
        feature(scenario.key, [
          { name: 'userWithId', parameters: { userIds: allow.join(',') }, constraints: [] },
          rollout(scenario.key, 10),
        ]),
      ];
    case 'S4':
      return [
        feature(scenario.key, [rollout(scenario.key, 100)], {
          variants: ['control', 'variant_a'].map((name) => ({
            name,
            weight: 500,
            weightType: 'variable',
            stickiness: 'userId',
            payload: { type: 'string', value: name },
          })),
        }),
      ];
    case 'S5':
    case 'S5m':
      return s5.map((f) =>
        f.kind === 'on'
          ? feature(f.key, [{ name: 'default', parameters: {}, constraints: [] }])
          : f.kind === 'off'
            ? feature(f.key, [{ name: 'default', parameters: {}, constraints: [] }], { enabled: false })
            : feature(f.key, [rollout(f.key, f.percent)]),
      );
    default:
      throw new Error(`unknown scenario ${scenario.id}`);
  }
}

export async function create(scenario, inputs) {
  const client = new Unleash({
    appName: 'rupaya-bench',
    url: 'http://127.0.0.1:9/api/',
    refreshInterval: 0,
    disableMetrics: true,
    skipInstanceCountWarning: true,
    storageProvider: new InMemStorageProvider(),
    bootstrap: { data: featuresFor(scenario, inputs) },
  });
  client.on('error', () => {});
  client.on('warn', () => {});
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('unleash-client never became ready')), 10_000);
    client.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  return {
    toContext: (userId) => ({ userId }),
    isEnabled: (key, ctx) => client.isEnabled(key, ctx, false),
    variant: (key, ctx) => client.getVariant(key, ctx).name,
    close: () => client.destroy(),
  };
}
