import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bucketOf, bucketWithSeed, saltSeed, variantBucketOf, variantSeed } from './bucket';
import { murmurHash3 } from './murmur3';

describe('bucketOf', () => {
  it('is floor(murmur3(unitKey, murmur3(salt, 0)) * 100000 / 2^32)', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (salt, key) => {
        const expected = Math.floor((murmurHash3(key, murmurHash3(salt, 0)) * 100000) / 2 ** 32);
        expect(bucketOf(salt, key)).toBe(expected);
        expect(bucketWithSeed(saltSeed(salt), key)).toBe(expected);
      }),
    );
  });

  it('stays in [0, 100000)', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (salt, key) => {
        const b = bucketOf(salt, key);
        return Number.isInteger(b) && b >= 0 && b < 100000;
      }),
    );
  });

  it('uses salt + ":variant" for variant buckets', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (salt, key) => {
        expect(variantBucketOf(salt, key)).toBe(bucketOf(salt + ':variant', key));
        expect(bucketWithSeed(variantSeed(salt), key)).toBe(variantBucketOf(salt, key));
      }),
    );
  });

  it('maps the extreme hashes to the extreme buckets', () => {
    // murmur3('', 0) = 0, so the empty key under an all-zero seed path is bucket 0.
    expect(Math.floor((0xffffffff * 100000) / 2 ** 32)).toBe(99999);
    expect(bucketWithSeed(0, '')).toBe(0);
  });
});
