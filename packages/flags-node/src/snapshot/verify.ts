import { createHash } from 'node:crypto';
import { checksumPayload, parseSnapshot, type Snapshot } from '@rupaya/flags-core';

export type RejectReason =
  | 'MALFORMED_JSON'
  | 'INVALID_SNAPSHOT'
  | 'BAD_CHECKSUM'
  | 'WRONG_ENVIRONMENT'
  | 'NOT_NEWER';

export type Verdict =
  | { ok: true; snapshot: Snapshot }
  | { ok: false; reason: RejectReason; message: string; revision?: number };

/** `sha256:<hex>` of core's checksum payload: what the control plane puts in `snapshot.checksum`. */
export function snapshotChecksum(snapshot: Snapshot): string {
  return 'sha256:' + createHash('sha256').update(checksumPayload(snapshot)).digest('hex');
}

export interface HeldSnapshot {
  /** Environment the client is bound to (from options or the first accepted snapshot). */
  environment?: string;
  /** Revision of the snapshot in use. */
  revision?: number;
}

/**
 * Decides whether a candidate snapshot may replace the one held. Order matters for the log line a
 * user reads: a snapshot that does not parse says so before anything about its revision.
 */
export function verifySnapshot(input: string | unknown, held: HeldSnapshot): Verdict {
  let json: unknown = input;
  if (typeof input === 'string') {
    try {
      json = JSON.parse(input);
    } catch (err) {
      return {
        ok: false,
        reason: 'MALFORMED_JSON',
        message: `snapshot is not JSON: ${(err as Error).message}`,
      };
    }
  }
  const parsed = parseSnapshot(json);
  if (!parsed.ok) {
    const first = parsed.errors
      .slice(0, 3)
      .map((e) => `${e.path}: ${e.message}`)
      .join('; ');
    return { ok: false, reason: 'INVALID_SNAPSHOT', message: `snapshot failed validation (${first})` };
  }
  const snapshot = parsed.snapshot;
  const expected = snapshotChecksum(snapshot);
  if (snapshot.checksum !== expected) {
    return {
      ok: false,
      reason: 'BAD_CHECKSUM',
      message: `snapshot revision ${snapshot.revision} has checksum ${snapshot.checksum}, computed ${expected}`,
      revision: snapshot.revision,
    };
  }
  if (held.environment !== undefined && snapshot.environment !== held.environment) {
    return {
      ok: false,
      reason: 'WRONG_ENVIRONMENT',
      message: `snapshot is for environment "${snapshot.environment}", this client serves "${held.environment}"`,
      revision: snapshot.revision,
    };
  }
  if (held.revision !== undefined && snapshot.revision <= held.revision) {
    return {
      ok: false,
      reason: 'NOT_NEWER',
      message: `snapshot revision ${snapshot.revision} is not newer than the held revision ${held.revision}`,
      revision: snapshot.revision,
    };
  }
  return { ok: true, snapshot };
}
