import { describe, expect, it } from 'vitest';
import { Backoff } from './backoff';

describe('Backoff (full jitter)', () => {
  it('doubles the ceiling per failure up to the cap and draws uniformly below it', () => {
    const draws = [0.999, 0.5, 0, 0.25, 0.999, 0.999, 0.999];
    let i = 0;
    const b = new Backoff({ initialMs: 100, maxMs: 1000, random: () => draws[i++]! });
    expect(b.ceiling()).toBe(100);
    expect(b.next()).toBe(99); // floor(0.999 * 100)
    expect(b.ceiling()).toBe(200);
    expect(b.next()).toBe(100); // 0.5 * 200
    expect(b.next()).toBe(0); // 0 * 400
    expect(b.next()).toBe(200); // 0.25 * 800
    expect(b.next()).toBe(999); // capped at 1000
    expect(b.ceiling()).toBe(1000);
    expect(b.attempts).toBe(5);
  });

  it('resets to the first ceiling', () => {
    const b = new Backoff({ initialMs: 50, maxMs: 10_000, random: () => 0.5 });
    for (let k = 0; k < 10; k++) b.next();
    expect(b.ceiling()).toBe(10_000);
    b.reset();
    expect(b.ceiling()).toBe(50);
    expect(b.next()).toBe(25);
  });

  it('never overflows after very many failures', () => {
    const b = new Backoff({ initialMs: 500, maxMs: 30_000, random: () => 0.999999 });
    let last = 0;
    for (let k = 0; k < 5000; k++) last = b.next();
    expect(last).toBe(29_999);
  });

  it('spreads delays over the whole range with the real random source', () => {
    const b = new Backoff({ initialMs: 1000, maxMs: 1000 });
    const delays = Array.from({ length: 2000 }, () => b.next());
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...delays)).toBeLessThan(1000);
    // Uniform on [0, 1000): each quarter holds about 500 of 2000 draws.
    for (let q = 0; q < 4; q++) {
      const n = delays.filter((d) => d >= q * 250 && d < (q + 1) * 250).length;
      expect(n).toBeGreaterThan(380);
      expect(n).toBeLessThan(620);
    }
  });
});
