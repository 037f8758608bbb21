// What every command receives: parsed options, positionals, the output streams and a ready admin client.
import { AdminClient } from './client';
import { UsageError } from './errors';
import { DEFAULT_OIDC_AUDIENCE, fetchGithubOidcToken } from './oidc';
import type { Io } from './output';

export interface GlobalOptions {
  url: string;
  token?: string;
  env?: string;
  json: boolean;
  oidc: boolean;
  oidcAudience: string;
}

export type OptionValues = Record<string, string | boolean | undefined>;

export interface CommandContext {
  io: Io;
  global: GlobalOptions;
  options: OptionValues;
  args: string[];
  fetchImpl: typeof fetch;
  /** The admin client, with the token (or the OIDC token, fetched once) applied. */
  client(opts?: { auth?: boolean }): Promise<AdminClient>;
}

/** The control plane's default address (its PORT default). */
export const DEFAULT_URL = 'http://127.0.0.1:3000';

export function globalOptions(options: OptionValues, env: Record<string, string | undefined>): GlobalOptions {
  const str = (v: unknown) => (typeof v === 'string' && v.length > 0 ? v : undefined);
  return {
    url: str(options.url) ?? str(env.RUPAYA_URL) ?? DEFAULT_URL,
    token: str(options.token) ?? str(env.RUPAYA_TOKEN),
    env: str(options.env) ?? str(env.RUPAYA_ENV),
    json: options.json === true,
    oidc: options.oidc === true || env.RUPAYA_OIDC === 'true',
    oidcAudience: str(options['oidc-audience']) ?? str(env.RUPAYA_OIDC_AUDIENCE) ?? DEFAULT_OIDC_AUDIENCE,
  };
}

export function makeContext(
  io: Io,
  options: OptionValues,
  args: string[],
  fetchImpl: typeof fetch,
): CommandContext {
  const global = globalOptions(options, io.env);
  try {
    new URL(global.url);
  } catch {
    throw new UsageError(`--url (or RUPAYA_URL) is not a URL: ${global.url}`);
  }
  let oidcToken: Promise<string> | undefined;
  return {
    io,
    global,
    options,
    args,
    fetchImpl,
    async client(opts = {}) {
      let token = global.token;
      if ((opts.auth ?? true) && global.oidc) {
        oidcToken ??= fetchGithubOidcToken(io.env, global.oidcAudience, fetchImpl);
        token = await oidcToken;
      }
      return new AdminClient({ url: global.url, token, environment: global.env, fetchImpl });
    },
  };
}

/** Reads `name` as a string option or throws a usage error. */
export function requireString(ctx: CommandContext, name: string): string {
  const v = ctx.options[name];
  if (typeof v !== 'string' || v.length === 0) throw new UsageError(`--${name} is required`);
  return v;
}

export function optionalString(ctx: CommandContext, name: string): string | undefined {
  const v = ctx.options[name];
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

export function requireArg(ctx: CommandContext, index: number, name: string): string {
  const v = ctx.args[index];
  if (v === undefined || v.length === 0) throw new UsageError(`missing <${name}>`);
  return v;
}

/** Parses a percentage 0–100 (0.001 resolution) or throws a usage error naming it. */
export function parsePercent(text: string, name = 'percent'): number {
  if (!/^\d+(\.\d+)?$/.test(text.trim()))
    throw new UsageError(`<${name}> must be a number from 0 to 100, got "${text}"`);
  const n = Number(text);
  if (!(n >= 0 && n <= 100)) throw new UsageError(`<${name}> must be a number from 0 to 100, got "${text}"`);
  if (Math.round(n * 1000) / 1000 !== n)
    throw new UsageError(`<${name}> has a resolution of 0.001, got "${text}"`);
  return n;
}
