// OpenFeature's tracking API through @rupaya/openfeature-provider, end to end: an application that
// only speaks OpenFeature evaluates an experiment for its users (exposures) and tracks their
// conversions and revenue with `client.track`; both travel through the SDK to a real control plane,
// and the experiment's results in the admin API count exactly what was sent, per variant.
import { OpenFeature } from '@openfeature/server-sdk';
import { RupayaProvider } from '@rupaya/openfeature-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminApi, PLANE_TIMEOUT_MS, type Plane, silent, startPlane, waitFor } from '../sdk/plane';

const FLAG = 'experiment.of-tracking';
const UNITS = 60;

interface VariantResult {
  key: string;
  units: number;
  exposures: number;
  metrics: { event: string; conversionRate: number | null; sum: number }[];
}

let plane: Plane;
let admin: AdminApi;
let provider: RupayaProvider;

beforeAll(async () => {
  plane = await startPlane({ memory: true });
  admin = new AdminApi(plane.url);
  await admin.createFlag(
    {
      key: FLAG,
      type: 'string',
      enabled: true,
      variants: [
        { key: 'control', value: 'control', weight: 50_000 },
        { key: 'variant_a', value: 'variant_a', weight: 50_000 },
      ],
      defaultVariant: 'control',
      experiment: {
        hypothesis: 'Tracking through OpenFeature reaches the experiment',
        primaryMetric: { event: 'purchase', kind: 'conversion', direction: 'increase' },
        secondaryMetrics: [{ event: 'revenue', kind: 'mean', direction: 'increase' }],
        minUnitsPerVariant: 1,
        minDurationSec: 1,
        status: 'running',
      },
    },
    'prod',
  );
  provider = new RupayaProvider({
    clientOptions: {
      url: plane.url,
      sdkKey: await admin.sdkKey('prod'),
      metrics: { flushIntervalMs: 200, gauges: false },
      logger: silent,
    },
    readyTimeoutMs: 10_000,
  });
  await OpenFeature.setProviderAndWait(provider);
}, PLANE_TIMEOUT_MS);

afterAll(async () => {
  await OpenFeature.close();
  await plane?.close();
});

describe('OpenFeature tracking through the provider', () => {
  it('counts every tracked conversion and value for the variant its unit was exposed to', async () => {
    const of = OpenFeature.getClient();
    const expected = new Map<string, { units: number; buyers: number; revenue: number }>();
    for (let i = 0; i < UNITS; i++) {
      const context = { targetingKey: `of-user-${i}` };
      const details = await of.getStringDetails(FLAG, 'none', context);
      expect(details.reason).toBe('SPLIT');
      const variant = details.value;
      const e = expected.get(variant) ?? { units: 0, buyers: 0, revenue: 0 };
      e.units++;
      // Every third unit buys; its revenue is tracked as the event's value.
      if (i % 3 === 0) {
        of.track('purchase', context);
        of.track('revenue', context, { value: 10 + i });
        e.buyers++;
        e.revenue += 10 + i;
      }
      expected.set(variant, e);
    }
    expect([...expected.keys()].sort()).toEqual(['control', 'variant_a']);
    await provider.client.flush();

    let variants: VariantResult[] = [];
    await waitFor(
      async () => {
        const results = await admin.ok<{ variants: VariantResult[] }>(
          'GET',
          `/api/admin/deployment/experiments/${FLAG}/results?environment=prod&refresh=true`,
        );
        variants = results.variants;
        const revenue = (v: VariantResult) => v.metrics.find((m) => m.event === 'revenue')?.sum ?? 0;
        return variants.every(
          (v) => v.units === expected.get(v.key)?.units && revenue(v) === expected.get(v.key)?.revenue,
        );
      },
      20_000,
      'the exposures and events to reach the experiment',
    );
    for (const v of variants) {
      const e = expected.get(v.key)!;
      expect(v.units).toBe(e.units);
      const purchase = v.metrics.find((m) => m.event === 'purchase')!;
      expect(purchase.conversionRate).toBeCloseTo(e.buyers / e.units, 12);
      expect(v.metrics.find((m) => m.event === 'revenue')!.sum).toBe(e.revenue);
    }
  });
});
