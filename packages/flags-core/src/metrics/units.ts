// Distinct units (the bucketing key: userId, or the flag's bucketBy attribute) of a series, counted
// with a HyperLogLog sketch: 2^p registers, each the highest "rank" (position of the first 1 bit)
// seen among the hashes that fall into it. Fixed size whatever the number of units, and mergeable:
// the register-wise maximum of two sketches is the sketch of the union of their units, so windows
// from many instances, endpoints and windows merge into the distinct count of the whole.
// Flajolet, Fusy, Gandouet & Meunier, "HyperLogLog: the analysis of a near-optimal cardinality
// estimation algorithm", AofA 2007. The estimate is Ertl's improved raw estimator (O. Ertl, "New
// cardinality estimation algorithms for HyperLogLog sketches", arXiv:1702.01284, 2017, section 4),
// which is unbiased from 0 to the 32-bit hash's limit without linear-counting switch points or
// empirical bias tables; for small counts it reduces to linear counting (its σ term).

import { murmurHash3Int32 } from '../hash/murmur3';
import type { MetricsValidationError } from './sketch';
import type { SerializedUnitSketch } from './types';

/** Default precision: 2^12 = 4,096 registers (4 KiB in memory, ≤ 4 KiB as JSON), standard error 1.04/√4096 ≈ 1.6%. */
export const UNIT_SKETCH_PRECISION = 12;
export const MIN_UNIT_SKETCH_PRECISION = 4;
export const MAX_UNIT_SKETCH_PRECISION = 16;
/**
 * Seed of the unit hash: murmur3(utf8("rupaya:units"), 0). It must differ from every flag's
 * bucketing seed: a cohort is a range of bucketing hashes, and hashing its units with the same seed
 * would put them all in a few registers.
 */
export const UNIT_SKETCH_SEED = 0x6ebb_b36e;

/** A HyperLogLog sketch of unit keys; `registers[i]` ∈ [0, 33 − p]. */
export interface UnitSketch {
  readonly p: number;
  readonly registers: Uint8Array;
}

/** Relative standard error of an estimate at precision `p`: 1.04/√(2^p). */
export function unitSketchStandardError(p = UNIT_SKETCH_PRECISION): number {
  return 1.04 / Math.sqrt(2 ** p);
}

export function createUnitSketch(p = UNIT_SKETCH_PRECISION): UnitSketch {
  if (!(Number.isInteger(p) && p >= MIN_UNIT_SKETCH_PRECISION && p <= MAX_UNIT_SKETCH_PRECISION)) {
    throw new RangeError(
      `precision must be an integer in [${MIN_UNIT_SKETCH_PRECISION}, ${MAX_UNIT_SKETCH_PRECISION}], got ${p}`,
    );
  }
  return { p, registers: new Uint8Array(1 << p) };
}

/**
 * Count `unitKey`: one murmur3 of its UTF-8 bytes; the top p bits choose the register, the rank is
 * the number of leading zeros of the remaining 32 − p bits plus one (33 − p when all are zero).
 * Allocates nothing.
 */
export function addUnit(sketch: UnitSketch, unitKey: string): void {
  const h = murmurHash3Int32(unitKey, UNIT_SKETCH_SEED);
  const p = sketch.p;
  const index = h >>> (32 - p);
  const rest = h << p;
  const rank = rest === 0 ? 33 - p : Math.clz32(rest) + 1;
  if (rank > sketch.registers[index]!) sketch.registers[index] = rank;
}

/**
 * The registers of `sketch` at a lower precision `p` (the sketch the same units would have given):
 * the dropped index bits become the leading bits of the rest.
 */
function foldRegisters(sketch: UnitSketch, p: number): Uint8Array {
  const shift = sketch.p - p;
  if (shift === 0) return sketch.registers;
  const out = new Uint8Array(1 << p);
  const low = (1 << shift) - 1;
  for (let i = 0; i < sketch.registers.length; i++) {
    const r = sketch.registers[i]!;
    if (r === 0) continue;
    const dropped = i & low;
    // Leading zeros of the `shift` dropped bits, + 1; when they are all zero the old rank continues.
    const rank = dropped !== 0 ? Math.clz32(dropped) - (32 - shift) + 1 : shift + r;
    const j = i >>> shift;
    if (rank > out[j]!) out[j] = rank;
  }
  return out;
}

/**
 * The sketch of the union of both sketches' units, as a new sketch (neither input changes). Sketches
 * of different precisions merge at the lower one.
 */
export function mergeUnitSketches(a: UnitSketch, b: UnitSketch): UnitSketch {
  const p = Math.min(a.p, b.p);
  const out = createUnitSketch(p);
  const ra = foldRegisters(a, p);
  const rb = foldRegisters(b, p);
  const r = out.registers;
  for (let i = 0; i < r.length; i++) r[i] = Math.max(ra[i]!, rb[i]!);
  return out;
}

