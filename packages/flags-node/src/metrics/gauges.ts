import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import type { GaugeWindow } from '@rupaya/flags-core';
import type { DbPoolSaturation } from '../types';

export type GaugeSample = Omit<GaugeWindow, 'windowStart' | 'durationMs'>;

/**
 * Samples the process gauges the rollback monitor compares against its limits. Each `sample()`
 * covers the time since the previous one: CPU is the share of one core used in that span, the
 * event-loop delay P99 is over that span (the histogram is reset after every sample).
 */
export class GaugeSampler {
  private readonly loopDelay: IntervalHistogram;
  private lastCpu = process.cpuUsage();
  private lastWall = process.hrtime.bigint();

  constructor(private readonly dbPool?: () => DbPoolSaturation | undefined) {
    // 10 ms resolution: the delay of interest is hundreds of ms; finer sampling costs timer wakeups.
    this.loopDelay = monitorEventLoopDelay({ resolution: 10 });
    this.loopDelay.enable();
  }

  sample(): GaugeSample {
    const heap = getHeapStatistics();
    const now = process.hrtime.bigint();
    const cpu = process.cpuUsage(this.lastCpu);
    const wallUs = Number(now - this.lastWall) / 1000;
    this.lastCpu = process.cpuUsage();
    this.lastWall = now;
    const out: GaugeSample = {
      heapUsedPercent: round2((heap.used_heap_size / heap.heap_size_limit) * 100),
      rssBytes: process.memoryUsage.rss(),
    };
    if (wallUs > 0) out.cpuPercent = round2(((cpu.user + cpu.system) / wallUs) * 100);
    if (this.loopDelay.count > 0) out.eventLoopDelayP99Ms = round2(this.loopDelay.percentile(99) / 1e6);
    this.loopDelay.reset();
    if (this.dbPool) {
      try {
        const pool = this.dbPool();
        if (pool) {
          out.dbPoolSaturationPercent = round2(pool.saturationPercent);
          if (pool.waiters !== undefined) out.dbPoolWaiters = pool.waiters;
        }
      } catch {
        // A failing user callback must not stop the other gauges.
      }
    }
    return out;
  }

  stop(): void {
    this.loopDelay.disable();
  }
}

/** Worst value of each gauge over the samples of a window. */
export function mergeGaugeSamples(a: GaugeSample, b: GaugeSample): GaugeSample {
  const out: GaugeSample = { ...a };
  for (const key of Object.keys(b) as (keyof GaugeSample)[]) {
    const value = b[key];
    if (value === undefined) continue;
    const prev = out[key];
    out[key] = prev === undefined ? value : Math.max(prev, value);
  }
  return out;
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
