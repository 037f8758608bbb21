// Test helpers shared by every area's tests: a fresh database per test file on PGlite or on the real
// Postgres (a database `rupaya_t_<random>` created here and dropped by `drop()`).
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { cp, mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { openDatabase } from './db/client';
import { findMigrationsFolder, runMigrations } from './db/migrate';

export type StorageKind = 'pglite' | 'postgres';

export const storageKinds: StorageKind[] = ['pglite', 'postgres'];

/** The server the Postgres test databases are created on (TEST_POSTGRES_URL overrides). */
export const testPostgresUrl = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  kind: StorageKind;
  /** Postgres only. */
  databaseUrl?: string;
  /** PGlite only: a fresh temporary folder. */
  dataDir?: string;
  /** Postgres only: the database name. */
  name?: string;
  drop(): Promise<void>;
}

/** Runs `fn` with a connection to the Postgres server's maintenance database. */
export async function withAdminConnection<T>(fn: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const sql = postgres(testPostgresUrl, { max: 1, onnotice: () => {} });
  try {
    return await fn(sql);
  } finally {
    await sql.end({ timeout: 2 });
  }
}

/**
 * A migrated PGlite data folder, built once per set of migrations and copied for each test: PGlite's
 * initdb takes seconds (tens under load), opening an existing folder a fraction of that.
 */
async function pgliteTemplate(): Promise<string> {
  const folder = findMigrationsFolder();
  const hash = createHash('sha256');
  for (const f of readdirSync(folder).sort())
    if (f.endsWith('.sql')) hash.update(f).update(readFileSync(join(folder, f)));
  hash.update(readFileSync(join(folder, 'meta', '_journal.json')));
  const dir = join(tmpdir(), `rupaya-pglite-template-${hash.digest('hex').slice(0, 16)}`);
  if (existsSync(join(dir, 'PG_VERSION'))) return dir;
  const build = await mkdtemp(join(tmpdir(), 'rupaya-pglite-build-'));
  const db = await openDatabase({ dataDir: build });
  try {
    await runMigrations(db.db, folder);
  } finally {
    await db.close();
  }
  try {
    await rename(build, dir); // atomic: a concurrent builder's copy either wins or loses whole
  } catch {
    await rm(build, { recursive: true, force: true });
  }
  return dir;
}

export async function createTestDatabase(kind: StorageKind): Promise<TestDatabase> {
  if (kind === 'pglite') {
    const dataDir = await mkdtemp(join(tmpdir(), 'rupaya-pglite-'));
    await cp(await pgliteTemplate(), dataDir, { recursive: true });
    return {
      kind,
      dataDir,
      drop: () => rm(dataDir, { recursive: true, force: true }),
    };
  }
  const name = `rupaya_t_${randomBytes(6).toString('hex')}`;
  await withAdminConnection((sql) => sql.unsafe(`create database ${name}`));
  const url = new URL(testPostgresUrl);
  url.pathname = `/${name}`;
  return {
    kind,
    name,
    databaseUrl: url.toString(),
    drop: () =>
      withAdminConnection((sql) => sql.unsafe(`drop database if exists ${name} with (force)`)).then(() => {}),
  };
}
