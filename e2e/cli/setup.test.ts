// `rupaya setup` through scripts/setup-deployment-features.sh, as the docs tell a new team to run it: checks,
// migrations, seed, admin token (shown once), verification of a control plane it starts and stops again.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createTestDatabase } from '@rupaya/control-plane';
import { afterAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const bin = join(root, 'packages/cli/dist/bin.js');
const built = existsSync(bin) && existsSync(join(root, 'apps/control-plane/dist/index.js'));
if (!built)
  console.warn(
    'packages/cli or apps/control-plane is not built: run `npx pnpm@12.4.2 build`; setup tests skipped',
  );

interface Report {
  ok: boolean;
  checks: { step: string; status: 'pass' | 'fail' | 'skip'; detail: string }[];
  adminToken?: string;
}

function setup(
  env: Record<string, string>,
): Promise<{ status: number | null; report: Report; stderr: string }> {
  return new Promise((done) => {
    const { DATABASE_URL: _db, RUPAYA_DATA_DIR: _dir, ADMIN_API_TOKEN: _token, ...base } = process.env;
    const child = spawn('bash', [join(root, 'scripts/setup-deployment-features.sh'), '--json'], {
      cwd: root,
      env: { ...base, LOG_LEVEL: 'silent', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (status) =>
      done({ status, report: JSON.parse(stdout.slice(0, stdout.lastIndexOf('}\n') + 1) || '{}'), stderr }),
    );
  });
}

function cli(
  args: string[],
  env: Record<string, string>,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn('node', [bin, ...args], {
      cwd: root,
      env: { ...process.env, LOG_LEVEL: 'silent', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (status) => done({ status, stdout, stderr }));
  });
}

const statusOf = (r: Report) => Object.fromEntries(r.checks.map((c) => [c.step, c.status]));

// Each case runs whole setups (PGlite initialisation, migrations, a control plane started and stopped).
describe.skipIf(!built)('scripts/setup-deployment-features.sh', { timeout: 400_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'rupaya-setup-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('on PGlite: passes every check', async () => {
    const dataDir = join(dir, 'data');
    const r = await setup({ RUPAYA_DATA_DIR: dataDir });
    expect(r.status, r.stderr).toBe(0);
    expect(r.report.ok).toBe(true);
    expect(statusOf(r.report)).toEqual({
      node: 'pass',
      'control plane': 'pass',
      redis: 'skip',
      database: 'pass',
      migrations: 'pass',
      seed: 'pass',
      'admin token': 'pass',
      health: 'pass',
      'flag read': 'pass',
    });
    expect(r.report.adminToken).toMatch(/^rpy_admin_/);
    expect(statSync(join(dataDir, 'admin-token')).mode & 0o777).toBe(0o600);
  });

  it('on Postgres: passes, shows a new admin token once, and is idempotent', async () => {
    const db = await createTestDatabase('postgres');
    try {
      const env = { DATABASE_URL: db.databaseUrl!, RUPAYA_DATA_DIR: join(dir, 'pg-data') };
      const first = await setup(env);
      expect(first.status, first.stderr).toBe(0);
      expect(first.report.checks.find((c) => c.step === 'database')).toMatchObject({ status: 'pass' });
      expect(first.report.adminToken).toMatch(/^rpy_admin_/);
      const second = await setup(env);
      expect(second.status, second.stderr).toBe(0);
      expect(second.report.adminToken).toBeUndefined(); // shown once
      expect(second.report.checks.find((c) => c.step === 'migrations')?.detail).toBe('up to date');
      const status = await cli(['migrate', '--status', '--json'], env);
      expect(status.status, status.stderr).toBe(0);
      const migrations = JSON.parse(status.stdout).migrations as { tag: string; applied: boolean }[];
      expect(migrations.length).toBeGreaterThan(0);
      expect(migrations.every((m) => m.applied)).toBe(true);
      const seeded = await cli(['seed', '--json'], env);
      expect(seeded.status, seeded.stderr).toBe(0);
      expect(JSON.parse(seeded.stdout).result.created).toEqual([]); // idempotent: everything exists
      expect(JSON.parse(seeded.stdout).file).toBe(join(root, 'config/feature-flags.json'));
      // `seed --file`: another flags file (YAML), with an environment that does not exist yet.
      const yamlFile = join(dir, 'more-flags.yaml');
      writeFileSync(
        yamlFile,
        [
          'version: 1',
          'environments: [staging, qa]',
          'flags:',
          '  - key: feature.seeded-from-yaml',
          '    type: boolean',
          '    rolloutPercentage: 10',
          '    environments:',
          '      qa: { rolloutPercentage: 100 }',
          '',
        ].join('\n'),
      );
      const custom = await cli(['seed', '--file', yamlFile, '--json'], env);
      expect(custom.status, custom.stderr).toBe(0);
      const customBody = JSON.parse(custom.stdout);
      expect(customBody.file).toBe(yamlFile);
      expect(customBody.result.created).toEqual([
        { environment: 'staging', key: 'feature.seeded-from-yaml' },
        { environment: 'qa', key: 'feature.seeded-from-yaml' },
      ]);
      // A bad file is a usage error (exit 2) naming the field, and writes nothing.
      const badFile = join(dir, 'bad-flags.json');
      writeFileSync(
        badFile,
        JSON.stringify({
          version: 1,
          environments: ['qa2'],
          flags: [{ key: 'feature.bad', type: 'boolean', rolloutPercentage: 150 }],
        }),
      );
      const bad = await cli(['seed', '--file', badFile], env);
      expect(bad.status).toBe(2);
      expect(bad.stderr).toContain('flags[0].rolloutPercentage (qa2)');
      const withToken = await setup({ ...env, ADMIN_API_TOKEN: `rpy_admin_${'setup'.repeat(6)}` });
      expect(withToken.report.checks.find((c) => c.step === 'admin token')?.detail).toBe(
        'ADMIN_API_TOKEN is set and accepted',
      );
    } finally {
      await db.drop();
    }
  });

  it('fails with exit code 1 and says why when the database cannot be used', async () => {
    const r = await setup({
      DATABASE_URL: 'postgres://postgres@127.0.0.1:1/nowhere',
      DB_CONNECT_TIMEOUT_MS: '1000',
    });
    expect(r.status).toBe(1);
    expect(r.report.ok).toBe(false);
    expect(r.report.checks.find((c) => c.step === 'database')).toMatchObject({ status: 'fail' });
    expect(r.stderr).toContain('SETUP_FAILED');
  });
});
