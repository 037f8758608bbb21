import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bucketOf,
  bucketWithSeed,
  hashBoundOf,
  hashWithSeed,
  saltSeed,
  variantBucketOf,
  variantSeed,
} from './bucket';
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

describe('hashBoundOf', () => {
  // BigInt arithmetic, independent of the float reasoning in the implementation.
  const bucketOfHash = (h: number) => Number((BigInt(h) * 100000n) >> 32n);
  const ceilBound = (t: number) => Number(((BigInt(t) << 32n) + 99999n) / 100000n);

  it('is ceil(threshold · 2^32 / 100000) for every threshold, and splits the hashes exactly there', () => {
    for (let t = 0; t <= 100_000; t++) {
      const b = hashBoundOf(t);
      expect(b).toBe(ceilBound(t));
      // The last hash below the bound is in a bucket below t, the bound itself is not.
      if (b > 0) expect(bucketOfHash(b - 1)).toBeLessThan(t);
      if (b < 2 ** 32) expect(bucketOfHash(b)).toBeGreaterThanOrEqual(t);
    }
    expect(hashBoundOf(0)).toBe(0);
    expect(hashBoundOf(100_000)).toBe(2 ** 32);
  });

  it('compares hashes exactly as buckets compare', () => {
    fc.assert(
      fc.property(
        fc.string(),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 0, max: 100_000 }),
        (key, seed, t) => {
          const h = hashWithSeed(seed | 0, key);
          expect(h).toBe(murmurHash3(key, seed));
          expect(h < hashBoundOf(t)).toBe(bucketWithSeed(seed | 0, key) < t);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
