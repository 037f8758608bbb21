import { describe, expect, it } from 'vitest';
import { flagsForEnvironment, parseFlagsDocument } from './index';

const good = {
  version: 1,
  environments: ['dev', 'prod'],
  flags: [
    {
      key: 'feature.a',
      type: 'boolean',
      rolloutPercentage: 100,
      environments: { prod: { rolloutPercentage: 5 } },
    },
    { key: 'rollback.limit', type: 'number', value: 5 },
  ],
};

describe('parseFlagsDocument', () => {
  it('accepts a valid file and resolves each environment: base overlaid with its override', () => {
    const r = parseFlagsDocument(good);
    if (!r.ok) throw new Error(JSON.stringify(r.problems));
    expect(flagsForEnvironment(r.file, 'dev')).toEqual([
      { key: 'feature.a', type: 'boolean', rolloutPercentage: 100 },
      { key: 'rollback.limit', type: 'number', value: 5 },
    ]);
    expect(flagsForEnvironment(r.file, 'prod')[0]).toEqual({
      key: 'feature.a',
      type: 'boolean',
      rolloutPercentage: 5,
    });
  });

  it('never throws, and gives every problem a path', () => {
    for (const doc of [null, 42, 'x', [], {}, { flags: 'no' }]) {
      const r = parseFlagsDocument(doc);
      expect(r.ok).toBe(false);
      if (!r.ok) for (const p of r.problems) expect(typeof p.path).toBe('string');
    }
    const r = parseFlagsDocument({
      version: 2,
      environments: ['dev', 'dev'],
      flags: [
        { key: 'feature.a', type: 'boolean', colour: 'red' },
        { key: 'feature.a', type: 'boolean' },
        { key: '', type: 'boolean' },
        7,
        { key: 'feature.b', type: 'boolean', environments: { qa: {}, dev: { key: 'x', bogus: 1 } } },
      ],
    });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems).toEqual(
      expect.arrayContaining([
        { path: 'version', message: 'must be 1' },
        { path: 'environments', message: 'lists an environment twice' },
        { path: 'flags[0].colour', message: 'unknown field' },
        { path: 'flags[1].key', message: 'duplicate key feature.a' },
        { path: 'flags[2].key', message: 'must be a non-empty string' },
        { path: 'flags[3]', message: 'must be an object' },
        { path: 'flags[4].environments.qa', message: 'environment not listed in `environments`' },
        { path: 'flags[4].environments.dev.key', message: 'unknown field' },
        { path: 'flags[4].environments.dev.bogus', message: 'unknown field' },
      ]),
    );
  });

  it('checks every environment resolved flag with the flag validation, naming field and environment', () => {
    const r = parseFlagsDocument({
      ...good,
      flags: [{ ...good.flags[0], environments: { prod: { rolloutPercentage: 150 } } }],
    });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]!.path).toBe('flags[0].rolloutPercentage (prod)');
  });
});
