import { resolve as resolvePath } from 'node:path';

// Environment variables of the control plane, parsed and validated once at start-up.
// A bad value throws a ConfigError naming the variable, so the process stops with a clear message.

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

export type RoleName = 'viewer' | 'editor' | 'admin';

/** One OIDC claim → role mapping: every listed claim must equal the given value. */
export interface OidcRoleMappingEntry {
  claims: Record<string, string>;
  role: RoleName;
}

export interface Config {
  port: number;
  host: string;
  /** Postgres URL; when absent, embedded PGlite is used. */
  databaseUrl: string | undefined;
  /** PGlite data folder (also where the generated admin token is written). */
  dataDir: string;
  /** PGlite fully in memory (tests); `dataDir` is still used for the admin-token file unless unset. */
  pgliteInMemory: boolean;
  adminApiToken: string | undefined;
  jwtSecret: string | undefined;
  oidcIssuer: string | undefined;
  oidcAudience: string | undefined;
  oidcRoleMapping: OidcRoleMappingEntry[];
  defaultEnvironment: string;
  /** FEATURE_FLAGS_CACHE_TTL: SDK max staleness, seconds, advertised in snapshots. */
  cacheTtlSec: number;
  /** METRICS_WINDOW_SIZE: span the rollback monitor analyses, seconds. */
  metricsWindowSizeSec: number;
  /** METRICS_AGGREGATION_INTERVAL: window length, ms (advertised as metricsWindowMs). */
  metricsAggregationIntervalMs: number;
  /** METRICS_FLUSH_INTERVAL: how often SDKs flush, ms (advertised as metricsFlushMs; default the window length). */
  metricsFlushMs: number;
  rollbackErrorRateThreshold: number;
  rollbackResponseTimeThresholdMs: number;
  rollbackCircuitBreakerEnabled: boolean;
  /** SSE_HEARTBEAT_MS: heartbeat comment interval of the SSE stream. */
  sseHeartbeatMs: number;
  /** DB_PROBE_INTERVAL_MS: how often the storage health probe runs (also picks up missed revisions). */
  dbProbeIntervalMs: number;
  /** DB_CONNECT_TIMEOUT_MS: Postgres connect timeout. */
  dbConnectTimeoutMs: number;
  /** SEED_ON_EMPTY: seed the default flags when the database has no environment yet (default true). */
  seedOnEmpty: boolean;
  /**
   * LEAN_HEAP: keep V8's young generation at its initial size (semi-space growth factor 1) in the
   * `rupaya-control-plane` process — about 25 MB less resident memory for a few more minor GCs.
   */
  leanHeap: boolean;
  /** RUPAYA_FLAGS_FILE: the flags file seeding reads (default: the repository's config/feature-flags.json). */
  flagsFile: string | undefined;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** The raw environment, for settings other areas read themselves. */
  env: Record<string, string | undefined>;
}

export type ConfigEnv = Record<string, string | undefined>;

const ENV_KEY = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

function str(env: ConfigEnv, name: string): string | undefined {
  const v = env[name];
  if (v === undefined) return undefined;
  const t = v.trim();
  return t === '' ? undefined : t;
}

