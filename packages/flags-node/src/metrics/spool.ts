// The metrics spool: batches a closing client could not deliver (control plane unreachable) are kept in
// a file and sent by the next client started with the same file and SDK key. Batch keys are kept, so a
// batch that did arrive after all is counted once by the control plane.
import { readFileSync, unlinkSync } from 'node:fs';
import { writeJsonFileAtomic } from '../snapshot/cache-file';
import type { Batch } from './outbox';

export interface SpoolContent {
  format: 'rupaya-flags-metrics-spool';
  version: 1;
  keyFingerprint: string;
  savedAt: string;
  batches: Batch[];
}

const PATHS: Record<Batch['kind'], Batch['path']> = {
  metrics: '/api/sdk/v1/metrics',
  exposures: '/api/sdk/v1/exposures',
  events: '/api/sdk/v1/events',
};

function isBatch(value: unknown): value is Batch {
  if (value === null || typeof value !== 'object') return false;
  const b = value as Partial<Batch>;
  return (
    typeof b.kind === 'string' &&
    b.kind in PATHS &&
    b.path === PATHS[b.kind] &&
    typeof b.body === 'object' &&
    b.body !== null &&
    typeof (b.body as { batchKey?: unknown }).batchKey === 'string'
  );
}

export type SpoolReadResult =
  | { ok: true; batches: Batch[] }
  | { ok: false; missing: boolean; message: string };

/**
 * Takes the spool: reads it and removes the file (its batches now live in this client's outbox; if they
 * cannot be sent either, `close` writes them back). Synchronous: called from the client's constructor.
 */
export function takeSpoolSync(path: string, fingerprint: string): SpoolReadResult {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    return { ok: false, missing, message: `cannot read metrics spool: ${(err as Error).message}` };
  }
  let content: Partial<SpoolContent> | null;
  try {
    content = JSON.parse(text) as Partial<SpoolContent> | null;
  } catch (err) {
    return { ok: false, missing: false, message: `metrics spool is not JSON: ${(err as Error).message}` };
  }
  if (
    content?.format !== 'rupaya-flags-metrics-spool' ||
    content.version !== 1 ||
    !Array.isArray(content.batches)
  ) {
    return { ok: false, missing: false, message: 'metrics spool has an unknown format' };
  }
  if (content.keyFingerprint !== fingerprint) {
    return {
      ok: false,
      missing: false,
      message: 'metrics spool was written for another SDK key; left as it is',
    };
  }
  const batches = content.batches.filter(isBatch);
  try {
    unlinkSync(path);
  } catch (err) {
    return { ok: false, missing: false, message: `cannot remove metrics spool: ${(err as Error).message}` };
  }
  return { ok: true, batches };
}

export async function writeSpool(path: string, fingerprint: string, batches: Batch[]): Promise<void> {
  const content: SpoolContent = {
    format: 'rupaya-flags-metrics-spool',
    version: 1,
    keyFingerprint: fingerprint,
    savedAt: new Date().toISOString(),
    batches,
  };
  await writeJsonFileAtomic(path, content);
}
