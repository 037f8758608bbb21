// Opens the database, applies migrations, creates the default environments (and seeds the default
// flags on the first start of an empty database), resolves the admin token, builds the app and
// listens. Used by main.ts and by tests (real server on 127.0.0.1, port 0 by default).
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import { buildApp } from './app';
import { ensureAdminToken } from './auth/index';
import { type Config, type ConfigEnv, loadConfig } from './config';
import { type Database, openDatabase } from './db/client';
import { runMigrations } from './db/migrate';
import { ensureDefaultEnvironments, isEmpty, seedDefaultFlags } from './services/seed';
import { createTestDatabase } from './testing';

export interface StartOptions {
  /** postgres://… (else PGlite). */
  databaseUrl?: string | undefined;
  /** PGlite data folder. */
  dataDir?: string | undefined;
  /** A throwaway PGlite database (a temporary folder removed at close). */
  pglite?: 'memory';
  /** Environment variables (as strings), over the defaults; process.env is NOT read. */
  env?: ConfigEnv;
  logger?: FastifyServerOptions['logger'];
}

export interface RunningControlPlane {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** The admin token (configured or generated), when this process knows it. */
  adminToken: string;
  /** How the admin token was obtained, for the start-up banner. */
  adminTokenMessage: string;
  app: FastifyInstance;
  db: Database;
  config: Config;
  close(): Promise<void>;
}

/** Migrate, create environments, seed on first start; returns what was done (for logs). */
export async function prepareDatabase(
  database: Database,
  config: Pick<Config, 'seedOnEmpty'> & Partial<Pick<Config, 'flagsFile'>>,
): Promise<{ migrations: string[]; seeded: boolean }> {
  const migrations = await runMigrations(database.db);
  const empty = await isEmpty(database.db);
  await ensureDefaultEnvironments(database.db);
  let seeded = false;
  if (empty && config.seedOnEmpty) {
    await seedDefaultFlags(database.db, config.flagsFile ? { file: config.flagsFile } : {});
    seeded = true;
  }
  return { migrations, seeded };
}

/** Starts a control plane from an already loaded config. */
export async function startWithConfig(
  config: Config,
  logger?: FastifyServerOptions['logger'],
): Promise<RunningControlPlane> {
  const database = await openDatabase({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    memory: config.pgliteInMemory,
    connectTimeoutMs: config.dbConnectTimeoutMs,
  });
  try {
    await prepareDatabase(database, config);
    const admin = await ensureAdminToken(database.db, config);
    const app = await buildApp({ config, database, adminToken: admin.token, logger });
    await app.listen({ port: config.port, host: config.host });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    const host = config.host.includes(':') ? `[${config.host}]` : config.host;
    let closed = false;
    return {
      url: `http://${host}:${port}`,
      adminToken: admin.token ?? '',
      adminTokenMessage: admin.message,
      app,
      db: database,
      config,
      async close() {
        if (closed) return;
        closed = true;
        await app.close();
        await database.close();
      },
    };
  } catch (err) {
    await database.close().catch(() => {});
    throw err;
  }
}

/** Starts a real control plane (see INTERFACES.md); tests use port 0 on 127.0.0.1. */
export async function startControlPlane(options: StartOptions = {}): Promise<RunningControlPlane> {
  const env: ConfigEnv = { PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', ...options.env };
  if (options.databaseUrl) env.DATABASE_URL = options.databaseUrl;
  if (options.dataDir) env.RUPAYA_DATA_DIR = options.dataDir;
  let discard: (() => Promise<void>) | undefined;
  if (options.pglite === 'memory' && !options.dataDir) {
    // A throwaway database: a temporary copy of a migrated template folder (PGlite's initdb costs
    // seconds per instance; the copy a fraction), removed at close. Nothing outlives the process.
    const scratch = await createTestDatabase('pglite');
    env.RUPAYA_DATA_DIR = scratch.dataDir;
    discard = scratch.drop;
    // Nowhere to keep a generated token: use a random one for this process.
    if (!env.ADMIN_API_TOKEN) env.ADMIN_API_TOKEN = `rpy_admin_${randomBytes(24).toString('hex')}`;
  }
  try {
    const running = await startWithConfig(loadConfig(env), options.logger);
    if (!discard) return running;
    const close = running.close;
    const drop = discard;
    return {
      ...running,
      async close() {
        await close();
        await drop();
      },
    };
  } catch (err) {
    await discard?.();
    throw err;
  }
}
