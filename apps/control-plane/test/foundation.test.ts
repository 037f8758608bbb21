// Configuration, the error catalogue over HTTP, migrations status, /health, /docs, and the real
// process (dist/main.js): prints URL + admin token, serves, stops gracefully on SIGTERM.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildApp,
  ConfigError,
  createTestDatabase,
  errorCatalogue,
  loadConfig,
  migrationStatus,
  openDatabase,
  prepareDatabase,
  storageKinds,
} from '../src/index';
import { resolveDataDir } from '../src/config';
import { clientFor, expectError, startTestServer, type TestServer } from './helpers';

describe('loadConfig', () => {
  it('has the documented defaults', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      port: 3000,
      host: '127.0.0.1',
      databaseUrl: undefined,
      dataDir: './.rupaya/data',
      defaultEnvironment: 'dev',
      cacheTtlSec: 300,
      metricsWindowSizeSec: 60,
      metricsAggregationIntervalMs: 10_000,
      metricsFlushMs: 10_000,
      rollbackErrorRateThreshold: 5,
      rollbackResponseTimeThresholdMs: 2000,
      rollbackCircuitBreakerEnabled: true,
      sseHeartbeatMs: 15_000,
      leanHeap: true,
      flagsFile: undefined,
    });
    expect(loadConfig({ LEAN_HEAP: 'false', RUPAYA_FLAGS_FILE: ' ./my-flags.yaml ' })).toMatchObject({
      leanHeap: false,
      flagsFile: './my-flags.yaml',
    });
  });

  it('throws a ConfigError naming the variable for every bad value', () => {
    const bad: Record<string, string> = {
      PORT: '70000',
      DATABASE_URL: 'mysql://x',
      DEFAULT_ENVIRONMENT: 'Prod!',
      FEATURE_FLAGS_CACHE_TTL: 'soon',
      METRICS_WINDOW_SIZE: '-1',
      METRICS_AGGREGATION_INTERVAL: '1.5',
      ROLLBACK_ERROR_RATE_THRESHOLD: '101',
      ROLLBACK_RESPONSE_TIME_THRESHOLD: '0',
      ROLLBACK_CIRCUIT_BREAKER_ENABLED: 'maybe',
      OIDC_ROLE_MAPPING: '{not json',
      OIDC_ISSUER: 'not a url',
      ADMIN_API_TOKEN: 'short',
      JWT_SECRET: 'short',
      SSE_HEARTBEAT_MS: '0',
      LOG_LEVEL: 'loud',
      LEAN_HEAP: 'sometimes',
    };
    for (const [name, value] of Object.entries(bad)) {
      let caught: unknown;
      try {
        loadConfig({ [name]: value });
      } catch (err) {
        caught = err;
      }
      expect(caught, name).toBeInstanceOf(ConfigError);
      expect((caught as ConfigError).variable).toBe(name);
      expect((caught as Error).message).toContain(name);
    }
  });

  it('resolves a relative data folder from where the command was started (INIT_CWD under pnpm)', () => {
    const c = loadConfig({});
    expect(resolveDataDir(c, { INIT_CWD: '/repo' })).toBe('/repo/.rupaya/data');
    expect(resolveDataDir(loadConfig({ RUPAYA_DATA_DIR: '/var/lib/rupaya' }), { INIT_CWD: '/repo' })).toBe(
      '/var/lib/rupaya',
    );
  });

  it('parses the rest', () => {
    const c = loadConfig({
      PORT: '8080',
      DATABASE_URL: 'postgres://u@h:5432/db',
      ROLLBACK_CIRCUIT_BREAKER_ENABLED: 'false',
      OIDC_ROLE_MAPPING: '[{"claims":{"repository":"acme/app","environment":"prod"},"role":"editor"}]',
      METRICS_AGGREGATION_INTERVAL: '5000',
    });
    expect(c).toMatchObject({
      port: 8080,
      databaseUrl: 'postgres://u@h:5432/db',
      rollbackCircuitBreakerEnabled: false,
      metricsFlushMs: 5000,
      oidcRoleMapping: [{ claims: { repository: 'acme/app', environment: 'prod' }, role: 'editor' }],
    });
  });
});

