import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { AdminClient } from '../client';
import { type CommandContext, optionalString, parsePercent, requireArg } from '../context';
import { UsageError } from '../errors';
import {
  buildFlagsFile,
  diffEnvironment,
  type FlagChange,
  type FlagsFile,
  parseFlagsFile,
  renderDiff,
  resolveEnvironment,
  serializeFlagsFile,
} from '../flags-file';
import { printJson, progress, renderKeyValues, renderTable } from '../output';
import { type Command, reasonOption } from './types';

type FlagJson = Record<string, unknown>;

/** The flag list of an answer, whether the API wraps it (`{ environment, flags }`) or not. */
export function extractFlags(body: unknown): FlagJson[] {
  if (Array.isArray(body)) return body as FlagJson[];
  const flags = (body as { flags?: unknown } | undefined)?.flags;
  return Array.isArray(flags) ? (flags as FlagJson[]) : [];
}

/** The flag of a single-flag answer (`{ environment, flag }` or the flag itself). */
export function extractFlag(body: unknown): FlagJson {
  const b = body as { flag?: unknown } | undefined;
  return (b?.flag && typeof b.flag === 'object' ? b.flag : body) as FlagJson;
}

function environmentOf(body: unknown, fallback?: string): string | undefined {
  const env = (body as { environment?: unknown } | undefined)?.environment;
  return typeof env === 'string' ? env : fallback;
}

export function kindOf(flag: FlagJson): 'canary' | 'experiment' | 'rollout' | 'config' {
  if (Array.isArray(flag.stages) && flag.stages.length > 0) return 'canary';
  if (
    Array.isArray(flag.variants) &&
    flag.variants.some((v) => (v as { weight?: unknown }).weight !== undefined)
  ) {
    return 'experiment';
  }
  if (typeof flag.rolloutPercentage === 'number') return 'rollout';
  return 'config';
}

export function stateOf(flag: FlagJson): string {
  switch (kindOf(flag)) {
    case 'canary': {
      const stages = flag.stages as { percent: number }[];
      const canary = (flag.canary ?? {}) as { stage?: number; status?: string };
      const i = canary.stage ?? 0;
      const pct = canary.status === 'rolled_back' ? 0 : (stages[i]?.percent ?? 0);
      return `stage ${i + 1}/${stages.length} (${pct}%) ${canary.status ?? ''}`.trim();
    }
    case 'experiment':
      return (flag.variants as { key: string; weight?: number }[])
        .map((v) => `${v.key} ${(v.weight ?? 0) / 1000}%`)
        .join(', ');
    case 'rollout':
      return `${flag.rolloutPercentage}%`;
    default:
      return flag.value !== undefined ? `value ${JSON.stringify(flag.value)}` : '-';
  }
}

function flagRow(flag: FlagJson): Record<string, unknown> {
  return {
    key: flag.key,
    type: flag.type,
    enabled: flag.enabled,
    kind: kindOf(flag),
    state: stateOf(flag),
  };
}

async function getEnvironmentFlags(client: AdminClient, environment: string): Promise<FlagJson[]> {
  const body = await client.request('GET', AdminClient.path('feature-flags'), { query: { environment } });
  return extractFlags(body);
}

async function putFlag(ctx: CommandContext, key: string, patch: FlagJson): Promise<void> {
  const client = await ctx.client();
  const reason = optionalString(ctx, 'reason');
  const body = await client.request('PUT', AdminClient.path('feature-flags', key), {
    body: { ...patch, ...(reason ? { reason } : {}) },
  });
  if (ctx.global.json) return printJson(ctx.io, body);
  const flag = extractFlag(body);
  const env = environmentOf(body, ctx.global.env);
  ctx.io.stdout.write(
    `${key}${env ? ` [${env}]` : ''}: enabled=${String(flag.enabled ?? patch.enabled ?? '-')}, ${stateOf({ ...patch, ...flag })}\n`,
  );
}

const environmentsOption = {
  environments: {
    type: 'string' as const,
    description: 'comma-separated environments to export (default: --env, else dev,staging,prod)',
  },
};

