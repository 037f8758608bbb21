#!/usr/bin/env node
// `rupaya-control-plane` / `pnpm start`: configuration from the environment, prints the URL and the
// admin token, shuts down gracefully on SIGTERM/SIGINT.
import { setFlagsFromString } from 'node:v8';
import { ConfigError, loadConfig, resolveDataDir } from './config';

async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`Invalid configuration: ${err.message}`);
      process.exit(1);
    }
    throw err;
  }
  // The server process only (never an embedding process, e.g. tests): V8 grows the young generation up
  // to 3 × 16 MB under allocation bursts and never gives it back; a factor of 1 keeps it at its initial
  // size. It must be set before the server's modules load: loading them (Fastify, drizzle, the drivers)
  // is itself such a burst, which grew the young generation to 2 × 8 MB when they were static imports.
  // Measured: idle RSS on Postgres with 1,000 flags 107 → see bench/README.md (control-plane suite).
  if (config.leanHeap) setFlagsFromString('--semi-space-growth-factor=1');
  const { startWithConfig } = await import('./start');
  const running = await startWithConfig({ ...config, dataDir: resolveDataDir(config) });
  const storage = config.databaseUrl
    ? `Postgres (${running.db.location})`
    : `PGlite (${running.db.location})`;
  console.log(`Rupaya Flags control plane listening on ${running.url}  [storage: ${storage}]`);
  console.log(`  ${running.adminTokenMessage}`);
  if (running.adminToken) console.log(`  admin token: ${running.adminToken}`);
  console.log(`  API docs: ${running.url}/docs   health: ${running.url}/health`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal} received: closing (in-flight requests finish, streams end)`);
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    try {
      await running.close();
      process.exit(0);
    } catch (err) {
      console.error(err);
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch(async (err) => {
  const [{ DataDirInUseError }, { DefaultFlagsFileError }] = await Promise.all([
    import('./db/client'),
    import('./services/default-flags'),
  ]);
  if (err instanceof ConfigError) console.error(`Invalid configuration: ${err.message}`);
  else if (err instanceof DataDirInUseError || err instanceof DefaultFlagsFileError)
    console.error(err.message);
  else console.error(err);
  process.exit(1);
});
