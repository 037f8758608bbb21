// The ETag of a snapshot revision, shared by the control plane (which serves it) and the SDKs (which
// send back the one of the snapshot they hold, also one loaded from a cache file):
// `"<revision>-<first 16 hex of the checksum>"`.

/** `"<revision>-<first 16 hex of checksum>"`; `checksum` as in a snapshot (`sha256:<hex>`). */
export function snapshotEtag(revision: number, checksum: string): string {
  const hex = checksum.startsWith('sha256:') ? checksum.slice(7) : checksum;
  return `"${revision}-${hex.slice(0, 16)}"`;
}

/**
 * The revision named by a snapshot ETag in an If-None-Match header (also weak, and the first of a
 * list), or -1 when the header names none.
 */
export function revisionOfEtag(header: string): number {
  const m = /^\s*(?:W\/)?"(\d{1,15})-/.exec(header);
  return m ? Number(m[1]) : -1;
}
