// Commands that work on the database itself rather than through the admin API: migrate, seed, setup.
// They load the control plane (`@rupaya/control-plane`) at run time, so the published CLI stays small; they
// read the same environment variables as the control plane (DATABASE_URL, RUPAYA_DATA_DIR, ADMIN_API_TOKEN...).
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CliApiError } from '../errors';
import type { FlagsFile } from '../flags-file';
import { readFlagsFileOrUsage } from './flags';
import { type Io, printJson, progress, renderTable } from '../output';
import type { Command } from './types';

/** What the CLI uses of the control plane's module; checked at run time. */
export interface ControlPlaneModule {
  loadConfig(env: Record<string, string | undefined>): { databaseUrl?: string; dataDir: string };
  openDatabase(options: { databaseUrl?: string; dataDir?: string }): Promise<{
    db: unknown;
    kind: string;
    location: string;
    ping(): Promise<void>;
    close(): Promise<void>;
  }>;
  runMigrations(db: unknown): Promise<string[]>;
  migrationStatus(db: unknown): Promise<{ tag: string; createdAt: number; applied: boolean }[]>;
  seedDefaultFlags?(db: unknown, options?: unknown): Promise<unknown>;
  startControlPlane(options: {
    databaseUrl?: string;
    dataDir?: string;
    env?: Record<string, string | undefined>;
  }): Promise<{ url: string; adminToken?: string; adminTokenMessage?: string; close(): Promise<void> }>;
}

export const MIN_NODE = [20, 18, 1] as const;

/**
 * Where the control plane's module may be: RUPAYA_CONTROL_PLANE_MODULE (a package name or a file path), the
 * installed package, or — in a checkout of the repository — the built apps/control-plane next to this CLI.
 */
function controlPlaneCandidates(io: Io): string[] {
  const out: string[] = [];
  const fromEnv = io.env.RUPAYA_CONTROL_PLANE_MODULE;
  if (fromEnv) out.push(isAbsolute(fromEnv) ? pathToFileURL(fromEnv).href : fromEnv);
  out.push('@rupaya/control-plane');
  try {
    // packages/cli/dist/<file>.js → apps/control-plane/dist/index.js
    out.push(new URL('../../../apps/control-plane/dist/index.js', import.meta.url).href);
  } catch {
    // import.meta.url is not available in the CommonJS build: the package name has to resolve.
  }
  return out;
}

async function loadControlPlane(io: Io): Promise<ControlPlaneModule> {
  const tried: string[] = [];
  let mod: Partial<ControlPlaneModule> | undefined;
  for (const specifier of controlPlaneCandidates(io)) {
    try {
      mod = (await import(specifier)) as Partial<ControlPlaneModule>;
      break;
    } catch (err) {
      tried.push(`${specifier}: ${(err as Error).message.split('\n')[0]}`);
      if (io.env.RUPAYA_CONTROL_PLANE_MODULE) break;
    }
  }
  if (!mod) {
    throw new CliApiError(
      'CONTROL_PLANE_NOT_INSTALLED',
      'cannot load the control plane; run this command from a checkout of the Rupaya Flags repository after ' +
        `\`npx pnpm@12.4.2 install && npx pnpm@12.4.2 build\` (tried ${tried.join('; ')})`,
    );
  }
  for (const name of [
    'loadConfig',
    'openDatabase',
    'runMigrations',
    'migrationStatus',
    'startControlPlane',
  ] as const) {
    if (typeof mod[name] !== 'function') {
      throw new CliApiError(
        'CONTROL_PLANE_INCOMPATIBLE',
        `the control plane module does not export ${name}()`,
      );
    }
  }
  return mod as ControlPlaneModule;
}

