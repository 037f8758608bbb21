// A deliberately plain MurmurHash3 x86_32 over a byte array: the specification the optimised
// string implementation is checked against (bytes from TextEncoder, as any other SDK would hash).
export function referenceMurmurBytes(b: Uint8Array, seed = 0): number {
  const mix = (k: number) => {
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    return Math.imul(k, 0x1b873593);
  };
  let h = seed | 0;
  let i = 0;
  for (; i + 4 <= b.length; i += 4) {
    h ^= mix(b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24));
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  let k = 0;
  const rest = b.length - i;
  if (rest >= 3) k ^= b[i + 2]! << 16;
  if (rest >= 2) k ^= b[i + 1]! << 8;
  if (rest >= 1) h ^= mix(k ^ b[i]!);
  h ^= b.length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export function referenceMurmur(input: string, seed = 0): number {
  return referenceMurmurBytes(new TextEncoder().encode(input), seed);
}

/** The bucket formula written out with the reference hash. */
export function referenceBucket(salt: string, unitKey: string): number {
  return Math.floor((referenceMurmur(unitKey, referenceMurmur(salt, 0)) * 100000) / 4294967296);
}
