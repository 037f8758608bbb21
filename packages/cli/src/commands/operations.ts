// Canaries, health, metrics, experiments, tokens and SDK keys: thin calls of the admin API.
import { AdminClient } from '../client';
import { optionalString, requireArg, requireString } from '../context';
import { CliApiError, UsageError } from '../errors';
import { printJson, renderAny, renderKeyValues, renderTable } from '../output';
import { type Command, reasonOption } from './types';

const canaryActions = ['advance', 'rollback', 'pause', 'resume'] as const;

const canaryCommands: Command[] = canaryActions.map((action) => ({
  name: `canary ${action}`,
  usage: `rupaya canary ${action} <key> [--env <env>] [--reason <text>]`,
  summary: {
    advance: 'Move a canary to its next stage now',
    rollback: 'Roll a canary back to 0% (status rolled_back)',
    pause: 'Stop automatic progression of a canary',
    resume: 'Restart automatic progression of a paused canary',
  }[action],
  options: reasonOption,
  async run(ctx) {
    const key = requireArg(ctx, 0, 'key');
    const reason = optionalString(ctx, 'reason');
    const client = await ctx.client();
    const body = await client.request('POST', AdminClient.path('feature-flags', key, `${action}-canary`), {
      body: reason ? { reason } : {},
    });
    if (ctx.global.json) return printJson(ctx.io, body);
    ctx.io.stdout.write(renderAny(body));
  },
}));

function isoOrRelative(text: string, name: string, now: number): string {
  const rel = /^(\d+)(s|m|h|d)$/.exec(text);
  if (rel) {
    const unit = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 }[rel[2] as 's' | 'm' | 'h' | 'd'];
    return new Date(now - Number(rel[1]) * unit).toISOString();
  }
  const t = Date.parse(text);
  if (Number.isNaN(t))
    throw new UsageError(`--${name} must be an ISO-8601 time or a duration ago like 15m, 2h, 1d`);
  return new Date(t).toISOString();
}

/** `<resource> list`: GET /<resource> as a table of `columns` (or `--json`). */
function listCommand(spec: {
  name: string;
  usage: string;
  summary: string;
  resource: 'tokens' | 'sdk-keys';
  /** The array in the answer (default: the resource's name). */
  field?: string;
  /** `--env` filters the list instead of being sent as the scope of the request. */
  byEnvironment?: boolean;
  columns: string[];
}): Command {
  return {
    name: spec.name,
    usage: spec.usage,
    summary: spec.summary,
    async run(ctx) {
      const client = await ctx.client();
      const body = await client.request<Record<string, Record<string, unknown>[]>>(
        'GET',
        AdminClient.path(spec.resource),
        { environment: false, query: spec.byEnvironment ? { environment: ctx.global.env } : {} },
      );
      if (ctx.global.json) return printJson(ctx.io, body);
      ctx.io.stdout.write(renderTable(body[spec.field ?? spec.resource] ?? [], spec.columns));
    },
  };
}

/** `<resource> revoke <id>`: DELETE /<resource>/<id>, the revoked credential shown. */
function revokeCommand(spec: { name: string; summary: string; resource: 'tokens' | 'sdk-keys' }): Command {
  return {
    name: spec.name,
    usage: `rupaya ${spec.name} <id>`,
    summary: spec.summary,
    async run(ctx) {
      const id = requireArg(ctx, 0, 'id');
      const client = await ctx.client();
      const body = await client.request('DELETE', AdminClient.path(spec.resource, id), {
        environment: false,
      });
      if (ctx.global.json) return printJson(ctx.io, body);
      ctx.io.stdout.write(renderKeyValues(body));
    },
  };
}

