// @rupaya/flags-core: the product under test. `isEnabled` for S1–S3 and S5, `variant` for S4.
import { createHash } from 'node:crypto';

export const label = '@rupaya/flags-core';

export function flagsFor(scenario, { allow, s5 }) {
  switch (scenario.id) {
    case 'S1':
      return [{ key: scenario.key, type: 'boolean', enabled: true }];
    case 'S2':
      return [{ key: scenario.key, type: 'boolean', enabled: true, rolloutPercentage: 25 }];
    case 'S3':
      return [{ key: scenario.key, type: 'boolean', enabled: true, allowList: allow, rolloutPercentage: 10 }];
    case 'S4':
      return [
        {
          key: scenario.key,
          type: 'string',
          enabled: true,
          variants: [
            { key: 'control', value: 'control', weight: 50_000 },
            { key: 'variant_a', value: 'variant_a', weight: 50_000 },
          ],
        },
      ];
    case 'S5':
    case 'S5m':
      return s5.map((f) =>
        f.kind === 'on'
          ? { key: f.key, type: 'boolean', enabled: true }
          : f.kind === 'off'
            ? { key: f.key, type: 'boolean', enabled: false }
            : { key: f.key, type: 'boolean', enabled: true, rolloutPercentage: f.percent },
      );
    default:
      throw new Error(`unknown scenario ${scenario.id}`);
  }
}

export async function create(scenario, inputs) {
  const core = await import('@rupaya/flags-core');
  const body = { schemaVersion: 1, environment: 'bench', revision: 1, flags: flagsFor(scenario, inputs) };
  const payload = core.checksumPayload ? core.checksumPayload(body) : JSON.stringify(body);
  const snapshot = {
    ...body,
    checksum: `sha256:${createHash('sha256').update(payload).digest('hex')}`,
    generatedAt: '2026-11-25T00:00:00.000Z',
  };
  const parsed = core.parseSnapshot ? core.parseSnapshot(snapshot) : { ok: true, snapshot };
  if (!parsed.ok) throw new Error(`snapshot rejected: ${JSON.stringify(parsed.errors).slice(0, 400)}`);
  const evaluator = core.createEvaluator(parsed.snapshot);
  return {
    toContext: (userId) => ({ userId }),
    isEnabled: (key, ctx) => evaluator.isEnabled(key, ctx),
    variant: (key, ctx) => evaluator.variant(key, ctx),
    close() {},
  };
}