/** DATABASE_URL / RUPAYA_DATA_DIR as the control plane reads them, with the data folder made absolute. */
function storageOptions(cp: ControlPlaneModule, io: Io): { databaseUrl?: string; dataDir: string } {
  const config = cp.loadConfig(io.env);
  // Like the control plane: a relative folder is taken from where the command was typed (INIT_CWD under pnpm).
  const dataDir = isAbsolute(config.dataDir)
    ? config.dataDir
    : resolve(io.env.INIT_CWD ?? io.cwd, config.dataDir);
  return config.databaseUrl ? { databaseUrl: config.databaseUrl, dataDir } : { dataDir };
}

function describeStorage(s: { databaseUrl?: string; dataDir: string }): string {
  if (!s.databaseUrl) return `PGlite in ${s.dataDir}`;
  try {
    const u = new URL(s.databaseUrl);
    return `Postgres at ${u.host}${u.pathname}`;
  } catch {
    return 'Postgres';
  }
}

export function nodeVersionOk(version: string): boolean {
  const parts = version.replace(/^v/, '').split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const have = parts[i] ?? 0;
    const need = MIN_NODE[i] ?? 0;
    if (have !== need) return have > need;
  }
  return true;
}

interface Check {
  step: string;
  status: 'pass' | 'fail' | 'skip';
  detail: string;
}

