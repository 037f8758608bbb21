// @growthbook/growthbook's GrowthBookClient (the multi-user server client), payload set in process.
import { GrowthBookClient } from '@growthbook/growthbook';

export const label = 'GrowthBookClient';

function featuresFor(scenario, { allow, s5 }) {
  const rollout = (percent) => ({ defaultValue: false, rules: [{ force: true, coverage: percent / 100 }] });
  switch (scenario.id) {
    case 'S1':
      return { [scenario.key]: { defaultValue: true } };
    case 'S2':
      return { [scenario.key]: rollout(25) };
    case 'S3':
      return {
        [scenario.key]: {
          defaultValue: false,
          rules: [
            { condition: { id: { $in: allow } }, force: true },
            { force: true, coverage: 0.1 },
          ],
        },
      };
    case 'S4':
      return {
        [scenario.key]: {
          defaultValue: 'control',
          rules: [{ key: scenario.key, variations: ['control', 'variant_a'], weights: [0.5, 0.5] }],
        },
      };
    case 'S5':
    case 'S5m': {
      const features = {};
      for (const f of s5) {
        // GrowthBook has no per-feature kill switch in the SDK payload: an off feature serves false.
        features[f.key] =
          f.kind === 'on'
            ? { defaultValue: true }
            : f.kind === 'off'
              ? { defaultValue: false }
              : rollout(f.percent);
      }
      return features;
    }
    default:
      throw new Error(`unknown scenario ${scenario.id}`);
  }
}

export async function create(scenario, inputs) {
  const client = new GrowthBookClient({});
  client.initSync({ payload: { features: featuresFor(scenario, inputs) } });
  return {
    toContext: (id) => ({ attributes: { id } }),
    isEnabled: (key, ctx) => client.isOn(key, ctx),
    variant: (key, ctx) => client.getFeatureValue(key, 'control', ctx),
    close: () => client.destroy(),
  };
}
