// PGlite is single-process: a second process opening a data folder that a running control plane
// holds must be refused with a clear error (not corrupt it), and a lock left by a process that died
// must not lock the folder forever. Real processes: the holder is a child process of the built package.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { DataDirInUseError, openDatabase, PGLITE_LOCK_FILE } from '../src/index';

const dist = resolve(import.meta.dirname, '../dist/index.js');
const built = existsSync(dist);
if (!built)
  console.warn(`${dist} is missing: run \`npx --yes pnpm@12.4.2 build\`; the PGlite lock test is skipped`);

function holdFolder(dataDir: string): Promise<ChildProcess> {
  const code = `const { openDatabase } = await import(${JSON.stringify(pathToFileURL(dist).href)});
    await openDatabase({ dataDir: ${JSON.stringify(dataDir)} });
    console.log('open');
    setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((done, fail) => {
    child.stdout!.once('data', () => done(child));
    child.once('exit', (c) => fail(new Error(`holder exited (${c})`)));
  });
}

describe.skipIf(!built)('PGlite data folder lock', { timeout: 120_000 }, () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'rupaya-lock-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('refuses a folder another live process holds, and takes over the lock of a dead one', async () => {
    const holder = await holdFolder(dataDir);
    expect(readFileSync(join(dataDir, PGLITE_LOCK_FILE), 'utf8')).toBe(String(holder.pid));
    let caught: unknown;
    try {
      await openDatabase({ dataDir });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(DataDirInUseError);
    expect((caught as Error).message).toContain(`in use by process ${holder.pid}`);

    holder.kill('SIGKILL'); // no chance to remove its lock file
    await new Promise((r) => holder.once('exit', r));
    expect(existsSync(join(dataDir, PGLITE_LOCK_FILE))).toBe(true);
    const db = await openDatabase({ dataDir });
    try {
      expect(readFileSync(join(dataDir, PGLITE_LOCK_FILE), 'utf8')).toBe(String(process.pid));
      await db.ping();
    } finally {
      await db.close();
    }
    expect(existsSync(join(dataDir, PGLITE_LOCK_FILE))).toBe(false);
  });
});
