// The rupaya CLI against a real control plane (in-process, loopback, PGlite and Postgres): every API command,
// exit codes with the catalogue's codes, roles, and flags as code (export → edit → diff → one transaction).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  createTestDatabase,
  findDefaultFlagsFile,
  readFlagsFile,
  type RunningControlPlane,
  startControlPlane,
  storageKinds,
  type TestDatabase,
} from '@rupaya/control-plane';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseFlagsFile, resolveEnvironment, serializeFlagsFile } from '../../packages/cli/src/flags-file';
import { run } from '../../packages/cli/src/run';

const root = resolve(import.meta.dirname, '../..');
const ADMIN = `rpy_admin_${'e2e'.repeat(12)}`;

async function cli(argv: string[], env: Record<string, string | undefined>) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run(argv, {
    stdout: { write: (s: string) => out.push(s) },
    stderr: { write: (s: string) => err.push(s) },
    env,
    cwd: root,
  });
  return { code, out: out.join(''), err: err.join('') };
}

describe('config/feature-flags.json', () => {
  it('is the file the control plane seeds from, read the way the CLI reads it', () => {
    const path = join(root, 'config/feature-flags.json');
    expect(findDefaultFlagsFile({})).toBe(path);
    const parsed = parseFlagsFile(readFileSync(path, 'utf8'), path);
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
    expect(readFlagsFile(path)).toEqual(parsed.file);
    for (const env of ['dev', 'staging', 'prod'] as const) {
      expect(resolveEnvironment(parsed.file, env)).toHaveLength(9);
    }
  });
});

