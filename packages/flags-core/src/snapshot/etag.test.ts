import { describe, expect, it } from 'vitest';
import { revisionOfEtag, snapshotEtag } from './etag';

describe('snapshot ETag', () => {
  it('is the revision and the first 16 hex of the checksum, and gives the revision back', () => {
    const checksum = `sha256:${'0123456789abcdef'.repeat(4)}`;
    const etag = snapshotEtag(42, checksum);
    expect(etag).toBe('"42-0123456789abcdef"');
    expect(snapshotEtag(42, checksum.slice(7))).toBe(etag);
    expect(revisionOfEtag(etag)).toBe(42);
    expect(revisionOfEtag(`W/${etag}`)).toBe(42);
    expect(revisionOfEtag(` ${etag}, "7-0000000000000000"`)).toBe(42);
  });

  it('names no revision for anything else', () => {
    for (const header of ['*', '"proxy-17"', '"x-1"', '42-0123', `"${'9'.repeat(16)}-00"`, '']) {
      expect(revisionOfEtag(header)).toBe(-1);
    }
  });
});
