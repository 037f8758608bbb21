// The CLI's contract without a control plane: help on every command, usage errors (exit 2), network errors
// (exit 1 with a code), --json errors on stdout, and the GitHub OIDC token request against a local endpoint.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchGithubOidcToken } from '../src/oidc';
import { progress } from '../src/output';
import { commands, run } from '../src/run';

function io(env: Record<string, string | undefined> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: {
      stdout: { write: (s: string) => out.push(s) },
      stderr: { write: (s: string) => err.push(s) },
      env,
      cwd: process.cwd(),
    },
    out: () => out.join(''),
    err: () => err.join(''),
  };
}

describe('rupaya help', () => {
  it('lists every command', async () => {
    const t = io();
    expect(await run(['--help'], t.io)).toBe(0);
    for (const c of commands) expect(t.out()).toContain(c.name);
    expect(t.out()).toContain('Exit codes: 0 ok, 1 API error');
  });

  it.each(commands.map((c) => c.name))('`%s --help` shows its usage', async (name) => {
    const t = io();
    expect(await run([...name.split(' '), '--help'], t.io)).toBe(0);
    expect(t.out()).toMatch(new RegExp(`^Usage: rupaya ${name}`));
    expect(t.out()).toContain('--json');
  });

  it.each(['flags', 'canary', 'experiments', 'tokens', 'sdk-keys', 'audit'])(
    '`%s --help` lists its subcommands',
    async (group) => {
      const t = io();
      expect(await run([group, '--help'], t.io)).toBe(0);
      expect(t.out()).toContain(`Usage: rupaya ${group} <subcommand>`);
    },
  );

  it('no command prints help and exits 2', async () => {
    const t = io();
    expect(await run([], t.io)).toBe(2);
    expect(t.out()).toContain('Usage: rupaya <command>');
  });
});

describe('usage errors exit 2 and change nothing', () => {
  it.each([
    [['nope'], 'unknown command: nope'],
    [['flags', 'nope'], 'unknown command: flags nope'],
    [['flags', 'get'], 'missing <key>'],
    [['flags', 'set-rollout', 'feature.a'], 'missing <percent>'],
    [['flags', 'set-rollout', 'feature.a', '101'], 'from 0 to 100'],
    [['flags', 'set-rollout', 'feature.a', 'ten'], 'from 0 to 100'],
    [['flags', 'set-rollout', 'feature.a', '1.0001'], 'resolution of 0.001'],
    [['flags', 'list', '--frobnicate'], "Unknown option '--frobnicate'"],
    [['flags', 'list', '--dry-run'], 'option --dry-run does not apply to `flags list`'],
    [['tokens', 'create'], '--role is required'],
    [['tokens', 'create', '--role', 'root'], '--role must be viewer, editor or admin'],
    [['sdk-keys', 'create'], '--env (or RUPAYA_ENV) is required'],
    [['sdk-keys', 'revoke'], 'missing <id>'],
    [['tokens', 'revoke'], 'missing <id>'],
    [['audit', 'credentials', '--limit', 'ten'], '--limit must be a number from 1 to 1000'],
    [['metrics', '--from', 'yesterday'], '--from must be an ISO-8601 time'],
    [['flags', 'list', '--url', 'not a url'], 'is not a URL'],
    [['flags', 'import', '/nonexistent/flags.yaml'], 'cannot read /nonexistent/flags.yaml: ENOENT'],
  ])('%o', async (argv, message) => {
    const t = io();
    // A URL nobody listens on: a usage error must be raised before any request.
    expect(
      await run(
        [...argv, '--url', argv.includes('--url') ? argv[argv.indexOf('--url') + 1]! : 'http://127.0.0.1:9'],
        t.io,
      ),
    ).toBe(2);
    expect(t.err()).toContain(message);
  });

  it('--json puts the error on stdout as JSON too', async () => {
    const t = io();
    expect(await run(['flags', 'set-rollout', 'feature.a', '200', '--json'], t.io)).toBe(2);
    expect(JSON.parse(t.out())).toEqual({
      error: { code: 'USAGE', message: '<percent> must be a number from 0 to 100, got "200"' },
    });
  });
});

describe('API errors exit 1', () => {
  it('an unreachable control plane is NETWORK_ERROR', async () => {
    const t = io({ RUPAYA_URL: 'http://127.0.0.1:9' });
    expect(await run(['flags', 'list', '--json'], t.io)).toBe(1);
    expect(JSON.parse(t.out()).error.code).toBe('NETWORK_ERROR');
    expect(t.err()).toMatch(/^error: NETWORK_ERROR: cannot reach http:\/\/127\.0\.0\.1:9/);
  });

  it('--oidc outside GitHub Actions is OIDC_UNAVAILABLE', async () => {
    const t = io();
    expect(await run(['flags', 'list', '--oidc', '--url', 'http://127.0.0.1:9'], t.io)).toBe(1);
    expect(t.err()).toContain('OIDC_UNAVAILABLE');
    expect(t.err()).toContain('id-token: write');
  });
});

describe('GitHub OIDC token request', () => {
  let server: Server;
  let base: string;
  const seen: { url: string; auth: string | undefined }[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push({ url: req.url ?? '', auth: req.headers.authorization });
      if (req.headers.authorization !== 'Bearer runner-secret') {
        res.writeHead(401).end();
        return;
      }
      const audience = new URL(req.url ?? '', 'http://x').searchParams.get('audience');
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ value: `jwt-for-${audience}` }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('asks for the configured audience with the runner token, keeping the URL’s own parameters', async () => {
    const token = await fetchGithubOidcToken(
      {
        ACTIONS_ID_TOKEN_REQUEST_URL: `${base}/token?api-version=2.0`,
        ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'runner-secret',
      },
      'rupaya-prod',
    );
    expect(token).toBe('jwt-for-rupaya-prod');
    expect(seen.at(-1)).toEqual({
      url: '/token?api-version=2.0&audience=rupaya-prod',
      auth: 'Bearer runner-secret',
    });
  });

  it('a refused request is OIDC_UNAVAILABLE with the status', async () => {
    await expect(
      fetchGithubOidcToken(
        { ACTIONS_ID_TOKEN_REQUEST_URL: `${base}/token`, ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'wrong' },
        'x',
      ),
    ).rejects.toMatchObject({ code: 'OIDC_UNAVAILABLE', status: 401 });
  });
});

describe('progress indicator', () => {
  const writer = (isTTY: boolean) => {
    const chunks: string[] = [];
    return { chunks, w: { write: (s: string) => chunks.push(s), isTTY } };
  };
  it('draws a spinner on a terminal and clears it', async () => {
    const err = writer(true);
    const done = progress({ stdout: writer(false).w, stderr: err.w, env: {}, cwd: '/' }, 'importing', false);
    await new Promise((r) => setTimeout(r, 250));
    done('imported');
    expect(err.chunks.length).toBeGreaterThanOrEqual(3);
    expect(err.chunks[0]).toBe('\r| importing');
    expect(err.chunks.at(-1)).toBe('\r\x1b[2Kimported\n');
  });
  it('prints one line when stderr is not a terminal, and nothing with --json', () => {
    const err = writer(false);
    progress({ stdout: writer(false).w, stderr: err.w, env: {}, cwd: '/' }, 'exporting', false)('done');
    expect(err.chunks).toEqual(['exporting...\n', 'done\n']);
    const quiet = writer(true);
    progress({ stdout: writer(false).w, stderr: quiet.w, env: {}, cwd: '/' }, 'exporting', true)('done');
    expect(quiet.chunks).toEqual([]);
  });
});
