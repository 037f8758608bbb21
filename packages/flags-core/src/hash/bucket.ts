// The bucketing contract shared by every SDK (see ARCHITECTURE.md, "Bucketing"):
//   seed   = murmur3(utf8(salt), 0)
//   bucket = floor(murmur3(utf8(unitKey), seed) * 100000 / 2^32)      in [0, 100000)
// Variant assignment uses the independent salt `salt + ":variant"`.
import { murmurHash3, murmurHash3Int32 } from './murmur3';

const TWO_POW_32 = 4294967296;
const BUCKET_COUNT = 100_000;

/** Seed of a flag's rollout bucket: `murmurHash3(salt, 0)`. Compute once per flag. */
export function saltSeed(salt: string): number {
  return murmurHash3(salt, 0);
}

/** A seed as a signed 32-bit integer (same bits), so compiled flags hold small integers, not boxed doubles. */
export function seedInt32(seed: number): number {
  return seed | 0;
}

/** Seed of a flag's variant bucket: `murmurHash3(salt + ':variant', 0)`. Compute once per flag. */
export function variantSeed(salt: string): number {
  return murmurHash3(salt + ':variant', 0);
}

/** Bucket of a unit under a precomputed seed; hashes only the unit key. */
export function bucketWithSeed(seed: number, unitKey: string): number {
  // h * 100000 < 2^49, exact in a double; no modulo bias.
  return Math.floor(((murmurHash3Int32(unitKey, seed) >>> 0) * BUCKET_COUNT) / TWO_POW_32);
}

/**
 * The hash bound of a bucket threshold: `bucketWithSeed(seed, u) < threshold` exactly when
 * `hashWithSeed(seed, u) < hashBoundOf(threshold)`. Compiled flags compare the unsigned hash with
 * precomputed bounds and so skip the float multiply-and-floor of every evaluation. `threshold` is an
 * integer in [0, 100000]; the bound is `ceil(threshold · 2^32 / 100000)`, computed exactly (every
 * intermediate is an integer below 2^53).
 */
export function hashBoundOf(threshold: number): number {
  const scaled = threshold * TWO_POW_32;
  let q = Math.floor(scaled / BUCKET_COUNT);
  // The float division may be off by one either way; settle q = floor(scaled / BUCKET_COUNT).
  while (q * BUCKET_COUNT > scaled) q--;
  while ((q + 1) * BUCKET_COUNT <= scaled) q++;
  return q * BUCKET_COUNT === scaled ? q : q + 1;
}

/** The unsigned 32-bit hash behind `bucketWithSeed`: `murmurHash3(unitKey, seed)`. */
export function hashWithSeed(seed: number, unitKey: string): number {
  return murmurHash3Int32(unitKey, seed) >>> 0;
}

/** Rollout bucket of `unitKey` for a flag salted with `salt`, in [0, 100000). */
export function bucketOf(salt: string, unitKey: string): number {
  return bucketWithSeed(saltSeed(salt), unitKey);
}

/** Variant bucket of `unitKey` for a flag salted with `salt` (salt `salt + ':variant'`), in [0, 100000). */
export function variantBucketOf(salt: string, unitKey: string): number {
  return bucketWithSeed(variantSeed(salt), unitKey);
}
