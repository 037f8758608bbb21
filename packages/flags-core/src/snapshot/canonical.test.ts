import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson, checksumPayload } from './canonical';
import type { Snapshot } from './types';

describe('canonicalJson', () => {
  it('sorts keys at every depth and drops whitespace', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: 'x' } })).toBe(
      '{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}',
    );
  });

  it('follows JSON.stringify for undefined, non-finite numbers, toJSON and escapes', () => {
    expect(
      canonicalJson({ a: undefined, b: [undefined, Number.NaN, Number.POSITIVE_INFINITY], c: () => 1 }),
    ).toBe('{"b":[null,null,null]}');
    expect(canonicalJson(new Date(0))).toBe('"1970-01-01T00:00:00.000Z"');
    expect(canonicalJson('é"\n')).toBe(JSON.stringify('é"\n'));
    expect(canonicalJson(undefined)).toBe('null');
    expect(canonicalJson(-0)).toBe('0');
  });

  it('parses back to the same value and is independent of key order', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const text = canonicalJson(v);
        expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(v)));
        expect(text).not.toMatch(/^\s|\s$/);
        const reversed = JSON.parse(JSON.stringify(v), (_k, x) =>
          x && typeof x === 'object' && !Array.isArray(x)
            ? Object.fromEntries(Object.entries(x).reverse())
            : x,
        );
        expect(canonicalJson(reversed)).toBe(text);
      }),
    );
  });
});

describe('checksumPayload', () => {
  const snapshot: Snapshot = {
    schemaVersion: 1,
    environment: 'prod',
    revision: 3,
    checksum: 'sha256:' + '0'.repeat(64),
    generatedAt: '2026-11-25T15:00:00Z',
    cacheTtlSec: 60,
    flags: [{ type: 'boolean', key: 'feature.a', enabled: true }],
  };

  it('covers schemaVersion, environment, revision and flags only', () => {
    expect(checksumPayload(snapshot)).toBe(
      '{"environment":"prod","flags":[{"enabled":true,"key":"feature.a","type":"boolean"}],"revision":3,"schemaVersion":1}',
    );
    const other: Snapshot = { ...snapshot, generatedAt: 'other', checksum: 'x', cacheTtlSec: 1 };
    expect(checksumPayload(other)).toBe(checksumPayload(snapshot));
  });

  it('gives the documented sha256 checksum', () => {
    const hex = createHash('sha256').update(checksumPayload(snapshot), 'utf8').digest('hex');
    expect(hex).toBe(
      createHash('sha256')
        .update(Buffer.from(checksumPayload(snapshot)))
        .digest('hex'),
    );
    expect(hex).toMatch(/^[0-9a-f]{64}$/);
  });
});
