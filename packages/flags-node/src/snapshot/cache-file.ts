import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Snapshot } from '@rupaya/flags-core';

/**
 * On-disk form of the last good snapshot. The snapshot keeps its own `checksum` (verified again on
 * load), and `keyFingerprint` ties the file to the SDK key that fetched it, so a service moved to
 * another environment's key never starts from the old environment's flags.
 */
export interface CacheFileContent {
  format: 'rupaya-flags-cache';
  version: 1;
  keyFingerprint: string;
  savedAt: string;
  snapshot: Snapshot;
}

export function keyFingerprint(sdkKey: string): string {
  return 'sha256:' + createHash('sha256').update(sdkKey).digest('hex').slice(0, 16);
}

export type CacheReadResult =
  | { ok: true; content: CacheFileContent }
  | { ok: false; missing: boolean; message: string };

function decode(text: string, fingerprint: string): CacheReadResult {
  let content: unknown;
  try {
    content = JSON.parse(text);
  } catch (err) {
    return { ok: false, missing: false, message: `cache file is not JSON: ${(err as Error).message}` };
  }
  const c = content as Partial<CacheFileContent> | null;
  if (c?.format !== 'rupaya-flags-cache' || c.version !== 1 || typeof c.snapshot !== 'object') {
    return { ok: false, missing: false, message: 'cache file has an unknown format' };
  }
  if (c.keyFingerprint !== fingerprint) {
    return { ok: false, missing: false, message: 'cache file was written for another SDK key' };
  }
  return { ok: true, content: c as CacheFileContent };
}

/** Synchronous on purpose: the client loads its cache in the constructor, so values exist at once. */
export function readCacheFileSync(path: string, fingerprint: string): CacheReadResult {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    return { ok: false, missing, message: `cannot read cache file: ${(err as Error).message}` };
  }
  return decode(text, fingerprint);
}

export async function readCacheFile(path: string, fingerprint: string): Promise<CacheReadResult> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    return { ok: false, missing, message: `cannot read cache file: ${(err as Error).message}` };
  }
  return decode(text, fingerprint);
}

/**
 * Writes to a temporary file in the same directory, fsyncs it, then renames it over the target:
 * rename within a directory is atomic on POSIX, so a reader (or a crash) sees the old file or the
 * new one, never half of one.
 */
export async function writeCacheFile(path: string, content: CacheFileContent): Promise<void> {
  await writeJsonFileAtomic(path, content);
}

/**
 * `JSON.stringify(value)` to `path` atomically (temporary file, fsync, rename), mode 0600. A missing
 * directory is created (mode 0700), as a cache or spool path in a fresh container's volume often is.
 */
export async function writeJsonFileAtomic(path: string, value: unknown): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(tmp, 'w', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    handle = await open(tmp, 'w', 0o600);
  }
  try {
    await handle.writeFile(JSON.stringify(value));
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
}

/** Serialises writes and coalesces bursts: only the newest pending content is written. */
export class CacheFileWriter {
  private pending: CacheFileContent | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly path: string,
    private readonly onError: (err: Error) => void,
  ) {}

  write(content: CacheFileContent): Promise<void> {
    this.pending = content;
    if (!this.running) this.running = this.drain();
    return this.running;
  }

  /** Resolves when everything requested so far is on disk. */
  async flush(): Promise<void> {
    while (this.running) await this.running;
  }

  private async drain(): Promise<void> {
    try {
      while (this.pending) {
        const content = this.pending;
        this.pending = undefined;
        try {
          await writeCacheFile(this.path, content);
        } catch (err) {
          this.onError(err as Error);
        }
      }
    } finally {
      this.running = undefined;
    }
  }
}
