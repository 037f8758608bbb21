// @rupaya/cli — the `rupaya` command. The modules are exported so scripts and tests can run it in-process.
export { run, commands, mainHelp, commandHelp } from './run';
export type { RunOptions } from './run';
export { AdminClient, ADMIN_PREFIX } from './client';
export { CliApiError, UsageError } from './errors';
export { fetchGithubOidcToken, DEFAULT_OIDC_AUDIENCE } from './oidc';
export type { Io, Writer } from './output';
export {
  parseFlagsFile,
  resolveEnvironment,
  buildFlagsFile,
  diffEnvironment,
  renderDiff,
  serializeFlagsFile,
  FLAGS_FILE_VERSION,
  FLAG_FIELDS,
} from './flags-file';
export type { FlagsFile, FlagsFileEntry, FlagChange, FieldChange } from './flags-file';
