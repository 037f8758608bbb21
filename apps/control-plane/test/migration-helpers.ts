// Helpers of the migration tests: an empty database of either kind, a migrations folder cut before a
// given migration, and the rows of a raw query on either driver.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';
import { findMigrationsFolder } from '../src/db/migrate';
import {
  createTestDatabase,
  type Database,
  openDatabase,
  type StorageKind,
  type TestDatabase,
} from '../src/index';

/** A database with no migration applied (the PGlite test template is already fully migrated). */
export async function emptyDatabase(kind: StorageKind): Promise<TestDatabase> {
  if (kind !== 'pglite') return createTestDatabase(kind);
  const dataDir = mkdtempSync(join(tmpdir(), 'rupaya-pglite-empty-'));
  return { kind, dataDir, drop: async () => rmSync(dataDir, { recursive: true, force: true }) };
}

/** A copy of migrations/ holding only the migrations before `tag`. */
export function migrationsBefore(tag: string): string {
  const from = findMigrationsFolder();
  const journal = JSON.parse(readFileSync(join(from, 'meta', '_journal.json'), 'utf8')) as {
    entries: { idx: number; tag: string }[];
  };
  const cut = journal.entries.findIndex((e) => e.tag === tag);
  expect(cut).toBeGreaterThan(0);
  const dir = mkdtempSync(join(tmpdir(), 'rupaya-migrations-'));
  mkdirSync(join(dir, 'meta'));
  const entries = journal.entries.slice(0, cut);
  for (const e of entries) writeFileSync(join(dir, `${e.tag}.sql`), readFileSync(join(from, `${e.tag}.sql`)));
  writeFileSync(join(dir, 'meta', '_journal.json'), JSON.stringify({ ...journal, entries }));
  return dir;
}

export function rowsOf<T>(result: unknown): T[] {
  if (Array.isArray(result)) return result as T[];
  return ((result as { rows?: T[] }).rows ?? []) as T[];
}

/**
 * For the tests of a `describe`: an empty database of `kind` (opened before them, dropped after) and a
 * migrations folder holding only the migrations before `tag` (apply it, write the rows the migration
 * must carry over, then apply every migration).
 */
export function databaseBeforeMigration(
  kind: StorageKind,
  tag: string,
): { database: () => Database; older: () => string } {
  let tdb: TestDatabase | undefined;
  let database: Database | undefined;
  let older: string | undefined;
  beforeAll(async () => {
    tdb = await emptyDatabase(kind);
    database = await openDatabase({ databaseUrl: tdb.databaseUrl, dataDir: tdb.dataDir });
    older = migrationsBefore(tag);
  }, 180_000);
  afterAll(async () => {
    await database?.close();
    await tdb?.drop();
    if (older) rmSync(older, { recursive: true, force: true });
  });
  return { database: () => database!, older: () => older! };
}
