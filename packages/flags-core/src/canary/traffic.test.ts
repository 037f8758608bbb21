import { describe, expect, it } from 'vitest';
import { allowedTrafficGap, MIN_TRAFFIC_SAMPLE, trafficShare } from './traffic';

describe('traffic share', () => {
  it('allows 4 binomial standard deviations, at least 1 point', () => {
    // p = 0.10, n = 400: sd = sqrt(0.09 / 400) = 0.015 → 4 sd = 6 points.
    expect(allowedTrafficGap(10, 400)).toBeCloseTo(6, 10);
    // A large sample: the floor of 1 point.
    expect(allowedTrafficGap(10, 1e7)).toBe(1);
    // Sketch error adds 2·(p·ε)²: p = 0.5, n = 1e6, ε = 0.0163.
    const expected = 400 * Math.sqrt(0.25 / 1e6 + 2 * (0.5 * 0.0163) ** 2);
    expect(allowedTrafficGap(50, 1e6, 0.0163)).toBeCloseTo(expected, 10);
    // Another number of standard deviations: 2 sd = 3 points; trafficShare passes it through.
    expect(allowedTrafficGap(10, 400, 0, 2)).toBeCloseTo(3, 10);
    const strict = trafficShare(10, 56, 400, { sigmas: 2 });
    expect(strict.allowedGap).toBeCloseTo(3, 10);
    expect(strict.ok).toBe(false);
    expect(trafficShare(10, 56, 400)).toMatchObject({ ok: true });
  });

  it('judges the observed share against the configured percent', () => {
    const near = trafficShare(10, 40, 400);
    expect(near).toMatchObject({ observedPercent: 10, gap: 0, ok: true });
    expect(near.allowedGap).toBeCloseTo(6, 10);
    const far = trafficShare(10, 80, 400);
    expect(far).toMatchObject({ observedPercent: 20, gap: 10, ok: false });
    expect(far.allowedGap).toBeCloseTo(6, 10);
  });

  it('does not judge without traffic or below the minimum sample; estimates are capped at 100%', () => {
    expect(trafficShare(10, 0, 0)).toEqual({ observedPercent: null, gap: null, allowedGap: null, ok: true });
    expect(trafficShare(1, 50, MIN_TRAFFIC_SAMPLE - 1)).toMatchObject({ ok: true });
    expect(trafficShare(1, 50, MIN_TRAFFIC_SAMPLE)).toMatchObject({ ok: false });
    expect(trafficShare(50, 1010.4, 1000.2).observedPercent).toBe(100);
  });
});
