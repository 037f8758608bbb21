import type { Cohort, EvaluationResult, Snapshot } from '@rupaya/flags-core';
import type { Logger } from './logger';
import type { BackoffOptions } from './sync/backoff';

export type ReadyState = 'READY' | 'STALE' | 'NOT_READY';

/** Where the snapshot in use came from. */
export type SnapshotSource = 'live' | 'cache' | 'bootstrap';

export interface DbPoolSaturation {
  /** Connections in use / pool size, percent. */
  saturationPercent: number;
  /** Callers waiting for a connection. */
  waiters?: number;
}

export interface MetricsOptions {
  /** Default true. */
  enabled?: boolean;
  /** How often to send; default the snapshot's `metricsFlushMs`, else 10,000 ms. */
  flushIntervalMs?: number;
  /** Window length when the snapshot advertises none (default 10,000 ms). */
  windowMs?: number;
  /** Bound of buffered records (windows + exposures + events); the oldest are dropped beyond it. Default 10,000. */
  maxBufferedRecords?: number;
  /** Resource gauges (heap, RSS, CPU, event-loop delay); default true. */
  gauges?: boolean;
  /** Optional: DB pool saturation reported with the gauges. */
  dbPool?: () => DbPoolSaturation | undefined;
  /**
   * A file where `close()` keeps the batches it could not deliver (control plane unreachable); the
   * next client started with the same file and SDK key sends them first. Default: none (lost).
   */
  spoolFile?: string;
}

export interface ClientOptions {
  /** Base URL of the control plane, e.g. `http://127.0.0.1:4000`. */
  url: string;
  /** SDK key of one environment. */
  sdkKey: string;
  /** Keep an SSE connection open (default true); polling still runs as a safety net. */
  streaming?: boolean;
  /** ETag poll interval, ms (default 30,000). */
  pollIntervalMs?: number;
  /** Connect/headers/body timeout of each request, ms (default 10,000). */
  requestTimeoutMs?: number;
  /**
   * Where the SDK's HTTP runs (default `'worker'`): `'worker'` runs undici on a worker thread, so
   * the application's thread only evaluates and aggregates (on Node 20 a main thread that has run
   * undici serves measurably slower for the rest of its life); `'inline'` runs undici on the
   * calling thread, no worker. When the worker script is missing (a bundle that left it out), the
   * client falls back to `'inline'` and logs it at debug level.
   */
  transport?: 'worker' | 'inline';
  /** A stream silent (no heartbeat) for this long is reconnected, ms (default 45,000). */
  streamIdleTimeoutMs?: number;
  /** Reconnect/retry backoff (full jitter). */
  backoff?: BackoffOptions;
  /** Last good snapshot kept here (written atomically) and loaded at start. */
  cacheFile?: string;
  /** A snapshot to serve (as STALE) until a live one arrives. */
  bootstrap?: Snapshot | string;
  /** Expected environment; by default the first accepted snapshot's environment binds the client. */
  environment?: string;
  metrics?: MetricsOptions;
  logger?: Logger;
  /** Stable id of this process in metric batches (default: random per client). */
  instanceId?: string;
}

/** One flag's contribution to a request, for canary and experiment metrics. */
export interface ServedFlag {
  flag: string;
  cohort?: Cohort | string;
  variant?: string;
  stage?: number;
  /**
   * The request's unit key for this flag (its `bucketBy` attribute, `userId` by default): counted
   * once per window in the distinct units of (flag, cohort or variant, stage). Absent: not counted.
   */
  unit?: string | undefined;
}

export interface RequestRecord {
  /** Route pattern, e.g. `/checkout/:id` (not the raw URL). */
  route: string;
  method: string;
  status: number;
  durationMs: number;
  served?: ServedFlag[];
}

export interface ChangeEvent {
  previousRevision: number | undefined;
  revision: number;
  changedKeys: string[];
  source: SnapshotSource;
}

export interface ClientEvents {
  ready: [{ revision: number }];
  change: [ChangeEvent];
  stale: [{ revision: number | undefined; reason: string }];
  error: [Error];
}

export type { EvaluationResult };
