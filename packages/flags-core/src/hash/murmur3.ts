// MurmurHash3 x86 32-bit (Austin Appleby, public domain algorithm) over the UTF-8 bytes of a string.
// ASCII input is read four UTF-16 units at a time straight from the string, so hashing a typical
// unit key allocates nothing. Other input is encoded to UTF-8 on the fly, exactly as TextEncoder
// would (surrogate pairs → 4 bytes, lone surrogates → U+FFFD), still without allocating.

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

function mixK(k: number): number {
  k = Math.imul(k, C1);
  k = (k << 15) | (k >>> 17);
  return Math.imul(k, C2);
}

function mixH(h: number, k: number): number {
  h ^= mixK(k);
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function finalize(h: number, byteLength: number): number {
  h ^= byteLength;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  // Signed: an int32 is a small integer in V8, so a non-inlined call never boxes its result.
  return h | 0;
}

// Streaming state of the non-ASCII path. Module-level so the slow path allocates nothing either;
// safe because hashing never yields to other code while the state is live.
let sH = 0;
let sK = 0;
let sPos = 0;

function pushByte(b: number): void {
  sK |= b << (sPos << 3);
  if (++sPos === 4) {
    sH = mixH(sH, sK);
    sK = 0;
    sPos = 0;
  }
}

/** Continues hashing at UTF-16 index `i` (a multiple of 4 ASCII chars already mixed into `h`). */
function hashUtf8From(input: string, i: number, h: number): number {
  sH = h;
  sK = 0;
  sPos = 0;
  let bytes = i;
  const len = input.length;
  while (i < len) {
    const c = input.charCodeAt(i++);
    if (c < 0x80) {
      pushByte(c);
      bytes += 1;
    } else if (c < 0x800) {
      pushByte(0xc0 | (c >> 6));
      pushByte(0x80 | (c & 0x3f));
      bytes += 2;
    } else if (c >= 0xd800 && c <= 0xdfff) {
      const next = i < len ? input.charCodeAt(i) : 0;
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        i++;
        const cp = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
        pushByte(0xf0 | (cp >> 18));
        pushByte(0x80 | ((cp >> 12) & 0x3f));
        pushByte(0x80 | ((cp >> 6) & 0x3f));
        pushByte(0x80 | (cp & 0x3f));
        bytes += 4;
      } else {
        // Lone surrogate: U+FFFD, like TextEncoder.
        pushByte(0xef);
        pushByte(0xbf);
        pushByte(0xbd);
        bytes += 3;
      }
    } else {
      pushByte(0xe0 | (c >> 12));
      pushByte(0x80 | ((c >> 6) & 0x3f));
      pushByte(0x80 | (c & 0x3f));
      bytes += 3;
    }
  }
  let out = sH;
  if (sPos > 0) out ^= mixK(sK);
  return finalize(out, bytes);
}

/**
 * MurmurHash3 x86_32 of the UTF-8 bytes of `input`, unsigned 32-bit.
 * @param seed 32-bit seed (default 0).
 */
export function murmurHash3(input: string, seed = 0): number {
  return murmurHash3Int32(input, seed) >>> 0;
}

/** `murmurHash3` as a signed 32-bit integer (same bits); the hot path uses it to avoid boxing. */
export function murmurHash3Int32(input: string, seed: number): number {
  const len = input.length;
  let h = seed | 0;
  let i = 0;
  const blockEnd = len & ~3;
  // Two blocks per iteration, then at most one: fewer loop trips for the usual unit keys (a UUID is
  // four pairs and a block).
  const pairEnd = len & ~7;
  while (i < pairEnd) {
    const c0 = input.charCodeAt(i);
    const c1 = input.charCodeAt(i + 1);
    const c2 = input.charCodeAt(i + 2);
    const c3 = input.charCodeAt(i + 3);
    const c4 = input.charCodeAt(i + 4);
    const c5 = input.charCodeAt(i + 5);
    const c6 = input.charCodeAt(i + 6);
    const c7 = input.charCodeAt(i + 7);
    if ((c0 | c1 | c2 | c3 | c4 | c5 | c6 | c7) >= 0x80) return hashUtf8From(input, i, h);
    h = mixH(mixH(h, c0 | (c1 << 8) | (c2 << 16) | (c3 << 24)), c4 | (c5 << 8) | (c6 << 16) | (c7 << 24));
    i += 8;
  }
  if (i < blockEnd) {
    const c0 = input.charCodeAt(i);
    const c1 = input.charCodeAt(i + 1);
    const c2 = input.charCodeAt(i + 2);
    const c3 = input.charCodeAt(i + 3);
    if ((c0 | c1 | c2 | c3) >= 0x80) return hashUtf8From(input, i, h);
    h = mixH(h, c0 | (c1 << 8) | (c2 << 16) | (c3 << 24));
    i += 4;
  }
  const rest = len - i;
  if (rest === 0) return finalize(h, len);
  // Tail of 1–3 chars: all must be ASCII for the fast path.
  const t0 = input.charCodeAt(i);
  const t1 = rest > 1 ? input.charCodeAt(i + 1) : 0;
  const t2 = rest > 2 ? input.charCodeAt(i + 2) : 0;
  if ((t0 | t1 | t2) >= 0x80) return hashUtf8From(input, i, h);
  const k = t0 | (t1 << 8) | (t2 << 16);
  h ^= mixK(k);
  return finalize(h, len);
}