export const setupCommands: Command[] = [
  {
    name: 'migrate',
    usage: 'rupaya migrate [--status]',
    summary: 'Apply pending database migrations (DATABASE_URL, else PGlite in RUPAYA_DATA_DIR)',
    options: {
      status: { type: 'boolean', description: 'list applied and pending migrations, change nothing' },
    },
    async run(ctx) {
      const cp = await loadControlPlane(ctx.io);
      const storage = storageOptions(cp, ctx.io);
      const done = progress(ctx.io, `opening ${describeStorage(storage)}`, ctx.global.json);
      const database = await cp.openDatabase(storage).finally(() => done());
      try {
        if (ctx.options.status === true) {
          const status = await cp.migrationStatus(database.db);
          if (ctx.global.json)
            return printJson(ctx.io, { storage: describeStorage(storage), migrations: status });
          ctx.io.stdout.write(
            renderTable(
              status.map((m) => ({ migration: m.tag, status: m.applied ? 'applied' : 'pending' })),
              ['migration', 'status'],
            ),
          );
          return;
        }
        const stop = progress(ctx.io, 'applying migrations', ctx.global.json);
        const applied = await cp.runMigrations(database.db).finally(() => stop());
        if (ctx.global.json) return printJson(ctx.io, { storage: describeStorage(storage), applied });
        ctx.io.stdout.write(
          applied.length === 0
            ? 'database is up to date\n'
            : `applied ${applied.length}: ${applied.join(', ')}\n`,
        );
      } finally {
        await database.close();
      }
    },
  },
  {
    name: 'seed',
    usage: 'rupaya seed [--file <flags file>]',
    summary:
      'Create the default flags (config/feature-flags.json, or --file / RUPAYA_FLAGS_FILE) in each environment the file lists; idempotent',
    options: {
      file: {
        type: 'string',
        description:
          'a flags file (JSON or YAML, the format of `rupaya flags export`) instead of the default',
      },
    },
    details:
      'Flags and environment configurations that exist are left as they are. The file is checked first\n' +
      '(as `rupaya flags import` checks it); nothing is written when any flag in it is invalid.',
    async run(ctx) {
      const cp = await loadControlPlane(ctx.io);
      if (typeof cp.seedDefaultFlags !== 'function') {
        throw new CliApiError(
          'CONTROL_PLANE_INCOMPATIBLE',
          'the control plane does not export seedDefaultFlags()',
        );
      }
      let file: FlagsFile | undefined;
      let source = 'the default flags file';
      if (typeof ctx.options.file === 'string') {
        source = resolve(ctx.io.cwd, ctx.options.file);
        file = await readFlagsFileOrUsage(source);
      }
      const storage = storageOptions(cp, ctx.io);
      const done = progress(ctx.io, `seeding ${describeStorage(storage)}`, ctx.global.json);
      const database = await cp.openDatabase(storage);
      try {
        await cp.runMigrations(database.db);
        const fromEnv = ctx.io.env.RUPAYA_FLAGS_FILE;
        const options = file ? { file } : fromEnv ? { file: resolve(ctx.io.cwd, fromEnv) } : {};
        const result = (await cp.seedDefaultFlags(database.db, options)) as {
          file?: string;
          created?: { environment: string; key: string }[];
        };
        done();
        const from = file ? source : (result?.file ?? source);
        if (ctx.global.json)
          return printJson(ctx.io, { storage: describeStorage(storage), file: from, result: result ?? null });
        const count = result?.created?.length ?? 0;
        ctx.io.stdout.write(
          count === 0
            ? `the flags of ${from} are already present in ${describeStorage(storage)}; nothing to do\n`
            : `seeded ${count} flag configurations from ${from} in ${describeStorage(storage)}\n`,
        );
      } finally {
        done();
        await database.close();
      }
    },
  },
  {
    name: 'setup',
    usage: 'rupaya setup',
    summary: 'Check prerequisites, migrate, seed, create the admin token and verify the service',
    details:
      'Uses DATABASE_URL (Postgres) or RUPAYA_DATA_DIR (PGlite, default ./.rupaya/data). No Redis is needed: the\n' +
      'SDKs keep the last good snapshot locally. Starts the control plane on a free loopback port only to verify\n' +
      'it, and stops it again. Exit code 0 when every check passes, 1 otherwise.',
    async run(ctx) {
      const checks: Check[] = [];
      const json = ctx.global.json;
      const record = (step: string, status: Check['status'], detail: string) => {
        checks.push({ step, status, detail });
        if (!json)
          ctx.io.stderr.write(
            `${status === 'pass' ? 'PASS' : status === 'fail' ? 'FAIL' : 'SKIP'}  ${step}: ${detail}\n`,
          );
      };
      let adminToken: string | undefined;
      let tokenIsNew = false;
      const finish = () => {
        const ok = checks.every((c) => c.status !== 'fail');
        if (json) printJson(ctx.io, { ok, checks, ...(adminToken && tokenIsNew ? { adminToken } : {}) });
        else {
          ctx.io.stdout.write(
            renderTable(checks as unknown as Record<string, unknown>[], ['step', 'status', 'detail']),
          );
          ctx.io.stdout.write(ok ? 'setup passed\n' : 'setup FAILED\n');
        }
        if (!ok) {
          const failed = checks.filter((c) => c.status === 'fail').map((c) => c.step);
          const error = new CliApiError('SETUP_FAILED', `failed: ${failed.join(', ')}`);
          error.reported = json;
          throw error;
        }
      };

      // 1. Prerequisites.
      const nodeOk = nodeVersionOk(process.versions.node);
      record(
        'node',
        nodeOk ? 'pass' : 'fail',
        `Node ${process.versions.node} (needs >= ${MIN_NODE.join('.')})`,
      );
      let cp: ControlPlaneModule;
      try {
        cp = await loadControlPlane(ctx.io);
        record('control plane', 'pass', '@rupaya/control-plane loaded');
      } catch (err) {
        record('control plane', 'fail', (err as Error).message);
        return finish();
      }
      let storage: { databaseUrl?: string; dataDir: string };
      try {
        storage = storageOptions(cp, ctx.io);
      } catch (err) {
        record('configuration', 'fail', (err as Error).message);
        return finish();
      }
      record('redis', 'skip', 'not needed: SDKs evaluate locally from a cached snapshot');
      if (!storage.databaseUrl) {
        const probe = join(storage.dataDir, `.write-test-${randomBytes(4).toString('hex')}`);
        try {
          await mkdir(storage.dataDir, { recursive: true });
          await writeFile(probe, 'ok');
          await rm(probe);
          record('database', 'pass', `PGlite folder ${storage.dataDir} is writable`);
        } catch (err) {
          record(
            'database',
            'fail',
            `PGlite folder ${storage.dataDir} is not writable: ${(err as Error).message}`,
          );
          return finish();
        }
      }
      const stop = progress(ctx.io, 'migrating and seeding', json);
      let database: Awaited<ReturnType<ControlPlaneModule['openDatabase']>> | undefined;
      try {
        database = await cp.openDatabase(storage);
        await database.ping();
        if (storage.databaseUrl) record('database', 'pass', `${describeStorage(storage)} is reachable`);
        // 2. Migrations.
        const applied = await cp.runMigrations(database.db);
        record('migrations', 'pass', applied.length === 0 ? 'up to date' : `applied ${applied.join(', ')}`);
        // 3. Seed (idempotent).
        if (typeof cp.seedDefaultFlags === 'function') {
          const flagsFile = ctx.io.env.RUPAYA_FLAGS_FILE;
          const seeded = (await cp.seedDefaultFlags(
            database.db,
            flagsFile ? { file: resolve(ctx.io.cwd, flagsFile) } : {},
          )) as { file?: string } | undefined;
          record(
            'seed',
            'pass',
            `default flags present in dev, staging and prod${seeded?.file ? ` (from ${seeded.file})` : ''}`,
          );
        } else {
          record('seed', 'skip', 'seeded by the control plane at its first start (SEED_ON_EMPTY)');
        }
      } catch (err) {
        record(
          checks.some((c) => c.step === 'migrations') ? 'seed' : 'database',
          'fail',
          (err as Error).message,
        );
        stop();
        await database?.close().catch(() => {});
        return finish();
      }
      stop();
      await database.close();

      // 4. Admin token, 5. verification: start the control plane on a free port, call it, stop it.
      const verifying = progress(ctx.io, 'verifying the service', json);
      let server: Awaited<ReturnType<ControlPlaneModule['startControlPlane']>> | undefined;
      try {
        server = await cp.startControlPlane({
          ...storage,
          env: { ...ctx.io.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: ctx.io.env.LOG_LEVEL ?? 'warn' },
        });
        adminToken = server.adminToken || undefined;
        tokenIsNew = /generated/.test(server.adminTokenMessage ?? '');
        const tokenFile = join(storage.dataDir, 'admin-token');
        record(
          'admin token',
          adminToken ? 'pass' : 'fail',
          ctx.io.env.ADMIN_API_TOKEN
            ? 'ADMIN_API_TOKEN is set and accepted'
            : adminToken
              ? `${tokenIsNew ? 'created; ' : ''}stored hashed in the database; the token is in ${tokenFile} (mode 0600)`
              : `an admin token exists but ${tokenFile} does not hold it; set ADMIN_API_TOKEN`,
        );
        const health = await fetch(`${server.url}/health`);
        const healthBody = (await health.json().catch(() => ({}))) as { status?: string; database?: unknown };
        record(
          'health',
          health.ok && healthBody.status === 'OK' ? 'pass' : 'fail',
          `GET /health -> ${health.status} ${healthBody.status ?? ''}`.trim(),
        );
        if (adminToken) {
          const flagUrl = `${server.url}/api/admin/deployment/feature-flags/feature.new-dashboard?environment=dev`;
          const res = await fetch(flagUrl, { headers: { authorization: `Bearer ${adminToken}` } });
          record(
            'flag read',
            res.ok ? 'pass' : 'fail',
            `GET feature-flags/feature.new-dashboard (dev) -> ${res.status}`,
          );
        } else {
          record('flag read', 'skip', 'no admin token to read with');
        }
      } catch (err) {
        record('service', 'fail', (err as Error).message);
      } finally {
        verifying();
        await server?.close();
      }
      // Printed once: when it was created by this run (later runs say where it is).
      if (tokenIsNew && adminToken && !json) {
        ctx.io.stdout.write(
          `\nAdmin token (shown once; keep it secret; use it as RUPAYA_TOKEN):\n${adminToken}\n\n`,
        );
      }
      finish();
    },
  },
];
