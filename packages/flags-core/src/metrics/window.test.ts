import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LatencySketch } from './sketch';
import type { SerializedWindow } from './types';
import { alignWindow, mergeWindows, validateSerializedWindow, WindowAggregate } from './window';

const key = {
  flag: 'canary.checkout',
  cohort: 'treatment',
  endpoint: 'GET /checkout',
  windowStart: 20_000,
  durationMs: 10_000,
};

describe('alignWindow', () => {
  it('floors to the interval', () => {
    expect(alignWindow(1_700_000_012_345, 10_000)).toBe(1_700_000_010_000);
    expect(alignWindow(1_700_000_010_000, 10_000)).toBe(1_700_000_010_000);
    expect(alignWindow(9_999, 10_000)).toBe(0);
    expect(alignWindow(-1, 10_000)).toBe(-10_000);
    expect(alignWindow(1234, 300)).toBe(1200);
  });

  it('property: aligned start ≤ t < start + interval, and the same for every t of the window', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4e12 }), fc.integer({ min: 1, max: 3_600_000 }), (t, w) => {
        const s = alignWindow(t, w);
        return s <= t && t < s + w && s % w === 0 && alignWindow(s + w - 1, w) === s;
      }),
    );
  });

  it('rejects a bad interval', () => {
    expect(() => alignWindow(1, 0)).toThrow(/intervalMs/);
    expect(() => alignWindow(1, Number.NaN)).toThrow(/intervalMs/);
  });
});

describe('WindowAggregate', () => {
  it('counts requests and errors, derives rps, error rate and quantiles', () => {
    const w = new WindowAggregate(key);
    for (let i = 1; i <= 1000; i++) {
      w.record(i, i % 20 === 0 ? { error: true, status: 500 } : {});
    }
    const s = w.summary();
    expect(s.requests).toBe(1000);
    expect(s.errors).toBe(50);
    expect(s.errorRate).toBe(0.05);
    expect(s.rps).toBe(100);
    expect(Math.abs(s.p50! - 500) / 500).toBeLessThanOrEqual(0.01);
    expect(Math.abs(s.p95! - 950) / 950).toBeLessThanOrEqual(0.01);
    expect(Math.abs(s.p99! - 990) / 990).toBeLessThanOrEqual(0.01);
    expect(s.topErrors).toEqual([{ endpoint: 'GET /checkout', status: 500, count: 50 }]);
  });

  it('empty window: null rates and quantiles, rps 0', () => {
    const s = new WindowAggregate(key).summary();
    expect(s).toMatchObject({
      requests: 0,
      errors: 0,
      errorRate: null,
      rps: 0,
      p50: null,
      p95: null,
      p99: null,
    });
    expect(s.topErrors).toEqual([]);
  });

  it('groups errors by endpoint and status, top-k largest first with stable ties', () => {
    const w = new WindowAggregate({ ...key, endpoint: '*' });
    const hit = (endpoint: string, status: number, n: number) => {
      for (let i = 0; i < n; i++) w.record(10, { error: true, status, endpoint });
    };
    hit('GET /a', 500, 7);
    hit('GET /b', 503, 3);
    hit('GET /a', 502, 3);
    hit('POST /c', 500, 12);
    expect(w.topErrors(3)).toEqual([
      { endpoint: 'POST /c', status: 500, count: 12 },
      { endpoint: 'GET /a', status: 500, count: 7 },
      { endpoint: 'GET /a', status: 502, count: 3 },
    ]);
  });

  it('error groups stay bounded and the heavy hitters survive (space-saving)', () => {
    const w = new WindowAggregate(key, { errorGroupCapacity: 8 });
    for (let i = 0; i < 500; i++) w.record(5, { error: true, status: 500, endpoint: 'GET /hot' });
    for (let i = 0; i < 300; i++)
      w.record(5, { error: true, status: 400 + (i % 97), endpoint: `GET /cold/${i}` });
    for (let i = 0; i < 200; i++) w.record(5, { error: true, status: 502, endpoint: 'GET /warm' });
    const top = w.topErrors(64);
    expect(top.length).toBe(8);
    expect(top[0]).toEqual({ endpoint: 'GET /hot', status: 500, count: 500 });
    const warm = top.find((g) => g.endpoint === 'GET /warm');
    // Space-saving never under-counts a tracked group.
    expect(warm!.count).toBeGreaterThanOrEqual(200);
    expect(w.errors).toBe(1000);
  });

  it('serialises, validates and round-trips', () => {
    const w = new WindowAggregate({ ...key, stage: 2, variant: 'on' });
    for (let i = 0; i < 100; i++) w.record(20 + i, i < 3 ? { error: true, status: 500 } : {});
    const wire = JSON.parse(JSON.stringify(w.toSerialized())) as SerializedWindow;
    expect(validateSerializedWindow(wire)).toEqual([]);
    expect(wire).toMatchObject({
      flag: key.flag,
      cohort: 'treatment',
      variant: 'on',
      stage: 2,
      requests: 100,
      errors: 3,
    });
    const back = WindowAggregate.fromSerialized(wire);
    expect(back.summary()).toEqual(w.summary());
    expect(back.toSerialized()).toEqual(wire);
  });

  it('merge of instances equals one aggregate of all requests', () => {
    const all = new WindowAggregate(key);
    const parts = [new WindowAggregate(key), new WindowAggregate(key), new WindowAggregate(key)];
    for (let i = 0; i < 900; i++) {
      const outcome = i % 13 === 0 ? { error: true, status: 500 + (i % 3) } : {};
      all.record(1 + (i % 250), outcome);
      parts[i % 3]!.record(1 + (i % 250), outcome);
    }
    const merged = new WindowAggregate(key);
    merged.merge(parts[0]!).merge(parts[1]!.toSerialized()).merge(parts[2]!);
    expect(merged.summary()).toEqual(all.summary());
  });

  it('units: distinct unit keys per window, union on merge, carried through serialisation', () => {
    const a = new WindowAggregate(key);
    const b = new WindowAggregate({ ...key, endpoint: 'POST /pay' });
    for (let i = 0; i < 300; i++) {
      a.record(5);
      a.recordUnit(`user-${i % 30}`); // 300 requests from 30 units
    }
    for (let i = 20; i < 50; i++) b.recordUnit(`user-${i}`);
    expect(Math.round(a.unitCount!)).toBe(30);
    expect(new WindowAggregate(key).summary().units).toBeNull();
    const wire = JSON.parse(JSON.stringify(a.toSerialized())) as SerializedWindow;
    expect(wire.units).toMatchObject({ p: 12, encoding: 'sparse' });
    expect(validateSerializedWindow(wire)).toEqual([]);
    expect(WindowAggregate.fromSerialized(wire).summary()).toEqual(a.summary());
    // Union over windows, whichever endpoint row carries them (users 0–49).
    const merged = mergeWindows([wire, b.toSerialized(), new WindowAggregate(key).toSerialized()], {
      endpoint: '*',
    })!;
    expect(Math.round(merged.summary().units!)).toBe(50);
    expect(merged.requests).toBe(300);
    // A window without units merged into one with units keeps them; into one without, adds them.
    const plain = new WindowAggregate(key).merge(wire);
    expect(Math.round(plain.unitCount!)).toBe(30);
    expect(() =>
      new WindowAggregate(key).merge({ ...wire, units: { p: 1, encoding: 'dense', data: '' } }),
    ).toThrow(/units\.p/);
  });

  it('merging later windows widens the span: rps is over the covered time', () => {
    const a = new WindowAggregate(key);
    const b = new WindowAggregate({ ...key, windowStart: key.windowStart + 10_000 });
    for (let i = 0; i < 100; i++) a.record(5);
    for (let i = 0; i < 300; i++) b.record(5);
    a.merge(b);
    expect(a.windowStart).toBe(20_000);
    expect(a.durationMs).toBe(20_000);
    expect(a.rps).toBe(20);
  });

  it('mergeWindows over many serialised windows', () => {
    const windows: SerializedWindow[] = [];
    for (let k = 0; k < 6; k++) {
      const w = new WindowAggregate({ ...key, windowStart: k * 10_000 });
      for (let i = 0; i < 50; i++) w.record(100 + k, i === 0 ? { error: true, status: 503 } : {});
      windows.push(w.toSerialized());
    }
    const m = mergeWindows(windows)!;
    expect(m.requests).toBe(300);
    expect(m.errors).toBe(6);
    expect(m.windowStart).toBe(0);
    expect(m.durationMs).toBe(60_000);
    expect(m.rps).toBe(5);
    expect(m.topErrors()).toEqual([{ endpoint: key.endpoint, status: 503, count: 6 }]);
    expect(mergeWindows([])).toBeNull();
    expect(mergeWindows(windows, { endpoint: '*' })!.endpoint).toBe('*');
  });
});