function num(
  env: ConfigEnv,
  name: string,
  fallback: number,
  { min, max, integer }: { min: number; max: number; integer?: boolean },
): number {
  const raw = str(env, name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n)) throw new ConfigError(name, `expected a number, got "${raw}"`);
  if (integer && !Number.isInteger(n)) throw new ConfigError(name, `expected an integer, got "${raw}"`);
  if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${n}`);
  return n;
}

function bool(env: ConfigEnv, name: string, fallback: boolean): boolean {
  const raw = str(env, name);
  if (raw === undefined) return fallback;
  const v = raw.toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(v)) return true;
  if (['false', '0', 'no', 'off'].includes(v)) return false;
  throw new ConfigError(name, `expected true or false, got "${raw}"`);
}

function parseRoleMapping(raw: string | undefined): OidcRoleMappingEntry[] {
  const name = 'OIDC_ROLE_MAPPING';
  if (raw === undefined) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConfigError(name, 'is not valid JSON');
  }
  // Accepted: an array of { claims: { claim: value }, role }, or one such object.
  const list = Array.isArray(parsed) ? parsed : [parsed];
  return list.map((entry, i) => {
    if (typeof entry !== 'object' || entry === null) {
      throw new ConfigError(name, `entry ${i} must be an object { claims, role }`);
    }
    const { claims, role } = entry as { claims?: unknown; role?: unknown };
    if (role !== 'viewer' && role !== 'editor' && role !== 'admin') {
      throw new ConfigError(name, `entry ${i}: role must be viewer, editor or admin`);
    }
    if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) {
      throw new ConfigError(name, `entry ${i}: claims must be an object of claim → value`);
    }
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(claims)) {
      if (typeof v !== 'string') throw new ConfigError(name, `entry ${i}: claim "${k}" must be a string`);
      out[k] = v;
    }
    return { claims: out, role };
  });
}

function parseUrl(name: string, raw: string | undefined, protocols: string[]): string | undefined {
  if (raw === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(name, 'is not a valid URL');
  }
  if (!protocols.includes(url.protocol)) {
    throw new ConfigError(name, `must use ${protocols.join(' or ')}, got ${url.protocol}`);
  }
  return raw;
}

export function loadConfig(env: ConfigEnv = process.env): Config {
  const defaultEnvironment = str(env, 'DEFAULT_ENVIRONMENT') ?? 'dev';
  if (!ENV_KEY.test(defaultEnvironment)) {
    throw new ConfigError('DEFAULT_ENVIRONMENT', 'must match [a-z0-9][a-z0-9_-]*');
  }
  const logLevel = (str(env, 'LOG_LEVEL') ?? 'info') as Config['logLevel'];
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError('LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}`);
  }
  const adminApiToken = str(env, 'ADMIN_API_TOKEN');
  if (adminApiToken !== undefined && adminApiToken.length < 16) {
    throw new ConfigError('ADMIN_API_TOKEN', 'must be at least 16 characters');
  }
  const jwtSecret = str(env, 'JWT_SECRET');
  if (jwtSecret !== undefined && jwtSecret.length < 32) {
    throw new ConfigError('JWT_SECRET', 'must be at least 32 characters');
  }
  const oidcIssuer = parseUrl('OIDC_ISSUER', str(env, 'OIDC_ISSUER'), ['https:', 'http:']);
  const oidcAudience = str(env, 'OIDC_AUDIENCE');
  const metricsAggregationIntervalMs = num(env, 'METRICS_AGGREGATION_INTERVAL', 10_000, {
    min: 10,
    max: 3_600_000,
    integer: true,
  });
  return {
    port: num(env, 'PORT', 3000, { min: 0, max: 65535, integer: true }),
    host: str(env, 'HOST') ?? '127.0.0.1',
    databaseUrl: parseUrl('DATABASE_URL', str(env, 'DATABASE_URL'), ['postgres:', 'postgresql:']),
    dataDir: str(env, 'RUPAYA_DATA_DIR') ?? './.rupaya/data',
    pgliteInMemory: bool(env, 'RUPAYA_PGLITE_MEMORY', false),
    adminApiToken,
    jwtSecret,
    oidcIssuer,
    oidcAudience,
    oidcRoleMapping: parseRoleMapping(str(env, 'OIDC_ROLE_MAPPING')),
    defaultEnvironment,
    cacheTtlSec: num(env, 'FEATURE_FLAGS_CACHE_TTL', 300, { min: 1, max: 86_400, integer: true }),
    metricsWindowSizeSec: num(env, 'METRICS_WINDOW_SIZE', 60, { min: 0.01, max: 86_400 }),
    metricsAggregationIntervalMs,
    metricsFlushMs: num(env, 'METRICS_FLUSH_INTERVAL', metricsAggregationIntervalMs, {
      min: 10,
      max: 3_600_000,
      integer: true,
    }),
    rollbackErrorRateThreshold: num(env, 'ROLLBACK_ERROR_RATE_THRESHOLD', 5, { min: 0, max: 100 }),
    rollbackResponseTimeThresholdMs: num(env, 'ROLLBACK_RESPONSE_TIME_THRESHOLD', 2000, {
      min: 1,
      max: 600_000,
    }),
    rollbackCircuitBreakerEnabled: bool(env, 'ROLLBACK_CIRCUIT_BREAKER_ENABLED', true),
    sseHeartbeatMs: num(env, 'SSE_HEARTBEAT_MS', 15_000, { min: 10, max: 600_000, integer: true }),
    dbProbeIntervalMs: num(env, 'DB_PROBE_INTERVAL_MS', 2000, { min: 10, max: 600_000, integer: true }),
    dbConnectTimeoutMs: num(env, 'DB_CONNECT_TIMEOUT_MS', 5000, { min: 100, max: 120_000, integer: true }),
    seedOnEmpty: bool(env, 'SEED_ON_EMPTY', true),
    leanHeap: bool(env, 'LEAN_HEAP', true),
    flagsFile: env.RUPAYA_FLAGS_FILE?.trim() ? env.RUPAYA_FLAGS_FILE.trim() : undefined,
    logLevel,
    env: { ...env },
  };
}

export const environmentKeyPattern = ENV_KEY;

/**
 * The data folder as an absolute path. A relative RUPAYA_DATA_DIR (or the default) is taken from the
 * directory the command was started in: `INIT_CWD` when run through pnpm (whose scripts run inside
 * the package folder), else the current directory — so `pnpm start`, `pnpm seed` and `pnpm migrate`
 * at the repository root all use the same `./.rupaya/data`.
 */
export function resolveDataDir(config: Config, env: ConfigEnv = process.env): string {
  return resolvePath(env.INIT_CWD ?? process.cwd(), config.dataDir);
}