/** Adds `source`'s units to `target` in place (same precision; else use `mergeUnitSketches`). */
export function mergeUnitSketchInto(target: UnitSketch, source: UnitSketch): void {
  if (target.p !== source.p) {
    throw new RangeError(`cannot merge precision ${source.p} into ${target.p} in place`);
  }
  const t = target.registers;
  const s = source.registers;
  for (let i = 0; i < t.length; i++) if (s[i]! > t[i]!) t[i] = s[i]!;
}

// Ertl 2017, eq. (σ): σ(x) = x + Σ_{k≥1} x^(2^k)·2^(k−1), for the registers still at zero.
function sigma(x: number): number {
  if (x === 1) return Number.POSITIVE_INFINITY;
  let y = 1;
  let z = x;
  for (;;) {
    x *= x;
    const prev = z;
    z += x * y;
    y += y;
    if (z === prev) return z;
  }
}

// Ertl 2017, eq. (τ): τ(x) = (1 − x − Σ_{k≥1} (1 − x^(2^−k))²·2^−k) / 3, for the saturated registers.
function tau(x: number): number {
  if (x === 0 || x === 1) return 0;
  let y = 1;
  let z = 1 - x;
  for (;;) {
    x = Math.sqrt(x);
    const prev = z;
    y *= 0.5;
    z -= (1 - x) * (1 - x) * y;
    if (z === prev) return z / 3;
  }
}

/** Estimated number of distinct units (0 for an empty sketch); not rounded. */
export function estimateUnits(sketch: UnitSketch): number {
  const m = sketch.registers.length;
  const q = 32 - sketch.p;
  const histogram = new Array<number>(q + 2).fill(0);
  for (let i = 0; i < m; i++) histogram[sketch.registers[i]!]!++;
  if (histogram[0] === m) return 0;
  let z = m * tau(1 - histogram[q + 1]! / m);
  for (let k = q; k >= 1; k--) z = 0.5 * (z + histogram[k]!);
  z += m * sigma(histogram[0]! / m);
  // α∞ = 1 / (2 ln 2).
  return (m * m) / (2 * Math.LN2 * z);
}

// ------------------------------------------------------------------ serialisation

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const DECODE = new Int16Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i;

function toBase64(bytes: Uint8Array): string {
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += ALPHABET[n >>> 18]! + ALPHABET[(n >>> 12) & 63]! + ALPHABET[(n >>> 6) & 63]! + ALPHABET[n & 63]!;
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i]! << 16;
    out += `${ALPHABET[n >>> 18]!}${ALPHABET[(n >>> 12) & 63]!}==`;
  } else if (rest === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    out += `${ALPHABET[n >>> 18]!}${ALPHABET[(n >>> 12) & 63]!}${ALPHABET[(n >>> 6) & 63]!}=`;
  }
  return out;
}

