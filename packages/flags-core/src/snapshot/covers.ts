/**
 * Does `have` already hold what `want` says? Objects compare as a subset (a field absent from `want` is
 * left as it is, also inside objects, so defaults the server fills in are no difference); arrays compare
 * element by element and must have the same length. Flags as code use it to diff a file against the
 * control plane: the CLI to show a plan, the control plane's import to decide what to write.
 */
export function covers(want: unknown, have: unknown): boolean {
  if (Array.isArray(want)) {
    return Array.isArray(have) && want.length === have.length && want.every((w, i) => covers(w, have[i]));
  }
  if (want !== null && typeof want === 'object') {
    if (have === null || typeof have !== 'object' || Array.isArray(have)) return false;
    return Object.entries(want).every(
      ([k, v]) => v === undefined || covers(v, (have as Record<string, unknown>)[k]),
    );
  }
  return want === have;
}