describe.each(storageKinds)('error catalogue, health, docs and migrations on %s', (kind) => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer(kind);
  });
  afterAll(async () => {
    await s?.close();
  });

  it('GET /health has the documented shape without auth', async () => {
    const r = await s.call<Record<string, unknown>>('GET', '/health', { token: null });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      status: 'OK',
      database: 'ok',
      storage: kind,
      deployment: {
        status: 'healthy',
        errorRate: expect.any(Number),
        p99ResponseTime: expect.any(Number),
        activeCanaries: 0,
      },
      featureFlags: { checksTotal: expect.any(Number), checksPerFlag: expect.any(Object) },
    });
    expect(Object.keys(r.body.snapshots as object).sort()).toEqual(['dev', 'prod', 'staging']);
    // A resumed canary is active.
    await s.call(
      'POST',
      '/api/admin/deployment/feature-flags/canary.new-payment-processor/resume-canary?environment=prod',
    );
    const h = await s.call<{ deployment: { activeCanaries: number } }>('GET', '/health', { token: null });
    expect(h.body.deployment.activeCanaries).toBe(1);
  });

  it('serves OpenAPI at /docs with the admin and SDK routes and every error code', async () => {
    const ui = await fetch(`${s.cp.url}/docs`);
    expect(ui.status).toBe(200);
    const doc = await s.call<{
      openapi: string;
      paths: Record<string, unknown>;
      info: { description: string };
    }>('GET', '/docs/json', { token: null });
    expect(doc.body.openapi).toMatch(/^3\./);
    for (const p of [
      '/api/admin/deployment/feature-flags',
      '/api/admin/deployment/feature-flags/{key}',
      '/api/admin/deployment/feature-flags/{key}/audit',
      '/api/admin/deployment/feature-flags/{key}/advance-canary',
      '/api/admin/deployment/environments',
      '/api/sdk/v1/snapshot',
      '/api/sdk/v1/stream',
      '/health',
    ]) {
      expect(doc.body.paths[p], p).toBeDefined();
    }
    for (const code of Object.keys(errorCatalogue)) expect(doc.body.info.description).toContain(code);
  });

  it('unsupported media type → 415, body too large → 413, unknown route → 404', async () => {
    const url = '/api/admin/deployment/feature-flags/feature.new-dashboard';
    expectError(
      await s.call('PUT', url, { rawBody: 'enabled=false', headers: { 'content-type': 'text/plain' } }),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    );
    const big = JSON.stringify({ description: 'x'.repeat(1_100_000) });
    expectError(await s.call('PUT', url, { rawBody: big }), 413, 'PAYLOAD_TOO_LARGE');
    expectError(await s.call('GET', '/nope', { token: null }), 404, 'NOT_FOUND');
  });

  it('migration status lists every migration as applied', async () => {
    const status = await migrationStatus(s.cp.db.db);
    expect(status.length).toBeGreaterThan(0);
    expect(status.every((m) => m.applied)).toBe(true);
    expect(status[0]?.tag).toBe('0000_init');
  });
});

describe('unknown errors', () => {
  it('become 500 INTERNAL without leaking the message', async () => {
    const tdb = await createTestDatabase('pglite');
    const db = await openDatabase({ dataDir: tdb.dataDir });
    const config = loadConfig({ LOG_LEVEL: 'silent', ADMIN_API_TOKEN: 'rpy_admin_0123456789abcdef' });
    await prepareDatabase(db, { seedOnEmpty: false });
    const app = await buildApp({ config, database: db });
    app.get('/boom', async () => {
      throw new Error('secret detail from the database layer');
    });
    try {
      await app.listen({ port: 0, host: '127.0.0.1' });
      const address = app.server.address() as { port: number };
      const r = await clientFor(`http://127.0.0.1:${address.port}`, '')('GET', '/boom', { token: null });
      expectError(r, 500, 'INTERNAL');
      expect(r.text).not.toContain('secret');
    } finally {
      await app.close();
      await db.close();
      await tdb.drop();
    }
  }, 120_000);
});

describe('the control-plane process (dist/main.js)', () => {
  const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));
  let child: ChildProcess | undefined;
  let dataDir: string;
  afterAll(async () => {
    child?.kill('SIGKILL');
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('prints the URL and admin token, serves, and exits 0 on SIGTERM', async () => {
    if (!existsSync(main))
      throw new Error(`${main} is missing: build first (npx turbo run build --filter=@rupaya/control-plane)`);
    const pg = await createTestDatabase('postgres');
    dataDir = await mkdtemp(join(tmpdir(), 'rupaya-main-'));
    try {
      child = spawn(process.execPath, [main], {
        env: {
          PATH: process.env.PATH,
          PORT: '0',
          RUPAYA_DATA_DIR: dataDir,
          DATABASE_URL: pg.databaseUrl,
          LOG_LEVEL: 'warn',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
      });
      child.stderr!.on('data', (d: Buffer) => {
        out += d.toString();
      });
      const exited = new Promise<number | null>((r) => child!.on('exit', (code) => r(code)));
      const deadline = Date.now() + 60_000;
      while (!/admin token: \S+/.test(out) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
      const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
      const token = /admin token: (\S+)/.exec(out)?.[1];
      expect(url, out).toBeDefined();
      expect(token, out).toMatch(/^rpy_admin_/);
      const call = clientFor(url!, token!);
      expect((await call('GET', '/health', { token: null })).status).toBe(200);
      expect((await call('GET', '/api/admin/deployment/feature-flags?environment=prod')).status).toBe(200);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(out).toContain('SIGTERM received');
    } finally {
      await pg.drop();
    }
  });
});
