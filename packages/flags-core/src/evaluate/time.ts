// Instants for the `before` / `after` operators and for snapshot timestamps.

// A date (UTC midnight) or a date-time with an explicit zone: local-time strings would make
// evaluation depend on the machine's time zone.
const ISO_8601 = /^\d{4}-\d{2}-\d{2}(?:[Tt]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:[Zz]|[+-]\d{2}:\d{2}))?$/;

/** Milliseconds since the epoch of an ISO-8601 date or date-time string; NaN when it is not one. */
export function parseIsoInstant(input: string): number {
  if (!ISO_8601.test(input)) return Number.NaN;
  return Date.parse(input);
}

/**
 * Instant of a context attribute: an ISO-8601 string, epoch milliseconds, or a Date.
 * NaN for anything else, which makes the clause false.
 */
export function instantOf(value: unknown): number {
  if (typeof value === 'number') return Number.isFinite(value) ? value : Number.NaN;
  if (typeof value === 'string') return parseIsoInstant(value);
  if (value instanceof Date) return value.getTime();
  return Number.NaN;
}
