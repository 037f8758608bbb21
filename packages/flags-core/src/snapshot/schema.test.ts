import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Ajv from 'ajv';
import { describe, expect, it } from 'vitest';
import { flagJsonSchema, snapshotJsonSchema } from './schema';
import { parseSnapshot } from './validate';

const file = fileURLToPath(new URL('../../schema/snapshot.schema.json', import.meta.url));
const text = JSON.stringify(snapshotJsonSchema, null, 2) + '\n';

const validSnapshot = {
  schemaVersion: 1,
  environment: 'prod',
  revision: 1,
  checksum: 'sha256:' + 'a'.repeat(64),
  generatedAt: '2026-11-25T15:00:00Z',
  flags: [
    { key: 'feature.a', type: 'boolean', enabled: true, rolloutPercentage: 0.1 },
    {
      key: 'experiment.b',
      type: 'string',
      enabled: true,
      variants: [
        { key: 'control', value: 'c', weight: 50000 },
        { key: 'v', value: 'v', weight: 50000 },
      ],
      coverage: 33.333,
      rules: [{ clauses: [{ attribute: 'plan', op: 'in', values: ['pro', 3, true] }], variant: 'v' }],
      experiment: {
        primaryMetric: { event: 'buy', kind: 'conversion', direction: 'increase' },
        concludedVariant: null,
      },
    },
    {
      key: 'canary.c',
      type: 'boolean',
      enabled: true,
      stages: [{ percent: 0.5, minDurationSec: 30 }],
      canary: { stage: 0, status: 'paused', stageStartedAt: null },
    },
  ],
};

describe('snapshot JSON Schema', () => {
  it('is the published schema/snapshot.schema.json (RUPAYA_WRITE_SCHEMA=1 rewrites it)', () => {
    if (process.env.RUPAYA_WRITE_SCHEMA === '1') writeFileSync(file, text);
    // Compared as data: the formatter may re-wrap the file.
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(snapshotJsonSchema);
  });

  it('compiles in strict Ajv with Fastify’s options, without warnings', () => {
    const warnings: unknown[] = [];
    const logger = {
      log: () => {},
      warn: (...a: unknown[]) => warnings.push(a),
      error: (...a: unknown[]) => warnings.push(a),
    };
    const ajv = new Ajv({
      strict: true,
      coerceTypes: 'array',
      useDefaults: true,
      removeAdditional: true,
      logger,
    });
    const validateSnapshot = ajv.compile(snapshotJsonSchema);
    const validateFlagBody = ajv.compile(flagJsonSchema);
    expect(warnings).toEqual([]);
    expect(validateSnapshot(structuredClone(validSnapshot))).toBe(true);
    expect(parseSnapshot(validSnapshot).ok).toBe(true);
    expect(validateFlagBody(structuredClone(validSnapshot.flags[1]))).toBe(true);
  });

  it('rejects what the validator rejects structurally', () => {
    const ajv = new Ajv({ strict: true });
    const validate = ajv.compile(snapshotJsonSchema);
    const bad = [
      { ...validSnapshot, schemaVersion: 2 },
      { ...validSnapshot, checksum: 'sha1:x' },
      { ...validSnapshot, flags: [{ key: 'nodot', type: 'boolean', enabled: true }] },
      {
        ...validSnapshot,
        flags: [{ key: 'feature.a', type: 'boolean', enabled: true, rolloutPercentage: 101 }],
      },
      {
        ...validSnapshot,
        flags: [
          {
            key: 'feature.a',
            type: 'boolean',
            enabled: true,
            rules: [{ clauses: [{ attribute: 'a', op: 'like', values: [1] }], variant: 'on' }],
          },
        ],
      },
      {
        ...validSnapshot,
        flags: [
          { key: 'canary.a', type: 'boolean', enabled: true, stages: [{ percent: 0, minDurationSec: 1 }] },
        ],
      },
    ];
    for (const s of bad) {
      expect(validate(s), JSON.stringify(s).slice(0, 200)).toBe(false);
      expect(parseSnapshot(s).ok).toBe(false);
    }
  });
});