export const flagsCommands: Command[] = [
  {
    name: 'flags list',
    usage: 'rupaya flags list [--env <env>]',
    summary: 'List the flags of an environment',
    async run(ctx) {
      const client = await ctx.client();
      const body = await client.request('GET', AdminClient.path('feature-flags'));
      if (ctx.global.json) return printJson(ctx.io, body);
      const env = environmentOf(body, ctx.global.env);
      if (env) ctx.io.stdout.write(`environment: ${env}\n`);
      ctx.io.stdout.write(
        renderTable(extractFlags(body).map(flagRow), ['key', 'type', 'enabled', 'kind', 'state']),
      );
    },
  },
  {
    name: 'flags get',
    usage: 'rupaya flags get <key> [--env <env>]',
    summary: "Show one flag with the environment's configuration",
    async run(ctx) {
      const key = requireArg(ctx, 0, 'key');
      const client = await ctx.client();
      const body = await client.request('GET', AdminClient.path('feature-flags', key));
      if (ctx.global.json) return printJson(ctx.io, body);
      const flag = extractFlag(body);
      const env = environmentOf(body, ctx.global.env);
      ctx.io.stdout.write(
        renderKeyValues({ ...(env ? { environment: env } : {}), state: stateOf(flag), ...flag }),
      );
    },
  },
  {
    name: 'flags enable',
    usage: 'rupaya flags enable <key> [--env <env>] [--reason <text>]',
    summary: 'Turn a flag on (kill switch off)',
    options: reasonOption,
    async run(ctx) {
      await putFlag(ctx, requireArg(ctx, 0, 'key'), { enabled: true });
    },
  },
  {
    name: 'flags disable',
    usage: 'rupaya flags disable <key> [--env <env>] [--reason <text>]',
    summary: 'Turn a flag off: every unit gets the off variant (kill switch)',
    options: reasonOption,
    async run(ctx) {
      await putFlag(ctx, requireArg(ctx, 0, 'key'), { enabled: false });
    },
  },
  {
    name: 'flags set-rollout',
    usage: 'rupaya flags set-rollout <key> <percent> [--env <env>] [--reason <text>]',
    summary: 'Set the percentage rollout of a flag (0-100, 0.001 resolution)',
    options: reasonOption,
    async run(ctx) {
      const key = requireArg(ctx, 0, 'key');
      const percent = parsePercent(requireArg(ctx, 1, 'percent'));
      await putFlag(ctx, key, { rolloutPercentage: percent });
    },
  },
  {
    name: 'flags export',
    usage: 'rupaya flags export <file> [--environments dev,staging,prod]',
    summary: 'Write every flag of the environments to a JSON or YAML file (flags as code)',
    options: environmentsOption,
    details: 'The file format is YAML when <file> ends in .yaml or .yml, JSON otherwise.',
    async run(ctx) {
      const path = resolve(ctx.io.cwd, requireArg(ctx, 0, 'file'));
      const envs = (optionalString(ctx, 'environments') ?? ctx.global.env ?? 'dev,staging,prod')
        .split(',')
        .map((e) => e.trim())
        .filter(Boolean);
      const done = progress(ctx.io, `exporting ${envs.join(', ')}`, ctx.global.json);
      const client = await ctx.client();
      const byEnv: Record<string, FlagJson[]> = {};
      try {
        for (const env of envs) byEnv[env] = await getEnvironmentFlags(client, env);
      } finally {
        done();
      }
      const file = buildFlagsFile(byEnv);
      await writeFile(path, serializeFlagsFile(file, path));
      const summary = { file: path, environments: envs, flags: file.flags.length };
      if (ctx.global.json) return printJson(ctx.io, summary);
      ctx.io.stdout.write(`wrote ${file.flags.length} flags (${envs.join(', ')}) to ${path}\n`);
    },
  },
  {
    name: 'flags import',
    usage: 'rupaya flags import <file> [--dry-run] [--reason <text>]',
    summary: 'Apply a flags file: show the diff, then apply it in one audited transaction',
    options: {
      ...reasonOption,
      'dry-run': { type: 'boolean', description: 'show the diff only, change nothing' },
    },
    details:
      'Fields absent from the file are left as they are; flags the file does not mention are left alone;\n' +
      "a canary's run-time state (`canary`) is written only when the flag is created.",
    async run(ctx) {
      const path = resolve(ctx.io.cwd, requireArg(ctx, 0, 'file'));
      const file = await readFlagsFileOrUsage(path);
      const dryRun = ctx.options['dry-run'] === true;
      const reason = optionalString(ctx, 'reason');
      const client = await ctx.client();
      const done = progress(ctx.io, `comparing ${path} with ${ctx.global.url}`, ctx.global.json);
      const changes: FlagChange[] = [];
      const environments: Record<string, ReturnType<typeof resolveEnvironment>> = {};
      try {
        for (const env of file.environments) {
          environments[env] = resolveEnvironment(file, env);
          changes.push(...diffEnvironment(env, environments[env], await getEnvironmentFlags(client, env)));
        }
      } finally {
        done();
      }
      const pending = changes.filter((c) => c.action !== 'unchanged');
      if (!ctx.global.json) ctx.io.stdout.write(renderDiff(changes));
      if (dryRun || pending.length === 0) {
        if (ctx.global.json) printJson(ctx.io, { dryRun, applied: false, changes });
        else ctx.io.stdout.write(dryRun ? 'dry run: nothing applied\n' : 'nothing to apply\n');
        return;
      }
      const applying = progress(ctx.io, `applying ${pending.length} change(s)`, ctx.global.json);
      let result: unknown;
      try {
        // One request, one transaction on the server: every environment's changes and their audit rows
        // commit together or not at all.
        result = await client.request('POST', `${AdminClient.path('feature-flags')}:import`, {
          environment: false,
          body: { environments, ...(reason ? { reason } : {}) },
        });
      } finally {
        applying();
      }
      if (ctx.global.json) return printJson(ctx.io, { dryRun: false, applied: true, changes, result });
      ctx.io.stdout.write(`applied ${pending.length} change(s)\n`);
    },
  },
];

/** Reads and checks a flags file; a missing or invalid file is a usage error naming every problem. */
export async function readFlagsFileOrUsage(path: string): Promise<FlagsFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new UsageError(
      `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  const parsed = parseFlagsFile(text, path);
  if (!parsed.ok) {
    throw new UsageError(
      `${path} is not a valid flags file:\n${parsed.problems.map((p) => `  ${p.path || '(file)'}: ${p.message}`).join('\n')}`,
    );
  }
  return parsed.file;
}
