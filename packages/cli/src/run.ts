// Argument parsing (node:util parseArgs), command dispatch, help, and the exit-code contract:
// 0 ok, 1 API error (code and message printed), 2 usage error.
import { parseArgs } from 'node:util';
import { flagsCommands } from './commands/flags';
import { operationCommands } from './commands/operations';
import { setupCommands } from './commands/setup';
import type { Command, OptionSpec } from './commands/types';
import { makeContext, type OptionValues } from './context';
import { CliApiError, UsageError } from './errors';
import type { Io } from './output';
import { VERSION } from './version';

export const globalOptionSpecs: Record<string, OptionSpec> = {
  url: { type: 'string', description: 'control plane URL (env RUPAYA_URL, default http://127.0.0.1:3000)' },
  token: { type: 'string', description: 'admin API token or JWT (env RUPAYA_TOKEN)' },
  env: {
    type: 'string',
    description: 'environment: dev, staging, prod, ... (env RUPAYA_ENV; server default when unset)',
  },
  json: { type: 'boolean', description: 'machine-readable JSON on stdout (errors too)' },
  oidc: {
    type: 'boolean',
    description: 'authenticate with a GitHub Actions OIDC token (env RUPAYA_OIDC=true)',
  },
  'oidc-audience': {
    type: 'string',
    description: 'audience of the OIDC token (env RUPAYA_OIDC_AUDIENCE, default rupaya)',
  },
  help: { type: 'boolean', short: 'h', description: 'show help' },
  version: { type: 'boolean', short: 'v', description: 'print the version' },
};

export const commands: Command[] = [...flagsCommands, ...operationCommands, ...setupCommands];

function allOptionSpecs(): Record<string, OptionSpec> {
  const all: Record<string, OptionSpec> = { ...globalOptionSpecs };
  for (const c of commands) Object.assign(all, c.options ?? {});
  return all;
}

function optionLines(specs: Record<string, OptionSpec>): string {
  const rows = Object.entries(specs).map(([name, s]) => {
    const flag = `${s.short ? `-${s.short}, ` : '    '}--${name}${s.type === 'string' ? ' <value>' : ''}`;
    return [flag, s.description] as const;
  });
  const width = Math.max(...rows.map(([f]) => f.length));
  return rows.map(([f, d]) => `  ${f.padEnd(width)}  ${d}`).join('\n');
}

export function mainHelp(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    `rupaya ${VERSION} — Rupaya Flags from a terminal and from GitHub Actions`,
    '',
    'Usage: rupaya <command> [arguments] [options]',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Global options:',
    optionLines(globalOptionSpecs),
    '',
    'Exit codes: 0 ok, 1 API error (its code and message are printed), 2 usage error.',
    'Run `rupaya <command> --help` for a command.',
    '',
  ].join('\n');
}

export function commandHelp(command: Command): string {
  return [
    `Usage: ${command.usage}`,
    '',
    command.summary + '.',
    ...(command.details ? ['', command.details] : []),
    ...(command.options ? ['', 'Options:', optionLines(command.options)] : []),
    '',
    'Global options:',
    optionLines(globalOptionSpecs),
    '',
  ].join('\n');
}

function groupHelp(group: string): string {
  const members = commands.filter((c) => c.name.startsWith(`${group} `));
  const width = Math.max(...members.map((c) => c.name.length));
  return [
    `Usage: rupaya ${group} <subcommand> [arguments] [options]`,
    '',
    'Subcommands:',
    ...members.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    `Run \`rupaya ${group} <subcommand> --help\` for details.`,
    '',
  ].join('\n');
}

function findCommand(positionals: string[]): { command?: Command; rest: string[]; group?: string } {
  const two = positionals.slice(0, 2).join(' ');
  const byTwo = commands.find((c) => c.name === two);
  if (byTwo) return { command: byTwo, rest: positionals.slice(2) };
  const one = positionals[0] ?? '';
  const byOne = commands.find((c) => c.name === one);
  if (byOne) return { command: byOne, rest: positionals.slice(1) };
  if (commands.some((c) => c.name.startsWith(`${one} `))) return { group: one, rest: positionals.slice(1) };
  return { rest: positionals };
}

export interface RunOptions {
  fetchImpl?: typeof fetch;
}

/** Runs the CLI with `argv` (without `node rupaya`) and returns the exit code. Never throws. */
export async function run(argv: string[], io: Io, runOptions: RunOptions = {}): Promise<number> {
  const json = argv.includes('--json');
  let commandForHelp: Command | undefined;
  try {
    let parsed: { values: OptionValues; positionals: string[] };
    try {
      const specs = allOptionSpecs();
      parsed = parseArgs({
        args: argv,
        options: Object.fromEntries(
          Object.entries(specs).map(([k, s]) => [
            k,
            s.short ? { type: s.type, short: s.short } : { type: s.type },
          ]),
        ),
        allowPositionals: true,
        strict: true,
      }) as { values: OptionValues; positionals: string[] };
    } catch (err) {
      throw new UsageError((err as Error).message.replace(/\. To specify a positional argument.*$/s, ''));
    }
    const { values, positionals } = parsed;
    if (values.version === true && positionals.length === 0) {
      io.stdout.write(`${VERSION}\n`);
      return 0;
    }
    const found = findCommand(positionals);
    if (!found.command) {
      if (found.group) {
        if (values.help === true || found.rest.length === 0) {
          io.stdout.write(groupHelp(found.group));
          return values.help === true ? 0 : 2;
        }
        throw new UsageError(`unknown command: ${found.group} ${found.rest[0]}`);
      }
      if (positionals.length === 0) {
        io.stdout.write(mainHelp());
        return values.help === true ? 0 : 2;
      }
      throw new UsageError(`unknown command: ${positionals[0]}`);
    }
    const command = found.command;
    commandForHelp = command;
    if (values.help === true) {
      io.stdout.write(commandHelp(command));
      return 0;
    }
    const allowed = new Set([...Object.keys(globalOptionSpecs), ...Object.keys(command.options ?? {})]);
    for (const name of Object.keys(values)) {
      if (!allowed.has(name)) throw new UsageError(`option --${name} does not apply to \`${command.name}\``);
    }
    const ctx = makeContext(io, values, found.rest, runOptions.fetchImpl ?? fetch);
    await command.run(ctx);
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`error: ${err.message}\n`);
      io.stderr.write(
        commandForHelp ? `Usage: ${commandForHelp.usage}\n` : 'Run `rupaya --help` for usage.\n',
      );
      if (json)
        io.stdout.write(JSON.stringify({ error: { code: 'USAGE', message: err.message } }, null, 2) + '\n');
      return 2;
    }
    const apiError =
      err instanceof CliApiError ? err : new CliApiError('CLI_ERROR', (err as Error)?.message ?? String(err));
    io.stderr.write(
      `error: ${apiError.code}: ${apiError.message}${apiError.field ? ` (field: ${apiError.field})` : ''}\n`,
    );
    if (json && !apiError.reported) io.stdout.write(JSON.stringify(apiError.toJSON(), null, 2) + '\n');
    return 1;
  }
}
