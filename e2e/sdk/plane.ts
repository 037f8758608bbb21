// Shared by the SDK, middleware and OpenFeature end-to-end tests: a real control plane on a random
// loopback port (PGlite unless a database URL is given), plus a typed admin API client.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startControlPlane } from '@rupaya/control-plane';
import { request } from 'undici';

/** Starting a control plane (migrations on PGlite) takes seconds, much longer on a loaded machine. */
export const PLANE_TIMEOUT_MS = 180_000;

export const ADMIN_TOKEN = 'e2e-admin-token-0123456789abcdef';

export interface PlaneOptions {
  /** Keep data in this folder (so a restart finds it); default a fresh temp folder. */
  dataDir?: string;
  /** PGlite in memory (fastest; no restart possible). */
  memory?: boolean;
  /** A real Postgres instead of PGlite. */
  databaseUrl?: string;
  port?: number;
  env?: Record<string, string>;
}

export type Plane = Awaited<ReturnType<typeof startControlPlane>> & { dataDir: string; port: number };

export async function startPlane(options: PlaneOptions = {}): Promise<Plane> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'rupaya-e2e-'));
  const plane = await startControlPlane({
    ...(options.databaseUrl
      ? { databaseUrl: options.databaseUrl }
      : options.memory
        ? { pglite: 'memory' as const }
        : { dataDir }),
    env: {
      ADMIN_API_TOKEN: ADMIN_TOKEN,
      PORT: String(options.port ?? 0),
      HOST: '127.0.0.1',
      SSE_HEARTBEAT_MS: '500',
      FEATURE_FLAGS_CACHE_TTL: '60',
      METRICS_AGGREGATION_INTERVAL: '500',
      LOG_LEVEL: 'silent',
      ...options.env,
    },
  });
  const port = Number(new URL(plane.url).port);
  return Object.assign(plane, { dataDir, port });
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export class AdminApi {
  constructor(
    readonly url: string,
    readonly token = ADMIN_TOKEN,
  ) {}

  async call<T = Record<string, unknown>>(
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: T }> {
    const res = await request(this.url + path, {
      method,
      headers: {
        authorization: `Bearer ${this.token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.body.text();
    return { status: res.statusCode, body: (text ? JSON.parse(text) : undefined) as T };
  }

  async ok<T = Record<string, unknown>>(
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    path: string,
    body?: unknown,
  ): Promise<T> {
    const res = await this.call<T>(method, path, body);
    if (res.status >= 300) throw new Error(`${method} ${path} → ${res.status}: ${JSON.stringify(res.body)}`);
    return res.body;
  }

  async createEnvironment(key: string): Promise<void> {
    const res = await this.call('POST', '/api/admin/deployment/environments', { key });
    if (res.status !== 201 && res.status !== 409) throw new Error(`create environment ${key}: ${res.status}`);
  }

  async sdkKey(environment: string): Promise<string> {
    const res = await this.ok<{ key: string }>('POST', '/api/admin/deployment/sdk-keys', { environment });
    return res.key;
  }

  createFlag(flag: Record<string, unknown>, environment = 'dev') {
    return this.ok('POST', `/api/admin/deployment/feature-flags?environment=${environment}`, flag);
  }

  /** Creates or updates many flags in one transaction (flags as code). */
  importFlags(environment: string, flags: Record<string, unknown>[]) {
    return this.ok('POST', '/api/admin/deployment/feature-flags:import', {
      environments: { [environment]: flags },
    });
  }

  updateFlag(key: string, patch: Record<string, unknown>, environment = 'dev') {
    return this.ok(
      'PUT',
      `/api/admin/deployment/feature-flags/${encodeURIComponent(key)}?environment=${environment}`,
      patch,
    );
  }
}

export async function waitFor(
  predicate: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  what = 'condition',
) {
  const until = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const silent = { debug() {}, info() {}, warn() {}, error() {} };
