import { performance } from 'node:perf_hooks';

let offset = Date.now() - performance.now();
let syncedAt = performance.now();

/**
 * Wall-clock ms (like `Date.now()`) of a `performance.now()` reading, without a second clock read
 * per request: the offset between the two clocks is re-read at most once a second, so a stepped
 * system clock shows within a second.
 */
export function wallClockAt(mono: number): number {
  if (mono - syncedAt > 1_000 || mono < syncedAt) {
    const now = performance.now();
    offset = Date.now() - now;
    syncedAt = now;
  }
  return offset + mono;
}
