#!/usr/bin/env node
// `pnpm migrate` applies pending migrations; `pnpm migrate --status` lists applied and pending ones.
import { ConfigError, loadConfig, resolveDataDir } from './config';
import { openDatabase } from './db/client';
import { migrationStatus, runMigrations } from './db/migrate';

async function main(): Promise<number> {
  const config = loadConfig(process.env);
  const database = await openDatabase({
    databaseUrl: config.databaseUrl,
    dataDir: resolveDataDir(config),
    connectTimeoutMs: config.dbConnectTimeoutMs,
  });
  try {
    if (process.argv.includes('--status')) {
      const status = await migrationStatus(database.db);
      for (const m of status) console.log(`${m.applied ? 'applied' : 'pending'}  ${m.tag}`);
      const pending = status.filter((m) => !m.applied).length;
      console.log(`${status.length - pending} applied, ${pending} pending (${database.location})`);
      return 0;
    }
    const applied = await runMigrations(database.db);
    console.log(
      applied.length === 0 ? 'database is up to date' : `applied ${applied.length}: ${applied.join(', ')}`,
    );
    return 0;
  } finally {
    await database.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err instanceof ConfigError ? `Invalid configuration: ${err.message}` : err);
    process.exit(1);
  },
);
