// Wire and storage shapes of metrics: what an SDK instance reports per aligned window, and what the
// control plane merges. Fixed size per (flag, cohort/variant, endpoint) and window: counts and a
// sketch, never raw samples.

/** A serialised latency sketch (DDSketch-style, relative accuracy `alpha`). */
export interface SerializedSketch {
  /** Relative accuracy, e.g. 0.01. */
  alpha: number;
  /** Count of values ≤ the smallest trackable value (including zeros). */
  zeroCount: number;
  /** Lowest bucket index present; `counts[i]` is the count of bucket `offset + i`. */
  offset: number;
  counts: number[];
  count: number;
  sum: number;
  min: number;
  max: number;
}

/**
 * A serialised distinct-unit sketch (HyperLogLog, see `units.ts`): 2^p registers, base64 in
 * `data` — `sparse`: 3 bytes per set register (`index << 6 | rank`, big-endian, ascending index);
 * `dense`: every register in 6 bits, big-endian.
 */
export interface SerializedUnitSketch {
  p: number;
  encoding: 'sparse' | 'dense';
  data: string;
}

/** Errors of a window grouped by endpoint and status, top-k by count. */
export interface ErrorGroup {
  endpoint: string;
  status: number;
  count: number;
}

/** What one SDK instance measured for one series in one aligned window. */
export interface SerializedWindow {
  /** `floor(epochMs / durationMs) * durationMs`. */
  windowStart: number;
  durationMs: number;
  flag: string;
  /** Canary/rollout cohort (`treatment | control | none`) or experiment variant key. */
  cohort?: string;
  variant?: string;
  /** Canary stage index when the window was served (if known). */
  stage?: number;
  /** Route pattern, e.g. `GET /checkout/:id`; `*` for all. */
  endpoint: string;
  requests: number;
  errors: number;
  /** Top errors by endpoint and status (k = 10). */
  topErrors: ErrorGroup[];
  latency: SerializedSketch;
  /**
   * Distinct unit keys served this series' flag and cohort/variant in the window (optional; older
   * SDKs omit it). Counted per (flag, cohort/variant, stage) across endpoints, so an SDK sends it on
   * one of the series' endpoint windows; merged windows hold the union.
   */
  units?: SerializedUnitSketch;
}

/** Resource gauges of one SDK instance for one window (any may be absent). */
export interface GaugeWindow {
  windowStart: number;
  durationMs: number;
  heapUsedPercent?: number;
  rssBytes?: number;
  cpuPercent?: number;
  eventLoopDelayP99Ms?: number;
  dbPoolSaturationPercent?: number;
  dbPoolWaiters?: number;
}

/** Body of `POST /api/sdk/v1/metrics`. */
export interface MetricsBatch {
  /** Stable id of the reporting process. */
  instanceId: string;
  /** Idempotency key: a retried batch carries the same key and is counted once. */
  batchKey: string;
  sdk?: { name: string; version: string };
  windows: SerializedWindow[];
  gauges?: GaugeWindow[];
  /** Evaluations per flag and variant since the last batch (for flag usage and /health). */
  evaluations?: { flag: string; variant: string | null; count: number }[];
  /** Records dropped because the buffer was full. */
  dropped?: number;
}

/** Body of `POST /api/sdk/v1/exposures`: first exposure of a unit to a flag's variant in a window. */
export interface ExposureBatch {
  instanceId: string;
  batchKey: string;
  exposures: { flag: string; unitKey: string; variant: string; timestamp: number; revision?: number }[];
}

/** Body of `POST /api/sdk/v1/events`: `track(event, ctx, value?)` calls. */
export interface EventBatch {
  instanceId: string;
  batchKey: string;
  events: { event: string; unitKey: string; value?: number; timestamp: number }[];
}
