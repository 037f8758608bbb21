// The README's Quick start is the contract with a new user and with CI: one fenced block, exactly two
// commands (start, then test), and `.ci/run` runs the test command verbatim. `--yes` is part of both:
// npm may be configured with `yes=false` (this machine's ~/.npmrc is), and then a bare `npx pnpm@…`
// refuses to download pnpm instead of asking.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const ciRun = readFileSync(join(root, '.ci/run'), 'utf8');
const rootPackage = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  packageManager: string;
  scripts: Record<string, string>;
};

function quickStartCommands(): string[] {
  const section = readme.split(/^## /m).find((s) => s.startsWith('Quick start'));
  if (!section) throw new Error('README.md has no "## Quick start" section');
  const block = /```(?:bash|sh)?\n([\s\S]*?)```/.exec(section);
  if (!block?.[1]) throw new Error('the Quick start section has no fenced block');
  return block[1]
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0 && !l.startsWith('#'));
}

describe('README Quick start', () => {
  it('holds exactly two commands: install + start, install + test', () => {
    const commands = quickStartCommands();
    expect(commands).toHaveLength(2);
    expect(commands[0]).toMatch(/ start$/);
    expect(commands[1]).toMatch(/ test$/);
  });

  it('runs the pinned pnpm through npx with --yes', () => {
    const pinned = rootPackage.packageManager.replace(/\+.*$/, '');
    expect(pinned).toBe('pnpm@12.4.2');
    for (const command of quickStartCommands()) {
      for (const part of command.split('&&').map((p) => p.trim())) {
        expect(part.startsWith(`npx --yes ${pinned} `), part).toBe(true);
      }
    }
    expect(rootPackage.scripts.start).toBeTruthy();
    expect(rootPackage.scripts.test).toBeTruthy();
  });

  it('.ci/run runs the test command verbatim', () => {
    const testCommand = quickStartCommands()[1] as string;
    const lines = ciRun
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l.length > 0 && !l.startsWith('#'));
    expect(lines).toContain(testCommand);
    expect(lines.at(-1)).toBe(testCommand);
    expect(ciRun).toMatch(/^set -euo pipefail$/m);
  });
});
