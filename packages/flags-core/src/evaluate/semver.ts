// Semantic Versioning 2.0.0 precedence (semver.org §11): major.minor.patch numerically, a version with
// a pre-release is lower than the same version without, pre-release identifiers compare numerically
// when numeric, else in ASCII order, numeric < alphanumeric. Build metadata is ignored.
// A leading `v` is accepted (`v1.2.3`).

export interface Semver {
  major: number;
  minor: number;
  patch: number;
  /** Pre-release identifiers; numbers for numeric identifiers. Empty for a release. */
  pre: (string | number)[];
}

const SEMVER =
  /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*)?$/;

/** Parses a semantic version; null when `input` is not one. */
export function parseSemver(input: string): Semver | null {
  const m = SEMVER.exec(input);
  if (m === null) return null;
  const major = Number(m[1]);
  const minor = Number(m[2]);
  const patch = Number(m[3]);
  if (!Number.isSafeInteger(major) || !Number.isSafeInteger(minor) || !Number.isSafeInteger(patch))
    return null;
  const pre = m[4] === undefined ? [] : m[4].split('.').map((id) => (/^\d+$/.test(id) ? Number(id) : id));
  return { major, minor, patch, pre };
}

/** Precedence of two versions: negative, 0 or positive. */
export function compareSemver(a: Semver, b: Semver): number {
  if (a.major !== b.major) return a.major < b.major ? -1 : 1;
  if (a.minor !== b.minor) return a.minor < b.minor ? -1 : 1;
  if (a.patch !== b.patch) return a.patch < b.patch ? -1 : 1;
  const pa = a.pre;
  const pb = b.pre;
  if (pa.length === 0) return pb.length === 0 ? 0 : 1;
  if (pb.length === 0) return -1;
  const n = Math.min(pa.length, pb.length);
  for (let i = 0; i < n; i++) {
    const x = pa[i]!;
    const y = pb[i]!;
    if (x === y) continue;
    const xn = typeof x === 'number';
    const yn = typeof y === 'number';
    if (xn && yn) return x < y ? -1 : 1;
    if (xn) return -1;
    if (yn) return 1;
    return x < y ? -1 : 1;
  }
  return pa.length === pb.length ? 0 : pa.length < pb.length ? -1 : 1;
}
