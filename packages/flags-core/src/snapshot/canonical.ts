import type { Snapshot } from './types';

/**
 * JSON with object keys sorted (by UTF-16 code units, like Array.prototype.sort) and no whitespace.
 * Otherwise as JSON.stringify: `undefined` properties are left out, `undefined` in arrays and
 * non-finite numbers become null. Equal data gives byte-equal text, so it can be hashed.
 */
export function canonicalJson(value: unknown): string {
  return write(value) ?? 'null';
}

function write(value: unknown): string | undefined {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object': {
      const toJSON = (value as { toJSON?: unknown }).toJSON;
      if (typeof toJSON === 'function') return write((value as { toJSON(): unknown }).toJSON());
      if (Array.isArray(value)) return '[' + value.map((v) => write(v) ?? 'null').join(',') + ']';
      const obj = value as Record<string, unknown>;
      const parts: string[] = [];
      for (const key of Object.keys(obj).sort()) {
        const v = write(obj[key]);
        if (v !== undefined) parts.push(JSON.stringify(key) + ':' + v);
      }
      return '{' + parts.join(',') + '}';
    }
    default:
      return undefined; // undefined, functions, symbols: left out like JSON.stringify
  }
}

/**
 * The text a snapshot's checksum is computed over:
 * `canonicalJson({ schemaVersion, environment, revision, flags })`.
 * The checksum is `'sha256:' + hex(sha256(utf8(checksumPayload(snapshot))))`.
 */
export function checksumPayload(
  snapshot: Pick<Snapshot, 'schemaVersion' | 'environment' | 'revision' | 'flags'>,
): string {
  return canonicalJson({
    schemaVersion: snapshot.schemaVersion,
    environment: snapshot.environment,
    revision: snapshot.revision,
    flags: snapshot.flags,
  });
}