describe.each(storageKinds)('rupaya CLI on %s', (kind) => {
  let db: TestDatabase;
  let cp: RunningControlPlane;
  let env: Record<string, string>;
  const dir = mkdtempSync(join(tmpdir(), 'rupaya-cli-e2e-'));
  const api = async (path: string, init: RequestInit = {}) => {
    const res = await fetch(cp.url + path, {
      ...init,
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json', ...init.headers },
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const flagIn = async (environment: string, key: string) =>
    (await api(`/api/admin/deployment/feature-flags/${key}?environment=${environment}`)).body.flag as Record<
      string,
      unknown
    >;

  beforeAll(async () => {
    db = await createTestDatabase(kind);
    cp = await startControlPlane({
      databaseUrl: db.databaseUrl,
      dataDir: db.dataDir,
      env: { ADMIN_API_TOKEN: ADMIN },
    });
    env = { RUPAYA_URL: cp.url, RUPAYA_TOKEN: ADMIN };
  }, 180_000); // a control-plane start takes long on a loaded machine
  afterAll(async () => {
    await cp?.close();
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('flags list: a table for people, the API answer with --json', async () => {
    const table = await cli(['flags', 'list', '--env', 'staging'], env);
    expect(table.code).toBe(0);
    expect(table.out).toMatch(/^environment: staging\nKEY\s+TYPE\s+ENABLED\s+KIND\s+STATE\n/);
    expect(table.out).toMatch(/feature\.new-dashboard\s+boolean\s+true\s+rollout\s+50%/);
    expect(table.out).toMatch(
      /canary\.new-payment-processor\s+boolean\s+true\s+canary\s+stage 1\/5 \(1%\) paused/,
    );
    const json = await cli(['flags', 'list', '--env', 'prod', '--json'], env);
    const body = JSON.parse(json.out);
    expect(body.environment).toBe('prod');
    expect(body.flags).toHaveLength(9);
  });

  it('set-rollout, disable, enable write with the reason in the audit trail', async () => {
    const set = await cli(
      ['flags', 'set-rollout', 'feature.new-dashboard', '12.5', '--env', 'staging', '--reason', 'e2e step'],
      env,
    );
    expect(set.code).toBe(0);
    expect(set.out).toContain('feature.new-dashboard [staging]: enabled=true, 12.5%');
    expect(await flagIn('staging', 'feature.new-dashboard')).toMatchObject({ rolloutPercentage: 12.5 });
    expect(await flagIn('prod', 'feature.new-dashboard')).toMatchObject({ rolloutPercentage: 0 });
    const audit = await api(
      '/api/admin/deployment/feature-flags/feature.new-dashboard/audit?environment=staging',
    );
    expect((audit.body.entries as { reason: string; actor: string }[])[0]).toMatchObject({
      reason: 'e2e step',
    });

    expect((await cli(['flags', 'disable', 'feature.ai-budgeting', '--env', 'dev'], env)).code).toBe(0);
    expect(await flagIn('dev', 'feature.ai-budgeting')).toMatchObject({ enabled: false });
    expect((await cli(['flags', 'enable', 'feature.ai-budgeting', '--env', 'dev'], env)).code).toBe(0);
    expect(await flagIn('dev', 'feature.ai-budgeting')).toMatchObject({ enabled: true });
  });

  it('flags get shows the flag; an unknown flag exits 1 with FLAG_NOT_FOUND', async () => {
    const got = await cli(['flags', 'get', 'rollback.error-rate-threshold', '--env', 'prod'], env);
    expect(got.code).toBe(0);
    expect(got.out).toMatch(/^environment\s+prod$/m);
    expect(got.out).toMatch(/^value\s+5$/m);
    const missing = await cli(['flags', 'get', 'feature.nope', '--json'], env);
    expect(missing.code).toBe(1);
    expect(JSON.parse(missing.out).error).toMatchObject({ code: 'FLAG_NOT_FOUND', status: 404 });
    expect(missing.err).toMatch(/^error: FLAG_NOT_FOUND: .*feature\.nope/);
  });

  it('canary advance / rollback / pause / resume go through the canary API', async () => {
    const adv = await cli(
      ['canary', 'advance', 'canary.new-payment-processor', '--env', 'dev', '--json'],
      env,
    );
    expect(adv.code).toBe(0);
    expect((await flagIn('dev', 'canary.new-payment-processor')).canary).toMatchObject({
      stage: 1,
      status: 'paused',
    });
    expect((await cli(['canary', 'resume', 'canary.new-payment-processor', '--env', 'dev'], env)).code).toBe(
      0,
    );
    expect((await flagIn('dev', 'canary.new-payment-processor')).canary).toMatchObject({
      status: 'progressing',
    });
    expect((await cli(['canary', 'pause', 'canary.new-payment-processor', '--env', 'dev'], env)).code).toBe(
      0,
    );
    const rb = await cli(
      ['canary', 'rollback', 'canary.new-payment-processor', '--env', 'dev', '--reason', 'e2e'],
      env,
    );
    expect(rb.code).toBe(0);
    expect((await flagIn('dev', 'canary.new-payment-processor')).canary).toMatchObject({
      status: 'rolled_back',
    });
    expect((await flagIn('staging', 'canary.new-payment-processor')).canary).toMatchObject({
      stage: 0,
      status: 'paused',
    });
    const notCanary = await cli(['canary', 'advance', 'feature.new-dashboard'], env);
    expect(notCanary.code).toBe(1);
    expect(notCanary.err).toContain('NOT_A_CANARY');
  });

  it('tokens create mints a role; a viewer reads but cannot write (FORBIDDEN_ROLE)', async () => {
    const minted = await cli(
      ['tokens', 'create', '--role', 'viewer', '--subject', 'e2e-viewer', '--json'],
      env,
    );
    expect(minted.code).toBe(0);
    const token = JSON.parse(minted.out).token as string;
    const viewer = { RUPAYA_URL: cp.url, RUPAYA_TOKEN: token };
    expect((await cli(['flags', 'list'], viewer)).code).toBe(0);
    const denied = await cli(['flags', 'disable', 'feature.offline-sync'], viewer);
    expect(denied.code).toBe(1);
    expect(denied.err).toContain('FORBIDDEN_ROLE');
    const who = await cli(['whoami', '--json'], viewer);
    expect(who.code).toBe(0);
    expect(JSON.parse(who.out)).toMatchObject({ subject: 'e2e-viewer', role: 'viewer' });
    const noToken = await cli(['flags', 'list'], { RUPAYA_URL: cp.url });
    expect(noToken.code).toBe(1);
    expect(noToken.err).toContain('UNAUTHORIZED');
  });

  it('sdk-keys create gives a key that reads its environment’s snapshot', async () => {
    const created = await cli(['sdk-keys', 'create', '--env', 'prod'], env);
    expect(created.code).toBe(0);
    const key = created.out.trim();
    expect(key).toMatch(/^rpy_sdk_/);
    const res = await fetch(`${cp.url}/api/sdk/v1/snapshot`, { headers: { authorization: `Bearer ${key}` } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { environment: string }).environment).toBe('prod');
  });

  it('sdk-keys and tokens list and revoke, and audit credentials shows who did what', async () => {
    const created = await cli(['sdk-keys', 'create', '--env', 'prod', '--json'], env);
    expect(created.code).toBe(0);
    const { id: keyId, key } = JSON.parse(created.out) as { id: string; key: string };
    const listed = await cli(['sdk-keys', 'list', '--env', 'prod', '--json'], env);
    expect(listed.code).toBe(0);
    const keys = JSON.parse(listed.out).keys as {
      id: string;
      environment: string;
      revokedBy: string | null;
    }[];
    expect(keys.find((k) => k.id === keyId)).toMatchObject({ environment: 'prod', revokedBy: null });
    expect(keys.every((k) => k.environment === 'prod')).toBe(true);
    const table = await cli(['sdk-keys', 'list', '--env', 'prod'], env);
    expect(table.out).toMatch(/^ID\s+ENVIRONMENT\s+KEYPREFIX/);
    expect(table.out).toContain(keyId);
    expect(table.out).not.toContain(key);

    const revoked = await cli(['sdk-keys', 'revoke', keyId, '--json'], env);
    expect(revoked.code).toBe(0);
    expect(JSON.parse(revoked.out)).toMatchObject({
      id: keyId,
      revokedBy: expect.stringMatching(/^admin-token:/),
    });
    const snapshot = await fetch(`${cp.url}/api/sdk/v1/snapshot`, {
      headers: { authorization: `Bearer ${key}` },
    });
    expect(snapshot.status).toBe(401);
    const again = await cli(['sdk-keys', 'revoke', keyId], env);
    expect(again.code).toBe(1);
    expect(again.err).toContain('SDK_KEY_NOT_FOUND');

    const minted = await cli(
      ['tokens', 'create', '--role', 'editor', '--subject', 'e2e-rotate', '--json'],
      env,
    );
    const { id: tokenId, token } = JSON.parse(minted.out) as { id: string; token: string };
    const tokens = await cli(['tokens', 'list'], env);
    expect(tokens.code).toBe(0);
    expect(tokens.out).toMatch(/^ID\s+SUBJECT\s+ROLE/);
    expect(tokens.out).toContain(tokenId);
    expect((await cli(['flags', 'list'], { RUPAYA_URL: cp.url, RUPAYA_TOKEN: token })).code).toBe(0);
    expect((await cli(['tokens', 'revoke', tokenId], env)).code).toBe(0);
    const refused = await cli(['flags', 'list'], { RUPAYA_URL: cp.url, RUPAYA_TOKEN: token });
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('UNAUTHORIZED');

    const audit = await cli(['audit', 'credentials', '--id', keyId, '--json'], env);
    expect(audit.code).toBe(0);
    expect((JSON.parse(audit.out).entries as { action: string }[]).map((e) => e.action)).toEqual([
      'sdk_key.revoked',
      'sdk_key.created',
    ]);
    const recent = await cli(['audit', 'credentials', '--limit', '3'], env);
    expect(recent.code).toBe(0);
    const lines = recent.out.trim().split('\n');
    expect(lines[0]).toMatch(/^CREATEDAT\s+ACTION\s+CREDENTIALID\s+DETAIL\s+ACTOR$/);
    // Newest first: the token's revocation, its minting, the key's revocation.
    expect(lines.slice(1).map((l) => l.split(/\s+/)[1])).toEqual([
      'token.revoked',
      'token.minted',
      'sdk_key.revoked',
    ]);
    expect(lines[1]).toContain('e2e-rotate (editor)');
    const bad = await cli(['audit', 'credentials', '--action', 'token.deleted'], env);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('VALIDATION_FAILED');
  });

  it('health reads /health', async () => {
    const h = await cli(['health', '--json'], env);
    expect(h.code).toBe(0);
    expect(JSON.parse(h.out).service.status).toBe('OK');
  });

  it('the default flags file matches a freshly seeded environment (import --dry-run shows nothing to do)', async () => {
    const r = await cli(['flags', 'import', 'config/feature-flags.json', '--dry-run', '--json'], {
      ...env,
    });
    expect(r.code).toBe(0);
    const changed = (
      JSON.parse(r.out).changes as { action: string; environment: string; key: string }[]
    ).filter((c) => c.action !== 'unchanged');
    // Only what the tests above changed differs from the defaults.
    expect(changed.map((c) => `${c.environment}:${c.key}`).sort()).toEqual(['staging:feature.new-dashboard']);
  });

  it('export → edit → import --dry-run (diff, nothing written) → import (one transaction, audited)', async () => {
    const file = join(dir, 'flags.yaml');
    const exported = await cli(['flags', 'export', file], env);
    expect(exported.code).toBe(0);
    const parsed = parseFlagsFile(readFileSync(file, 'utf8'), file);
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
    const doc = parsed.file;
    expect(doc.environments).toEqual(['dev', 'staging', 'prod']);
    const dash = doc.flags.find((f) => f.key === 'feature.new-dashboard')!;
    dash.environments!.prod!.rolloutPercentage = 5;
    doc.flags.push({
      key: 'feature.from-file',
      type: 'boolean',
      enabled: true,
      description: 'Created by import',
    });
    writeFileSync(file, serializeFlagsFile(doc, file));

    const dry = await cli(['flags', 'import', file, '--dry-run'], env);
    expect(dry.code).toBe(0);
    expect(dry.out).toContain('~ [prod] feature.new-dashboard\n    rolloutPercentage: 0 -> 5');
    expect(dry.out).toContain('+ [dev] feature.from-file (new)');
    expect(dry.out).toContain('dry run: nothing applied');
    expect(await flagIn('prod', 'feature.new-dashboard')).toMatchObject({ rolloutPercentage: 0 });

    const revisionsNow = async () =>
      Object.fromEntries(
        (
          (await api('/api/admin/deployment/environments')).body.environments as {
            key: string;
            revision: number;
          }[]
        ).map((e) => [e.key, e.revision]),
      );
    const before = await revisionsNow();
    const applied = await cli(['flags', 'import', file, '--reason', 'flags as code', '--json'], env);
    expect(applied.code).toBe(0);
    // One snapshot revision per environment for the whole import, not one per flag written.
    const after = await revisionsNow();
    for (const e of ['dev', 'staging', 'prod']) expect(after[e]).toBe((before[e] ?? 0) + 1);
    expect(JSON.parse(applied.out)).toMatchObject({ applied: true, result: { applied: true } });
    expect(await flagIn('prod', 'feature.new-dashboard')).toMatchObject({ rolloutPercentage: 5 });
    expect(await flagIn('staging', 'feature.from-file')).toMatchObject({
      enabled: true,
      description: 'Created by import',
    });
    const audit = await api(
      '/api/admin/deployment/feature-flags/feature.new-dashboard/audit?environment=prod',
    );
    expect((audit.body.entries as { reason: string }[])[0]).toMatchObject({
      reason: 'flags as code',
      revision: after.prod,
    });

    const again = await cli(['flags', 'import', file], env);
    expect(again.code).toBe(0);
    expect(again.out).toContain('nothing to apply');
  });

  it('an import the server rejects changes nothing (one transaction), and names the place', async () => {
    const file = join(dir, 'bad.json');
    writeFileSync(
      file,
      JSON.stringify({
        version: 1,
        environments: ['dev'],
        flags: [
          { key: 'feature.advanced-analytics', type: 'boolean', enabled: true, rolloutPercentage: 77 },
          // valid as a flag, but an existing boolean flag cannot become a number
          { key: 'feature.offline-sync', type: 'number', enabled: true, value: 3 },
        ],
      }),
    );
    const r = await cli(['flags', 'import', file, '--json'], env);
    expect(r.code).toBe(1);
    const error = JSON.parse(r.out).error;
    expect(error.code).toBe('VALIDATION_FAILED');
    expect(error.field).toBe('environments.dev[1].type');
    expect(await flagIn('dev', 'feature.advanced-analytics')).toMatchObject({ rolloutPercentage: 100 });
  });

  const bin = join(root, 'packages/cli/dist/bin.js');
  if (!existsSync(bin))
    console.warn(`${bin} is missing: run \`npx pnpm@12.4.2 build\` first; the binary test is skipped`);
  it.skipIf(kind !== 'pglite' || !existsSync(bin))(
    'the built binary exits 0 / 1 / 2 as documented',
    async () => {
      const envv = { ...process.env, RUPAYA_URL: cp.url, RUPAYA_TOKEN: ADMIN };
      const ok = await exec('node', [bin, 'flags', 'get', 'feature.new-dashboard', '--json'], envv);
      expect(ok.status).toBe(0);
      expect(JSON.parse(ok.stdout).flag.key).toBe('feature.new-dashboard');
      const apiError = await exec('node', [bin, 'flags', 'get', 'feature.nope'], envv);
      expect(apiError.status).toBe(1);
      expect(apiError.stderr).toContain('FLAG_NOT_FOUND');
      const usage = await exec('node', [bin, 'flags', 'set-rollout', 'feature.new-dashboard', '300'], envv);
      expect(usage.status).toBe(2);
      expect(usage.stderr).toContain('from 0 to 100');
    },
  );

  it('an invalid file is a usage error (exit 2) before any request', async () => {
    const file = join(dir, 'invalid.json');
    writeFileSync(
      file,
      JSON.stringify({
        version: 1,
        environments: ['dev'],
        flags: [{ key: 'feature.x', type: 'boolean', enabled: true, rolloutPercentage: 150 }],
      }),
    );
    const r = await cli(['flags', 'import', file], env);
    expect(r.code).toBe(2);
    expect(r.err).toContain('rolloutPercentage');
  });
});

/** Runs a command without blocking the event loop (the control plane answering it lives in this process). */
function exec(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(cmd, args, { env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (status) => done({ status, stdout, stderr }));
  });
}
