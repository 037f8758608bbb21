// Human output (tables, key/value lists) and machine output (--json), plus a progress indicator on stderr.

export interface Writer {
  write(chunk: string): unknown;
  isTTY?: boolean;
}

export interface Io {
  stdout: Writer;
  stderr: Writer;
  env: Record<string, string | undefined>;
  cwd: string;
}

type Scalar = string | number | boolean | null | undefined;

function cell(value: unknown): string {
  if (value === null || value === undefined) return '-';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** A plain-text table with a header row; columns padded to their widest cell. */
export function renderTable(rows: Record<string, unknown>[], columns?: string[]): string {
  const cols = columns ?? [...new Set(rows.flatMap((r) => Object.keys(r)))];
  if (rows.length === 0) return '(none)\n';
  const cells = rows.map((r) => cols.map((c) => cell(r[c])));
  const widths = cols.map((c, i) => Math.max(c.length, ...cells.map((row) => (row[i] ?? '').length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => (i === values.length - 1 ? v : v.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(cols.map((c) => c.toUpperCase())), ...cells.map(line)].join('\n') + '\n';
}

/** Flattens nested objects to dotted keys; arrays of scalars are joined, arrays of objects kept as JSON. */
export function flatten(
  value: unknown,
  prefix = '',
  out: Record<string, Scalar> = {},
): Record<string, Scalar> {
  if (value === null || typeof value !== 'object') {
    out[prefix || 'value'] = value as Scalar;
    return out;
  }
  if (Array.isArray(value)) {
    out[prefix || 'value'] = value.every((v) => v === null || typeof v !== 'object')
      ? value.join(', ')
      : JSON.stringify(value);
    return out;
  }
  for (const [k, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  return out;
}

/** `key  value` lines of a (flattened) object. */
export function renderKeyValues(value: unknown): string {
  const flat = flatten(value);
  const keys = Object.keys(flat);
  const width = Math.max(0, ...keys.map((k) => k.length));
  return keys.map((k) => `${k.padEnd(width)}  ${cell(flat[k])}`).join('\n') + '\n';
}

/**
 * Best-effort rendering of an API answer for people: arrays of objects become tables, objects become
 * key/value lists, and an object's array-of-object members get a table each.
 */
export function renderAny(value: unknown): string {
  if (Array.isArray(value)) {
    if (value.every((v) => v !== null && typeof v === 'object' && !Array.isArray(v))) {
      return renderTable(value.map((v) => flatten(v)));
    }
    return value.map(cell).join('\n') + '\n';
  }
  if (value === null || typeof value !== 'object') return cell(value) + '\n';
  const scalars: Record<string, unknown> = {};
  const sections: string[] = [];
  for (const [k, v] of Object.entries(value)) {
    if (Array.isArray(v) && v.length > 0 && v.every((x) => x !== null && typeof x === 'object')) {
      sections.push(`\n${k}:\n${renderTable(v.map((x) => flatten(x)))}`);
    } else {
      scalars[k] = v;
    }
  }
  const head = Object.keys(scalars).length > 0 ? renderKeyValues(scalars) : '';
  return head + sections.join('');
}

export function printJson(io: Io, value: unknown): void {
  io.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

const FRAMES = ['|', '/', '-', '\\'];

/**
 * A progress indicator on stderr: a spinner on a terminal, one line per step otherwise; silent with --json.
 * Returns `done(message)` that stops it.
 */
export function progress(io: Io, label: string, json: boolean): (final?: string) => void {
  if (json) return () => {};
  if (!io.stderr.isTTY) {
    io.stderr.write(`${label}...\n`);
    return (final) => {
      if (final) io.stderr.write(`${final}\n`);
    };
  }
  let i = 0;
  const draw = () => io.stderr.write(`\r${FRAMES[i++ % FRAMES.length]} ${label}`);
  draw();
  const timer = setInterval(draw, 100);
  timer.unref?.();
  return (final) => {
    clearInterval(timer);
    io.stderr.write(`\r\x1b[2K${final ?? ''}${final ? '\n' : ''}`);
  };
}
