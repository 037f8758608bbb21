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

/** Rollout bucket of `unitKey` for a flag salted with `salt`, in [0, 100000). */
export function bucketOf(salt: string, unitKey: string): number {
  return bucketWithSeed(saltSeed(salt), unitKey);
}

/** Variant bucket of `unitKey` for a flag salted with `salt` (salt `salt + ':variant'`), in [0, 100000). */
export function variantBucketOf(salt: string, unitKey: string): number {
  return bucketWithSeed(variantSeed(salt), unitKey);
}
