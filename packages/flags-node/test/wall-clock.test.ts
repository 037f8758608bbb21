import { performance } from 'node:perf_hooks';
import { expect, it } from 'vitest';
import { wallClockAt } from '../src/wall-clock';

it('turns a performance.now() reading into Date.now() time, re-reading the offset after a second', async () => {
  for (const wait of [0, 1_100]) {
    await new Promise((r) => setTimeout(r, wait));
    const before = Date.now();
    const at = wallClockAt(performance.now());
    const after = Date.now();
    // The two clocks agree to within a couple of milliseconds (Date.now() has 1-ms resolution).
    expect(at).toBeGreaterThanOrEqual(before - 2);
    expect(at).toBeLessThanOrEqual(after + 2);
  }
  // Readings of one moment map to one wall-clock time; later readings to later times.
  const mono = performance.now();
  expect(wallClockAt(mono)).toBe(wallClockAt(mono));
  expect(wallClockAt(mono + 250)).toBeCloseTo(wallClockAt(mono) + 250, 6);
});
