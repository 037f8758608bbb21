import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { murmurHash3 } from '../hash/murmur3';
import {
  addUnit,
  createUnitSketch,
  estimateUnits,
  mergeUnitSketches,
  mergeUnitSketchInto,
  parseUnitSketch,
  serializeUnitSketch,
  UNIT_SKETCH_PRECISION,
  UNIT_SKETCH_SEED,
  type UnitSketch,
  unitSketchStandardError,
} from './units';

const sketchOf = (keys: Iterable<string>, p = UNIT_SKETCH_PRECISION): UnitSketch => {
  const s = createUnitSketch(p);
  for (const k of keys) addUnit(s, k);
  return s;
};

function* range(from: number, to: number, prefix = 'user-'): Generator<string> {
  for (let i = from; i < to; i++) yield `${prefix}${i}`;
}

const relErr = (estimate: number, n: number) => Math.abs(estimate - n) / n;

describe('unit sketch (HyperLogLog)', () => {
  it('hashes with its own documented seed, murmur3("rupaya:units", 0)', () => {
    expect(UNIT_SKETCH_SEED).toBe(murmurHash3('rupaya:units', 0));
  });

  it('empty sketch estimates 0; duplicates do not count', () => {
    expect(estimateUnits(createUnitSketch())).toBe(0);
    const s = createUnitSketch();
    for (let i = 0; i < 1000; i++) addUnit(s, 'same-user');
    expect(Math.round(estimateUnits(s))).toBe(1);
  });

  it('is exact (rounded) for small counts', () => {
    for (const n of [1, 2, 3, 5, 10, 20, 50]) {
      expect(Math.round(estimateUnits(sketchOf(range(0, n))))).toBe(n);
    }
    for (const n of [100, 200, 500]) {
      expect(relErr(estimateUnits(sketchOf(range(0, n))), n)).toBeLessThan(0.02);
    }
  });

  it('relative error within 4σ of 1.04/√m at n = 1e3, 1e4, 1e5 (several key sets)', () => {
    const sigma = unitSketchStandardError();
    expect(sigma).toBeCloseTo(0.01625, 4);
    for (const n of [1e3, 1e4, 1e5]) {
      for (const prefix of ['user-', 'org:', 'sess_']) {
        const e = estimateUnits(sketchOf(range(0, n, prefix)));
        expect(relErr(e, n), `n=${n} prefix=${prefix} estimate=${e}`).toBeLessThan(4 * sigma);
      }
    }
  });

  it('property: error within 4σ for random key sets (fast-check)', () => {
    const sigma = unitSketchStandardError();
    const m = 2 ** UNIT_SKETCH_PRECISION;
    // Small sets are counted by linear counting (occupied registers), whose error is discrete: two of
    // 8 units sharing a register (p ≈ 0.7%) make the estimate 7, 12.5% off, far beyond 4 × 1.6%. So
    // the bound is 4σ relative, or 4 standard deviations of linear counting (Whang et al. 1990,
    // sd = √(m(e^t − t − 1)), t = n/m) plus the one register a collision costs, whichever is larger.
    const linearCountingSd = (n: number) => Math.sqrt(m * (Math.exp(n / m) - n / m - 1));
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 30_000 }), fc.string({ maxLength: 8 }), (n, prefix) => {
        const e = estimateUnits(sketchOf(range(0, n, `${prefix}#`)));
        return Math.abs(e - n) <= Math.max(4 * sigma * n, 4 * linearCountingSd(n) + 1);
      }),
      { numRuns: 40 },
    );
  });

  it('a collision among a handful of units costs one register, not more (the case behind the bound above)', () => {
    // "Sxf#0" … "Sxf#7": two of the eight share a register (found by the property above).
    const keys = [...range(0, 8, 'Sxf#')];
    const registers = new Set(
      keys.map((k) => murmurHash3(k, UNIT_SKETCH_SEED) >>> (32 - UNIT_SKETCH_PRECISION)),
    );
    expect(registers.size).toBe(7);
    const e = estimateUnits(sketchOf(keys));
    expect(Math.round(e)).toBe(registers.size);
  });

  it('merge is the union: overlapping sets estimate the union, order does not matter', () => {
    const a = sketchOf(range(0, 6000));
    const b = sketchOf(range(4000, 10_000));
    const u = mergeUnitSketches(a, b);
    expect(relErr(estimateUnits(u), 10_000)).toBeLessThan(4 * unitSketchStandardError());
    expect(mergeUnitSketches(b, a).registers).toEqual(u.registers);
    // The same registers as one sketch of every unit: exact, not approximately.
    expect(u.registers).toEqual(sketchOf(range(0, 10_000)).registers);
    // In place, and idempotent.
    const c = sketchOf(range(0, 6000));
    mergeUnitSketchInto(c, b);
    mergeUnitSketchInto(c, b);
    expect(c.registers).toEqual(u.registers);
  });

  it('merges sketches of different precisions at the lower one, as if built there', () => {
    const hi = sketchOf(range(0, 5000), 14);
    const lo = sketchOf(range(2500, 7500), 10);
    const u = mergeUnitSketches(hi, lo);
    expect(u.p).toBe(10);
    expect(u.registers).toEqual(sketchOf(range(0, 7500), 10).registers);
  });

  it('serialises sparse when small, dense when large, and round-trips exactly', () => {
    for (const n of [0, 1, 10, 500, 1000, 2000, 50_000]) {
      const s = sketchOf(range(0, n));
      const wire = serializeUnitSketch(s);
      expect(wire.encoding).toBe(n <= 1000 ? 'sparse' : 'dense');
      const json = JSON.parse(JSON.stringify(wire));
      const back = parseUnitSketch(json);
      expect(back.ok).toBe(true);
      if (back.ok) {
        expect(back.sketch.p).toBe(s.p);
        expect(back.sketch.registers).toEqual(s.registers);
        expect(serializeUnitSketch(back.sketch)).toEqual(wire);
      }
    }
    // Payload size: 4 chars per unit while sparse, 4,096 chars dense at p = 12.
    expect(serializeUnitSketch(sketchOf(range(0, 100))).data.length).toBeLessThanOrEqual(400);
    expect(serializeUnitSketch(sketchOf(range(0, 50_000))).data.length).toBe(4096);
  });

  it('property: round-trip at every precision', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 4, max: 16 }),
        fc.array(fc.string({ maxLength: 12 }), { maxLength: 300 }),
        (p, keys) => {
          const s = sketchOf(keys, p);
          const back = parseUnitSketch(serializeUnitSketch(s));
          return (
            back.ok && back.sketch.p === p && back.sketch.registers.every((r, i) => r === s.registers[i])
          );
        },
      ),
      { numRuns: 60 },
    );
  });

  it('rejects invalid input with a path, never throws', () => {
    const good = serializeUnitSketch(sketchOf(range(0, 10)));
    const dense = serializeUnitSketch(sketchOf(range(0, 5000)));
    const cases: [unknown, string][] = [
      [null, 'w.units'],
      ['abc', 'w.units'],
      [[], 'w.units'],
      [{ ...good, extra: 1 }, 'w.units.extra'],
      [{ ...good, p: 3 }, 'w.units.p'],
      [{ ...good, p: 12.5 }, 'w.units.p'],
      [{ ...good, p: '12' }, 'w.units.p'],
      [{ ...good, encoding: 'raw' }, 'w.units.encoding'],
      [{ ...good, data: 42 }, 'w.units.data'],
      [{ ...good, data: 'not base64!' }, 'w.units.data'],
      [{ ...good, data: 'AAA' }, 'w.units.data'],
      [{ ...good, data: '=AAA' }, 'w.units.data'],
      [{ ...good, data: 'AAAA' }, 'w.units.data'], // index 0 rank 0
      [{ ...good, data: 'AAAB' + 'AAAB' }, 'w.units.data'], // index 0 twice
      [{ ...good, data: '////' }, 'w.units.data'], // index ≥ m
      [{ ...good, data: 'AAB/' }, 'w.units.data'], // rank 63 > 21
      [{ ...dense, data: dense.data.slice(0, -4) }, 'w.units.data'],
      [{ ...dense, data: `/${dense.data.slice(1)}` }, 'w.units.data'], // register 0 = 63
      [{ ...good, data: 'A'.repeat(70_000) }, 'w.units.data'],
    ];
    for (const [input, path] of cases) {
      const r = parseUnitSketch(input, 'w.units');
      expect(r.ok, JSON.stringify(input).slice(0, 80)).toBe(false);
      if (!r.ok) expect(r.errors[0]!.path).toBe(path);
    }
    fc.assert(
      fc.property(fc.anything(), (x) => {
        const r = parseUnitSketch(x);
        return typeof r.ok === 'boolean';
      }),
    );
    fc.assert(
      fc.property(
        fc.base64String({ maxLength: 400 }),
        fc.constantFrom('sparse', 'dense'),
        (data, encoding) => {
          const r = parseUnitSketch({ p: 12, encoding, data });
          return typeof r.ok === 'boolean';
        },
      ),
    );
  });

  it("is independent of the flags' bucketing: a canary cohort (bucket range) is counted as well as any set", () => {
    // Units of one flag's 10% treatment cohort: their bucketing hashes share the top bits.
    const seed = murmurHash3('canary.checkout', 0);
    const cohort: string[] = [];
    for (let i = 0; cohort.length < 5000; i++) {
      const key = `user-${i}`;
      if (Math.floor((murmurHash3(key, seed) * 100_000) / 2 ** 32) < 10_000) cohort.push(key);
    }
    expect(relErr(estimateUnits(sketchOf(cohort)), 5000)).toBeLessThan(4 * unitSketchStandardError());
  });
});
