// @rupaya/control-plane: build or start the control plane, and the helpers tests use.
export { type BuildAppOptions, buildApp } from './app';
export { type Config, ConfigError, type ConfigEnv, loadConfig } from './config';
export {
  type Database,
  DataDirInUseError,
  type Db,
  type DbOrTx,
  openDatabase,
  PGLITE_LOCK_FILE,
  type Tx,
} from './db/client';
export { migrationStatus, runMigrations } from './db/migrate';
export { ApiError, errorCatalogue, errors } from './errors';
export {
  applyCanaryTransition,
  type CanaryTransitionInput,
  type CanaryTransitionOutcome,
} from './services/canary';
export { type SeedOptions, type SeedResult, seedDefaultFlags, seedFlagsOf } from './services/seed';
export { prepareDatabase, type RunningControlPlane, type StartOptions, startControlPlane } from './start';
export * from './testing';
export { DefaultFlagsFileError, findDefaultFlagsFile, readFlagsFile } from './services/default-flags';
