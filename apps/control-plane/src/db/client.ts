// One database handle over either embedded PGlite (a local folder, or memory) or a real Postgres
// through the `postgres` driver; drizzle on both, so services are written once.
import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { type SQL, sql } from 'drizzle-orm';
import { type PgDatabase, PgDialect, type PgQueryResultHKT, type PgTransaction } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import * as schema from './schema/index';

export type Schema = typeof schema;
export type Db = PgDatabase<PgQueryResultHKT, Schema>;
// biome-ignore lint/suspicious/noExplicitAny: the relational-config generics differ between drivers.
export type Tx = PgTransaction<PgQueryResultHKT, Schema, any>;
/** Either the database or an open transaction: services accept both. */
export type DbOrTx = Db | Tx;

export interface DatabaseOptions {
  /** postgres://… — a real Postgres. */
  databaseUrl?: string | undefined;
  /** PGlite data folder (created when missing). Ignored when `databaseUrl` is set. */
  dataDir?: string | undefined;
  /** PGlite in memory (tests). */
  memory?: boolean | undefined;
  /** Postgres pool size (default 10). */
  maxConnections?: number | undefined;
  /** Postgres connect timeout in ms (default 5000). */
  connectTimeoutMs?: number | undefined;
}

export interface Database {
  kind: 'pglite' | 'postgres';
  db: Db;
  /** Subscribes to a NOTIFY channel (PGlite: its in-process notifications). Returns an unsubscribe. */
  listen(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>>;
  /** Runs `select 1`; throws when the database is unreachable. */
  ping(): Promise<void>;
  close(): Promise<void>;
  /** Where the data lives, for logs (`postgres://host/db` without credentials, a folder, or `memory`). */
  location: string;
}

function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return 'postgres';
  }
}

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  if (options.databaseUrl) return openPostgres(options.databaseUrl, options);
  return openPglite(options);
}

/** Name of the lock file a process opening a PGlite folder writes into it (its pid). */
export const PGLITE_LOCK_FILE = '.rupaya-pglite.lock';

export class DataDirInUseError extends Error {
  constructor(
    readonly dataDir: string,
    readonly pid: number,
  ) {
    super(
      `the PGlite data folder ${dataDir} is in use by process ${pid} (a running control plane?): ` +
        'PGlite is single-process — stop that process first, or use a Postgres server (DATABASE_URL)',
    );
    this.name = 'DataDirInUseError';
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Claims a PGlite folder for this process: two processes on one folder corrupt it (`pnpm seed` while
 * `pnpm start` runs, say). A lock file left by a process that died is taken over. Returns the release.
 */
function claimDataDir(dataDir: string): () => void {
  const path = join(dataDir, PGLITE_LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, String(process.pid), { flag: 'wx', mode: 0o600 });
      return () => {
        try {
          if (readFileSync(path, 'utf8').trim() === String(process.pid)) unlinkSync(path);
        } catch {
          // already gone
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
      // The same process may open its folder again (tests restart a control plane in-process).
      if (holder === process.pid) return () => {};
      if (Number.isInteger(holder) && holder > 0 && alive(holder))
        throw new DataDirInUseError(dataDir, holder);
      unlinkSync(path); // stale: its process is gone
    }
  }
  throw new DataDirInUseError(dataDir, Number.NaN);
}

async function openPglite(options: DatabaseOptions): Promise<Database> {
  let client: PGlite;
  let location: string;
  let release = () => {};
  if (options.memory || !options.dataDir) {
    client = new PGlite();
    location = 'memory';
  } else {
    mkdirSync(options.dataDir, { recursive: true });
    release = claimDataDir(options.dataDir);
    client = new PGlite(options.dataDir);
    location = options.dataDir;
  }
  try {
    await client.waitReady;
  } catch (err) {
    release();
    throw err;
  }
  const db = drizzlePglite(client, { schema }) as unknown as Db;
  return {
    kind: 'pglite',
    db,
    location,
    async listen(channel, onPayload) {
      const unsubscribe = await client.listen(channel, onPayload);
      return async () => {
        if (!client.closed) await unsubscribe();
      };
    },
    async ping() {
      await client.query('select 1');
    },
    async close() {
      try {
        if (!client.closed) await client.close();
      } finally {
        release();
      }
    },
  };
}

async function openPostgres(url: string, options: DatabaseOptions): Promise<Database> {
  const client = postgres(url, {
    max: options.maxConnections ?? 10,
    connect_timeout: Math.max(1, Math.ceil((options.connectTimeoutMs ?? 5000) / 1000)),
    idle_timeout: 60,
    onnotice: () => {},
    // JSON/JSONB come back parsed; timestamps as Date (drizzle maps per column).
  });
  const db = drizzlePostgres(client, { schema }) as unknown as Db;
  return {
    kind: 'postgres',
    db,
    location: redactUrl(url),
    async listen(channel, onPayload) {
      // postgres.js re-issues LISTEN on a fresh connection after the old one is lost.
      const sub = await client.listen(channel, onPayload);
      return async () => {
        await sub.unlisten().catch(() => {});
      };
    },
    async ping() {
      await client`select 1`;
    },
    async close() {
      await client.end({ timeout: 2 });
    },
  };
}

/** Sends a NOTIFY inside the caller's transaction (delivered on commit, dropped on rollback). */
export async function notify(tx: DbOrTx, channel: string, payload: string): Promise<void> {
  await tx.execute(sql`select pg_notify(${channel}, ${payload})`);
}

const rawDialect = new PgDialect();

/**
 * Runs a raw statement on `db` or in a transaction and returns its rows as the driver gives them
 * (on Postgres, bigint columns come as strings: convert with Number). On Postgres it is a named
 * prepared statement that postgres.js keeps per connection, so a statement with parameters costs
 * one round trip; drizzle's `execute` sends it unnamed, and postgres.js then asks the server for
 * its parameter types first, every time (two round trips). Only for statements of a few fixed
 * texts (parameters, not values, vary): each distinct text stays prepared on every pooled connection.
 * PGlite (in process) goes through drizzle's `execute`.
 */
export async function queryPrepared<T = Record<string, unknown>>(db: DbOrTx, query: SQL): Promise<T[]> {
  // drizzle keeps the driver client on its session: postgres.js (the transaction's reserved
  // connection inside a transaction) has `unsafe`; PGlite's client does not.
  const client = (db as unknown as { session?: { client?: Partial<postgres.Sql> } }).session?.client;
  if (typeof client?.unsafe === 'function') {
    const q = rawDialect.sqlToQuery(query);
    const rows = await client.unsafe(q.sql, q.params as never[], { prepare: true });
    return rows as unknown as T[];
  }
  const result = await db.execute(query);
  return Array.isArray(result) ? (result as T[]) : (((result as { rows?: T[] }).rows ?? []) as T[]);
}