/** Standard padded base64 → bytes; null when `s` is not exactly that. */
function fromBase64(s: string): Uint8Array | null {
  if (s.length % 4 !== 0) return null;
  let pad = 0;
  if (s.length > 0 && s.charCodeAt(s.length - 1) === 61) pad = s.charCodeAt(s.length - 2) === 61 ? 2 : 1;
  const out = new Uint8Array((s.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < s.length; i += 4) {
    let n = 0;
    for (let j = 0; j < 4; j++) {
      const c = s.charCodeAt(i + j);
      const last = i + 4 === s.length;
      if (c === 61 && last && j >= 4 - pad) {
        n <<= 6;
        continue;
      }
      const v = c < 128 ? DECODE[c]! : -1;
      if (v < 0) return null;
      n = (n << 6) | v;
    }
    out[o++] = n >>> 16;
    if (o < out.length) out[o++] = (n >>> 8) & 255;
    if (o < out.length) out[o++] = n & 255;
  }
  return out;
}

/**
 * Plain JSON. `sparse` (chosen while fewer than a quarter of the registers are set, e.g. up to
 * ~1,100 units at p = 12): 3 bytes per set register, `index << 6 | rank` big-endian, in index order.
 * `dense`: every register in 6 bits, big-endian, 3 bytes per 4 registers (3 KiB at p = 12).
 * Both base64 (standard alphabet, padded).
 */
export function serializeUnitSketch(sketch: UnitSketch): SerializedUnitSketch {
  const r = sketch.registers;
  let set = 0;
  for (let i = 0; i < r.length; i++) if (r[i] !== 0) set++;
  if (set * 4 < r.length) {
    const bytes = new Uint8Array(set * 3);
    let o = 0;
    for (let i = 0; i < r.length; i++) {
      if (r[i] === 0) continue;
      const v = (i << 6) | r[i]!;
      bytes[o++] = v >>> 16;
      bytes[o++] = (v >>> 8) & 255;
      bytes[o++] = v & 255;
    }
    return { p: sketch.p, encoding: 'sparse', data: toBase64(bytes) };
  }
  const bytes = new Uint8Array((r.length / 4) * 3);
  for (let i = 0, o = 0; i < r.length; i += 4) {
    const v = (r[i]! << 18) | (r[i + 1]! << 12) | (r[i + 2]! << 6) | r[i + 3]!;
    bytes[o++] = v >>> 16;
    bytes[o++] = (v >>> 8) & 255;
    bytes[o++] = v & 255;
  }
  return { p: sketch.p, encoding: 'dense', data: toBase64(bytes) };
}

export type UnitSketchParseResult =
  | { ok: true; sketch: UnitSketch }
  | { ok: false; errors: MetricsValidationError[] };

/** Longest `data` accepted: the dense form at the highest precision. */
const MAX_DATA_LENGTH = ((1 << MAX_UNIT_SKETCH_PRECISION) / 4) * 4;

/**
 * Rebuilds a sketch from untrusted input (`serializeUnitSketch` output). Never throws: a problem is
 * reported with its JSON path under `path` (`units.data`, …).
 */
export function parseUnitSketch(data: unknown, path = 'units'): UnitSketchParseResult {
  const fail = (p: string, message: string): UnitSketchParseResult => ({
    ok: false,
    errors: [{ path: p, message }],
  });
  if (data === null || typeof data !== 'object' || Array.isArray(data))
    return fail(path, 'must be an object');
  const s = data as Record<string, unknown>;
  for (const k of Object.keys(s)) {
    if (k !== 'p' && k !== 'encoding' && k !== 'data') return fail(`${path}.${k}`, 'is not a known field');
  }
  const p = s.p;
  if (
    !(
      typeof p === 'number' &&
      Number.isInteger(p) &&
      p >= MIN_UNIT_SKETCH_PRECISION &&
      p <= MAX_UNIT_SKETCH_PRECISION
    )
  ) {
    return fail(
      `${path}.p`,
      `must be an integer in [${MIN_UNIT_SKETCH_PRECISION}, ${MAX_UNIT_SKETCH_PRECISION}]`,
    );
  }
  if (s.encoding !== 'sparse' && s.encoding !== 'dense') {
    return fail(`${path}.encoding`, 'must be "sparse" or "dense"');
  }
  if (typeof s.data !== 'string' || s.data.length > MAX_DATA_LENGTH) {
    return fail(`${path}.data`, `must be a base64 string of at most ${MAX_DATA_LENGTH} chars`);
  }
  const bytes = fromBase64(s.data);
  if (!bytes) return fail(`${path}.data`, 'must be standard padded base64');
  const sketch = createUnitSketch(p);
  const m = sketch.registers.length;
  const maxRank = 33 - p;
  if (s.encoding === 'dense') {
    if (bytes.length !== (m / 4) * 3) {
      return fail(`${path}.data`, `must hold ${m} registers of 6 bits (${(m / 4) * 3} bytes)`);
    }
    for (let i = 0, o = 0; i < m; i += 4, o += 3) {
      const v = (bytes[o]! << 16) | (bytes[o + 1]! << 8) | bytes[o + 2]!;
      for (let j = 0; j < 4; j++) {
        const rank = (v >>> (18 - 6 * j)) & 63;
        if (rank > maxRank) return fail(`${path}.data`, `register ${i + j} must be at most ${maxRank}`);
        sketch.registers[i + j] = rank;
      }
    }
    return { ok: true, sketch };
  }
  if (bytes.length % 3 !== 0 || bytes.length / 3 > m) {
    return fail(`${path}.data`, `must hold at most ${m} entries of 3 bytes`);
  }
  let previous = -1;
  for (let o = 0; o < bytes.length; o += 3) {
    const v = (bytes[o]! << 16) | (bytes[o + 1]! << 8) | bytes[o + 2]!;
    const index = v >>> 6;
    const rank = v & 63;
    if (index <= previous || index >= m) {
      return fail(`${path}.data`, `entry ${o / 3}: register indexes must ascend and be below ${m}`);
    }
    if (rank < 1 || rank > maxRank)
      return fail(`${path}.data`, `entry ${o / 3}: rank must be in [1, ${maxRank}]`);
    sketch.registers[index] = rank;
    previous = index;
  }
  return { ok: true, sketch };
}

/** Every problem of an untrusted serialised unit sketch (empty when valid). */
export function validateSerializedUnitSketch(data: unknown, path = 'units'): MetricsValidationError[] {
  const r = parseUnitSketch(data, path);
  return r.ok ? [] : r.errors;
}
