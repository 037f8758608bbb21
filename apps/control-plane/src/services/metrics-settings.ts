// Settings of the metrics, canary-automation and webhook areas, read from the raw environment the
// control plane keeps (`config.env`). A bad value throws a ConfigError naming the variable.
import { type Config, ConfigError } from '../config';

export interface MetricsSettings {
  /** METRICS_RAW_RETENTION: how long raw windows are kept before their 1-minute roll-up (default 7d). */
  rawRetentionMs: number;
  /** METRICS_ROLLUP_RETENTION: how long 1-minute roll-ups are kept (default 90d). */
  rollupRetentionMs: number;
  /** METRICS_ROLLUP_INTERVAL: how often the leader rolls up and prunes (default 60s). */
  rollupIntervalMs: number;
  /** WEBHOOK_MAX_RETRIES: retries after the first attempt (default 8). */
  webhookMaxRetries: number;
  /** WEBHOOK_RETRY_BASE_MS / WEBHOOK_RETRY_MAX_MS: first and last retry delay (default 1 s → 10 min). */
  webhookRetryBaseMs: number;
  webhookRetryMaxMs: number;
  /** WEBHOOK_POLL_MS: how often the leader looks for due deliveries (default 1000). */
  webhookPollMs: number;
  /** WEBHOOK_TIMEOUT_MS: per-attempt HTTP timeout (default 5000). */
  webhookTimeoutMs: number;
  /** SCHEDULER_ENABLED: run the canary scheduler and deliverer on this replica (default true). */
  schedulerEnabled: boolean;
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `7d`, `12h`, `30m`, `45s`, `500ms`, or a plain number of milliseconds. */
export function parseDuration(name: string, raw: string | undefined, fallbackMs: number): number {
  if (raw === undefined || raw.trim() === '') return fallbackMs;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(raw);
  if (!m) throw new ConfigError(name, `expected a duration like 7d, 12h, 30m, 45s or 500ms, got "${raw}"`);
  const ms = Number(m[1]) * UNITS[m[2] ?? 'ms']!;
  if (!(ms >= 1)) throw new ConfigError(name, `must be at least 1 ms, got "${raw}"`);
  return ms;
}

function int(
  env: Record<string, string | undefined>,
  name: string,
  fallback: number,
  min: number,
  max: number,
) {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(name, `must be an integer between ${min} and ${max}, got "${raw}"`);
  }
  return n;
}

export function loadMetricsSettings(config: Pick<Config, 'env'>): MetricsSettings {
  const env = config.env;
  const enabled = (env.SCHEDULER_ENABLED ?? 'true').trim().toLowerCase();
  if (!['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'].includes(enabled)) {
    throw new ConfigError('SCHEDULER_ENABLED', `expected true or false, got "${env.SCHEDULER_ENABLED}"`);
  }
  return {
    rawRetentionMs: parseDuration('METRICS_RAW_RETENTION', env.METRICS_RAW_RETENTION, 7 * UNITS.d!),
    rollupRetentionMs: parseDuration('METRICS_ROLLUP_RETENTION', env.METRICS_ROLLUP_RETENTION, 90 * UNITS.d!),
    rollupIntervalMs: parseDuration('METRICS_ROLLUP_INTERVAL', env.METRICS_ROLLUP_INTERVAL, 60_000),
    webhookMaxRetries: int(env, 'WEBHOOK_MAX_RETRIES', 8, 0, 100),
    webhookRetryBaseMs: int(env, 'WEBHOOK_RETRY_BASE_MS', 1000, 1, 86_400_000),
    webhookRetryMaxMs: int(env, 'WEBHOOK_RETRY_MAX_MS', 600_000, 1, 86_400_000),
    webhookPollMs: int(env, 'WEBHOOK_POLL_MS', 1000, 10, 3_600_000),
    webhookTimeoutMs: int(env, 'WEBHOOK_TIMEOUT_MS', 5000, 10, 600_000),
    schedulerEnabled: ['true', '1', 'yes', 'on'].includes(enabled),
  };
}
