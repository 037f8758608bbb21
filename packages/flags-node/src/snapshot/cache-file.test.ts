import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type CacheFileContent,
  CacheFileWriter,
  keyFingerprint,
  readCacheFile,
  readCacheFileSync,
  writeCacheFile,
} from './cache-file';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'rupaya-cache-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const content = (revision: number, key = 'sdk-key'): CacheFileContent => ({
  format: 'rupaya-flags-cache',
  version: 1,
  keyFingerprint: keyFingerprint(key),
  savedAt: new Date(0).toISOString(),
  snapshot: {
    schemaVersion: 1,
    environment: 'prod',
    revision,
    checksum: 'sha256:00',
    generatedAt: new Date(0).toISOString(),
    // A large body makes a torn write observable if the write were not atomic.
    flags: Array.from({ length: 400 }, (_, i) => ({
      key: `flag-${i}`,
      type: 'boolean',
      enabled: i % 2 === 0,
    })),
  },
});

describe('cache file', () => {
  it('round-trips and is bound to the SDK key', async () => {
    const file = join(dir, 'flags.json');
    await writeCacheFile(file, content(3));
    const ok = await readCacheFile(file, keyFingerprint('sdk-key'));
    expect(ok.ok && ok.content.snapshot.revision).toBe(3);
    const other = readCacheFileSync(file, keyFingerprint('another-key'));
    expect(other).toMatchObject({ ok: false, missing: false });
    expect(readCacheFileSync(join(dir, 'nope.json'), 'x')).toMatchObject({ ok: false, missing: true });
  });

  it('reports a corrupt file instead of throwing', () => {
    const file = join(dir, 'flags.json');
    writeFileSync(file, '{"format":"rupaya-flags-cache","version":1,"snap');
    const r = readCacheFileSync(file, keyFingerprint('sdk-key'));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message).toMatch(/not JSON/);
  });

  it('never exposes a half-written file to a concurrent reader and leaves no temp files', async () => {
    const file = join(dir, 'flags.json');
    await writeCacheFile(file, content(1));
    let reads = 0;
    let stop = false;
    const reader = (async () => {
      while (!stop) {
        const text = readFileSync(file, 'utf8');
        const parsed = JSON.parse(text) as CacheFileContent; // throws on a torn file
        expect(parsed.snapshot.flags).toHaveLength(400);
        reads++;
        await new Promise((r) => setImmediate(r));
      }
    })();
    for (let rev = 2; rev <= 40; rev++) await writeCacheFile(file, content(rev));
    stop = true;
    await reader;
    expect(reads).toBeGreaterThan(0);
    expect(JSON.parse(readFileSync(file, 'utf8')).snapshot.revision).toBe(40);
    expect(readdirSync(dir)).toEqual(['flags.json']);
  });

  it('writer coalesces bursts and ends with the newest content', async () => {
    const file = join(dir, 'flags.json');
    const errors: Error[] = [];
    const writer = new CacheFileWriter(file, (e) => errors.push(e));
    for (let rev = 1; rev <= 20; rev++) void writer.write(content(rev));
    await writer.flush();
    expect(errors).toEqual([]);
    expect(JSON.parse(readFileSync(file, 'utf8')).snapshot.revision).toBe(20);
  });

  it('creates a missing directory (mode 0700) and writes the file there', async () => {
    const errors: Error[] = [];
    const file = join(dir, 'missing-dir', 'nested', 'flags.json');
    const writer = new CacheFileWriter(file, (e) => errors.push(e));
    await writer.write(content(1));
    expect(errors).toEqual([]);
    expect(JSON.parse(readFileSync(file, 'utf8')).snapshot.revision).toBe(1);
    expect(statSync(join(dir, 'missing-dir')).mode & 0o777).toBe(0o700);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('reports a write failure through the callback', async () => {
    const errors: Error[] = [];
    // A path below a regular file: no directory can be made there.
    const blocker = join(dir, 'a-file');
    writeFileSync(blocker, 'x');
    const writer = new CacheFileWriter(join(blocker, 'flags.json'), (e) => errors.push(e));
    await writer.write(content(1));
    expect(errors).toHaveLength(1);
    expect(errors[0]?.message).toMatch(/ENOTDIR|EEXIST/);
  });
});