export const operationCommands: Command[] = [
  ...canaryCommands,
  {
    name: 'health',
    usage: 'rupaya health [--env <env>]',
    summary: "The service's /health, and the environment's deployment health when a token is given",
    async run(ctx) {
      const client = await ctx.client({ auth: false });
      const service = await client.request<Record<string, unknown>>('GET', '/health', {
        auth: false,
        environment: false,
      });
      let deployment: unknown;
      if (ctx.global.token || ctx.global.oidc) {
        try {
          deployment = await (await ctx.client()).request('GET', AdminClient.path('metrics', 'health'));
        } catch (err) {
          // A control plane without the metrics routes still has /health.
          if (!(err instanceof CliApiError && err.code === 'NOT_FOUND')) throw err;
        }
      }
      if (ctx.global.json)
        return printJson(ctx.io, deployment === undefined ? { service } : { service, deployment });
      ctx.io.stdout.write(renderKeyValues(service));
      if (deployment !== undefined) ctx.io.stdout.write(`\ndeployment health:\n${renderAny(deployment)}`);
    },
  },
  {
    name: 'metrics',
    usage: 'rupaya metrics [--from <time>] [--to <time>] [--flag <key>] [--granularity <g>] [--env <env>]',
    summary: 'Metric windows over a time range (requests, error rate, P50/P95/P99, RPS)',
    options: {
      from: { type: 'string', description: 'start: ISO-8601 or a duration ago (15m, 2h, 1d); default 1h' },
      to: { type: 'string', description: 'end: ISO-8601 or a duration ago; default now' },
      flag: { type: 'string', description: 'only this flag' },
      granularity: {
        type: 'string',
        description: 'raw (every window), 1m (one-minute roll-ups) or auto (default)',
      },
    },
    async run(ctx) {
      const now = Date.now();
      const from = isoOrRelative(optionalString(ctx, 'from') ?? '1h', 'from', now);
      const to = isoOrRelative(optionalString(ctx, 'to') ?? '0s', 'to', now);
      const client = await ctx.client();
      const body = await client.request('GET', AdminClient.path('metrics', 'range'), {
        query: {
          from,
          to,
          flag: optionalString(ctx, 'flag'),
          granularity: optionalString(ctx, 'granularity'),
        },
      });
      if (ctx.global.json) return printJson(ctx.io, body);
      ctx.io.stdout.write(renderAny(body));
    },
  },
  {
    name: 'experiments results',
    usage: 'rupaya experiments results <key> [--env <env>]',
    summary: 'Per-variant units, exposures and metrics of an experiment',
    async run(ctx) {
      const key = requireArg(ctx, 0, 'key');
      const client = await ctx.client();
      const body = await client.request('GET', AdminClient.path('experiments', key, 'results'));
      if (ctx.global.json) return printJson(ctx.io, body);
      ctx.io.stdout.write(renderAny(body));
    },
  },
  {
    name: 'experiments significance',
    usage: 'rupaya experiments significance <key> [--env <env>]',
    summary: 'Tests, p-values, confidence intervals and the verdict per variant against control',
    async run(ctx) {
      const key = requireArg(ctx, 0, 'key');
      const client = await ctx.client();
      const body = await client.request(
        'GET',
        AdminClient.path('experiments', key, 'statistical-significance'),
      );
      if (ctx.global.json) return printJson(ctx.io, body);
      ctx.io.stdout.write(renderAny(body));
    },
  },
  {
    name: 'whoami',
    usage: 'rupaya whoami',
    summary: 'Who the credentials are (kind, subject, role): checks a token or an OIDC role mapping',
    async run(ctx) {
      const client = await ctx.client();
      const body = await client.request('GET', AdminClient.path('whoami'), { environment: false });
      if (ctx.global.json) return printJson(ctx.io, body);
      ctx.io.stdout.write(renderKeyValues(body));
    },
  },
  {
    name: 'tokens create',
    usage: 'rupaya tokens create --role viewer|editor|admin [--subject <name>] [--expires-in <duration>]',
    summary: 'Mint an admin API token (JWT) with a role; printed once',
    options: {
      role: {
        type: 'string',
        description: 'viewer (read), editor (flags and canaries) or admin (keys, tokens, webhooks)',
      },
      subject: { type: 'string', description: 'who the token is for (audit actor); default "cli"' },
      'expires-in': { type: 'string', description: 'lifetime, e.g. 1h, 30d (server default when omitted)' },
    },
    async run(ctx) {
      const role = requireString(ctx, 'role');
      if (!['viewer', 'editor', 'admin'].includes(role)) {
        throw new UsageError(`--role must be viewer, editor or admin, got "${role}"`);
      }
      const expiresIn = optionalString(ctx, 'expires-in');
      const client = await ctx.client();
      const body = await client.request<{ token?: string }>('POST', AdminClient.path('tokens'), {
        environment: false,
        body: { role, subject: optionalString(ctx, 'subject') ?? 'cli', ...(expiresIn ? { expiresIn } : {}) },
      });
      if (ctx.global.json) return printJson(ctx.io, body);
      ctx.io.stdout.write(`${body.token}\n`);
      ctx.io.stderr.write('This token is shown once; store it in a secret manager.\n');
    },
  },
  listCommand({
    name: 'tokens list',
    usage: 'rupaya tokens list',
    summary:
      'List minted tokens (never the tokens themselves): role, expiry, who created and who revoked each',
    resource: 'tokens',
    columns: ['id', 'subject', 'role', 'createdBy', 'expiresAt', 'revokedAt', 'revokedBy'],
  }),
  revokeCommand({
    name: 'tokens revoke',
    summary: 'Revoke a minted token (by the id `tokens list` shows); effective at once, audited',
    resource: 'tokens',
  }),
  {
    name: 'sdk-keys create',
    usage: 'rupaya sdk-keys create [--env <env>]',
    summary: 'Create an SDK key for an environment; printed once',
    async run(ctx) {
      const environment = ctx.global.env;
      if (!environment)
        throw new UsageError('--env (or RUPAYA_ENV) is required: an SDK key belongs to one environment');
      const client = await ctx.client();
      const body = await client.request<{ key?: string }>('POST', AdminClient.path('sdk-keys'), {
        environment: false,
        body: { environment },
      });
      if (ctx.global.json) return printJson(ctx.io, body);
      ctx.io.stdout.write(`${body.key}\n`);
      ctx.io.stderr.write('This key is shown once; give it to the service as RUPAYA_SDK_KEY.\n');
    },
  },
  listCommand({
    name: 'sdk-keys list',
    usage: 'rupaya sdk-keys list [--env <env>]',
    summary: 'List SDK keys (never the keys themselves): who created and who revoked each',
    resource: 'sdk-keys',
    field: 'keys',
    byEnvironment: true,
    columns: ['id', 'environment', 'keyPrefix', 'createdBy', 'createdAt', 'revokedAt', 'revokedBy'],
  }),
  revokeCommand({
    name: 'sdk-keys revoke',
    summary: 'Revoke an SDK key (by the id `sdk-keys list` shows); audited',
    resource: 'sdk-keys',
  }),
  {
    name: 'audit credentials',
    usage: 'rupaya audit credentials [--id <credential id>] [--action <action>] [--limit <n>]',
    summary:
      'The credentials audit, newest first: SDK keys created/revoked, tokens minted/revoked and webhooks created/changed/rotated/deleted, and who did it',
    options: {
      id: { type: 'string', description: "one key's, token's or webhook's history" },
      action: {
        type: 'string',
        description:
          'sdk_key.created, sdk_key.revoked, token.minted, token.revoked, webhook.created, webhook.updated, webhook.secret_rotated or webhook.deleted',
      },
      limit: { type: 'string', description: 'how many entries (1-1000, default 100)' },
    },
    async run(ctx) {
      const limit = optionalString(ctx, 'limit');
      if (limit !== undefined && !/^\d{1,4}$/.test(limit)) {
        throw new UsageError(`--limit must be a number from 1 to 1000, got "${limit}"`);
      }
      const client = await ctx.client();
      const body = await client.request<{ entries: Record<string, unknown>[] }>(
        'GET',
        AdminClient.path('audit', 'credentials'),
        {
          environment: false,
          query: { credentialId: optionalString(ctx, 'id'), action: optionalString(ctx, 'action'), limit },
        },
      );
      if (ctx.global.json) return printJson(ctx.io, body);
      ctx.io.stdout.write(
        renderTable(
          body.entries.map((e) => ({
            ...e,
            detail: e.environment ?? (e.subject ? `${e.subject} (${e.role})` : ''),
          })),
          ['createdAt', 'action', 'credentialId', 'detail', 'actor'],
        ),
      );
    },
  },
];
