import fc from 'fast-check';
import murmurhash3js from 'murmurhash3js';
import { describe, expect, it } from 'vitest';
import { referenceMurmur } from '../../test/reference-murmur';
import { murmurHash3 } from './murmur3';

describe('murmurHash3', () => {
  it('matches published MurmurHash3 x86_32 values', () => {
    // Widely published reference values of the algorithm.
    expect(murmurHash3('', 0)).toBe(0);
    expect(murmurHash3('', 1)).toBe(0x514e28b7);
    expect(murmurHash3('', 0xffffffff)).toBe(0x81f16f39);
    expect(murmurHash3('Hello, world!', 1234)).toBe(0xfaf6cdb3);
    expect(murmurHash3('The quick brown fox jumps over the lazy dog', 0x9747b28c)).toBe(0x2fa826cd);
    expect(murmurHash3('aaaa', 0x9747b28c)).toBe(0x5a97808a);
    expect(murmurHash3('abc', 0)).toBe(0xb3dd93fa);
  });

  it('agrees with the murmurhash3js oracle on ASCII strings', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary-ascii', maxLength: 80 }),
        fc.integer({ min: 0, max: 0xffffffff }),
        (s, seed) => {
          expect(murmurHash3(s, seed)).toBe(murmurhash3js.x86.hash32(s, seed));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('hashes the exact UTF-8 bytes of any string, surrogate pairs and lone surrogates included', () => {
    fc.assert(
      fc.property(
        // Any code points: astral ones become surrogate pairs, U+D800–U+DFFF stay lone surrogates.
        fc.array(fc.integer({ min: 0, max: 0x10ffff }), { maxLength: 40 }),
        fc.integer({ min: 0, max: 0xffffffff }),
        (codePoints, seed) => {
          const s = String.fromCodePoint(...codePoints);
          expect(murmurHash3(s, seed)).toBe(referenceMurmur(s, seed));
        },
      ),
      { numRuns: 1000 },
    );
    // Raw UTF-16 units, including lone surrogates anywhere (TextEncoder writes U+FFFD for them).
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 24 }), (units) => {
        const s = String.fromCharCode(...units);
        expect(murmurHash3(s)).toBe(referenceMurmur(s));
      }),
      { numRuns: 300 },
    );
  });

  it('switches to UTF-8 at every position of a block and of the tail', () => {
    for (const ch of ['é', '€', '😀', '\ud800', '\udfff']) {
      for (let pre = 0; pre < 9; pre++) {
        for (let post = 0; post < 5; post++) {
          const s = 'a'.repeat(pre) + ch + 'b'.repeat(post);
          expect(murmurHash3(s, 42)).toBe(referenceMurmur(s, 42));
        }
      }
    }
  });

  it('treats a lone surrogate exactly as U+FFFD', () => {
    expect(murmurHash3('x\ud83dy')).toBe(murmurHash3('x\ufffdy'));
    expect(murmurHash3('\udc00')).toBe(murmurHash3('\ufffd'));
  });

  it('returns an unsigned 32-bit integer', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        const h = murmurHash3(s);
        return Number.isInteger(h) && h >= 0 && h <= 0xffffffff;
      }),
    );
  });
});
