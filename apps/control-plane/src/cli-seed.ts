#!/usr/bin/env node
// `pnpm seed`: applies migrations, then seeds the default flags (idempotent).
import { ConfigError, loadConfig, resolveDataDir } from './config';
import { DataDirInUseError, openDatabase } from './db/client';
import { runMigrations } from './db/migrate';
import { DefaultFlagsFileError } from './services/default-flags';
import { seedDefaultFlags } from './services/seed';

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const database = await openDatabase({
    databaseUrl: config.databaseUrl,
    dataDir: resolveDataDir(config),
    connectTimeoutMs: config.dbConnectTimeoutMs,
  });
  try {
    await runMigrations(database.db);
    const result = await seedDefaultFlags(database.db, config.flagsFile ? { file: config.flagsFile } : {});
    console.log(
      result.created.length === 0
        ? `the flags of ${result.file} are already present; nothing to do`
        : `seeded ${result.created.length} flag configurations from ${result.file} (${Object.keys(result.revisions).join(', ')})`,
    );
  } finally {
    await database.close();
  }
}

main().catch((err) => {
  if (err instanceof ConfigError) console.error(`Invalid configuration: ${err.message}`);
  else if (err instanceof DataDirInUseError || err instanceof DefaultFlagsFileError)
    console.error(err.message);
  else console.error(err);
  process.exit(1);
});
