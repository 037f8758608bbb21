// A realistic 1,000-flag configuration: a mix of the product's kinds, written through the admin API
// in core's flag schema (the PUT/POST body names). Deterministic.
import { prng } from '../lib/stats.mjs';

const AREAS = [
  'checkout',
  'search',
  'billing',
  'onboarding',
  'dashboard',
  'notifications',
  'profile',
  'reports',
];

function ids(rand, n) {
  const out = [];
  for (let i = 0; i < n; i++) out.push(`user-${Math.floor(rand() * 1e8)}`);
  return out;
}

/** Flag i of the set; `kind` says what it exercises. */
export function realisticFlags(count = 1000, seed = 7) {
  const rand = prng(seed);
  const flags = [];
  for (let i = 0; i < count; i++) {
    const area = AREAS[i % AREAS.length];
    const n = String(i).padStart(4, '0');
    const slot = i % 20;
    const description = `Bench flag ${n}: ${area} behaviour variant ${slot}`;
    const tags = [area, slot < 10 ? 'release' : 'ops'];
    const pct = Math.round(rand() * 100_000) / 1000;
    if (slot < 6) {
      flags.push({
        key: `feature.${area}-rollout-${n}`,
        type: 'boolean',
        enabled: true,
        description,
        tags,
        rolloutPercentage: pct,
      });
    } else if (slot < 9) {
      flags.push({
        key: `feature.${area}-targeted-${n}`,
        type: 'boolean',
        enabled: true,
        description,
        tags,
        rules: [
          {
            description: 'pro customers in launch countries',
            clauses: [
              { attribute: 'country', op: 'in', values: ['US', 'CA', 'GB', 'DE', 'FR'] },
              { attribute: 'plan', op: 'eq', values: ['pro'] },
            ],
            variant: 'on',
          },
          {
            clauses: [{ attribute: 'email', op: 'ends_with', values: ['@rupaya.dev'] }],
            variant: 'on',
          },
        ],
        rolloutPercentage: Math.round(pct * 250) / 1000,
      });
    } else if (slot < 11) {
      flags.push({
        key: `feature.${area}-beta-${n}`,
        type: 'boolean',
        enabled: true,
        description,
        tags,
        allowList: ids(rand, 20),
        denyList: ids(rand, 5),
        rolloutPercentage: Math.round(pct / 10),
      });
    } else if (slot < 13) {
      flags.push({
        key: `canary.${area}-service-${n}`,
        type: 'boolean',
        enabled: true,
        description,
        tags,
        stages: [
          { percent: 1, minDurationSec: 1800 },
          { percent: 10, minDurationSec: 1800 },
          { percent: 25, minDurationSec: 3600 },
          { percent: 50, minDurationSec: 3600 },
          { percent: 100, minDurationSec: 0 },
        ],
      });
    } else if (slot < 15) {
      const three = slot === 14;
      flags.push({
        key: `experiment.${area}-test-${n}`,
        type: 'string',
        enabled: true,
        description,
        tags,
        variants: three
          ? [
              { key: 'control', value: 'control', weight: 34_000 },
              { key: 'variant_a', value: 'variant_a', weight: 33_000 },
              { key: 'variant_b', value: 'variant_b', weight: 33_000 },
            ]
          : [
              { key: 'control', value: 'control', weight: 50_000 },
              { key: 'variant_a', value: 'variant_a', weight: 50_000 },
            ],
        defaultVariant: 'control',
        offVariant: 'control',
        coverage: 100,
        experiment: {
          hypothesis: `The new ${area} flow converts better`,
          primaryMetric: { event: `${area}_converted`, kind: 'conversion', direction: 'increase' },
          secondaryMetrics: [{ event: `${area}_revenue`, kind: 'mean', direction: 'increase' }],
          minimumDetectableEffect: 0.05,
        },
      });
    } else if (slot < 18) {
      flags.push({
        key: `feature.${area}-switch-${n}`,
        type: 'boolean',
        enabled: slot !== 17,
        description,
        tags,
      });
    } else if (slot === 18) {
      const kind = i % 3;
      flags.push(
        kind === 0
          ? {
              key: `rollback.${area}-threshold-${n}`,
              type: 'number',
              enabled: true,
              description,
              tags,
              value: 5,
            }
          : kind === 1
            ? {
                key: `feature.${area}-copy-${n}`,
                type: 'string',
                enabled: true,
                description,
                tags,
                value: 'Try the new flow',
              }
            : {
                key: `feature.${area}-limits-${n}`,
                type: 'json',
                enabled: true,
                description,
                tags,
                value: { maxItems: 50, retry: { attempts: 3, backoffMs: 200 } },
              },
      );
    } else {
      flags.push({
        key: `feature.${area}-mobile-${n}`,
        type: 'boolean',
        enabled: true,
        description,
        tags,
        rules: [
          { clauses: [{ attribute: 'appVersion', op: 'semver_gt', values: ['2.3.0'] }], variant: 'on' },
        ],
        rolloutPercentage: pct,
      });
    }
  }
  return flags;
}