describe('validateSerializedWindow', () => {
  const good = (): SerializedWindow => {
    const w = new WindowAggregate(key);
    w.record(10, { error: true, status: 500 });
    w.record(12);
    return w.toSerialized();
  };

  it('accepts a good window and names every bad field', () => {
    expect(validateSerializedWindow(good())).toEqual([]);
    const cases: [unknown, string][] = [
      [null, 'window'],
      [{ ...good(), windowStart: -1 }, 'window.windowStart'],
      [{ ...good(), windowStart: 20_001 }, 'window.windowStart'],
      [{ ...good(), durationMs: 0 }, 'window.durationMs'],
      [{ ...good(), durationMs: 1e12 }, 'window.durationMs'],
      [{ ...good(), flag: '' }, 'window.flag'],
      [{ ...good(), flag: 'x'.repeat(300) }, 'window.flag'],
      [{ ...good(), endpoint: 5 }, 'window.endpoint'],
      [{ ...good(), cohort: '' }, 'window.cohort'],
      [{ ...good(), variant: 3 }, 'window.variant'],
      [{ ...good(), stage: -1 }, 'window.stage'],
      [{ ...good(), requests: 1.5 }, 'window.requests'],
      [{ ...good(), errors: -1 }, 'window.errors'],
      [{ ...good(), errors: 3 }, 'window.errors'],
      [{ ...good(), topErrors: {} }, 'window.topErrors'],
      [
        { ...good(), topErrors: new Array(65).fill({ endpoint: 'a', status: 500, count: 1 }) },
        'window.topErrors',
      ],
      [{ ...good(), topErrors: [null] }, 'window.topErrors[0]'],
      [{ ...good(), topErrors: [{ endpoint: '', status: 500, count: 1 }] }, 'window.topErrors[0].endpoint'],
      [{ ...good(), topErrors: [{ endpoint: 'a', status: 5000, count: 1 }] }, 'window.topErrors[0].status'],
      [{ ...good(), topErrors: [{ endpoint: 'a', status: 500, count: -2 }] }, 'window.topErrors[0].count'],
      [{ ...good(), latency: { ...new LatencySketch().serialize(), alpha: 2 } }, 'window.latency.alpha'],
      [{ ...good(), latency: undefined }, 'window.latency'],
      [{ ...good(), units: { p: 12, encoding: 'sparse', data: '!!' } }, 'window.units.data'],
      [{ ...good(), units: 'x' }, 'window.units'],
    ];
    for (const [input, path] of cases) {
      expect(validateSerializedWindow(input).map((e) => e.path)).toContain(path);
    }
  });
});
