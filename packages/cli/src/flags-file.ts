// Flags as code: one JSON or YAML file holding flag definitions and per-environment values. It is the format of
// `rupaya flags export|import` and of the default flags file `config/feature-flags.json` that `seed` reads.
//
//   { version: 1, environments: [dev, staging, prod],
//     flags: [ { key, type, ...Flag fields..., environments: { <env>: { ...Flag fields for that env } } } ] }
//
// The flag of environment E is the base (without `environments`) overlaid with `environments[E]`.
import type { Flag } from '@rupaya/flags-core';
import * as core from '@rupaya/flags-core';
import YAML from 'yaml';

export const FLAGS_FILE_VERSION = 1;

/** Fields of core's Flag that a flags file may carry (the admin API's names; `version` is the server's). */
export const FLAG_FIELDS = core.FLAG_FIELD_NAMES.filter((f) => f !== 'version');

/** Run-time state the scheduler owns: written when a flag is created, never overwritten by an import. */
export const RUNTIME_FIELDS = new Set<string>(['canary']);

export type FlagFields = Partial<Flag> & { key: string };

export interface FlagsFileEntry extends FlagFields {
  environments?: Record<string, Partial<Flag>>;
}

export interface FlagsFile {
  version: number;
  environments: string[];
  flags: FlagsFileEntry[];
}

export interface FileProblem {
  path: string;
  message: string;
}

export function isYamlPath(path: string): boolean {
  return /\.ya?ml$/i.test(path);
}

export function serializeFlagsFile(file: FlagsFile, path: string): string {
  return isYamlPath(path) ? YAML.stringify(file, { lineWidth: 0 }) : JSON.stringify(file, null, 2) + '\n';
}

function pick(flag: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of FLAG_FIELDS) if (flag[f] !== undefined) out[f] = flag[f];
  return out;
}

/** Parses and checks a flags file's text; YAML when the path ends in .yaml/.yml, JSON otherwise. */
export function parseFlagsFile(
  text: string,
  path: string,
): { ok: true; file: FlagsFile } | { ok: false; problems: FileProblem[] } {
  let doc: unknown;
  try {
    doc = isYamlPath(path) ? YAML.parse(text) : JSON.parse(text);
  } catch (err) {
    return {
      ok: false,
      problems: [
        { path: '', message: `not valid ${isYamlPath(path) ? 'YAML' : 'JSON'}: ${(err as Error).message}` },
      ],
    };
  }
  const problems: FileProblem[] = [];
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    return {
      ok: false,
      problems: [{ path: '', message: 'must be an object with `version`, `environments` and `flags`' }],
    };
  }
  const d = doc as Record<string, unknown>;
  if (d.version !== FLAGS_FILE_VERSION)
    problems.push({ path: 'version', message: `must be ${FLAGS_FILE_VERSION}` });
  const environments = d.environments;
  if (
    !Array.isArray(environments) ||
    environments.length === 0 ||
    !environments.every((e) => typeof e === 'string' && e.length > 0)
  ) {
    problems.push({ path: 'environments', message: 'must be a non-empty list of environment names' });
  }
  if (!Array.isArray(d.flags)) {
    problems.push({ path: 'flags', message: 'must be a list of flags' });
    return { ok: false, problems };
  }
  const seen = new Set<string>();
  const envNames = new Set(Array.isArray(environments) ? (environments as string[]) : []);
  d.flags.forEach((raw, i) => {
    const at = `flags[${i}]`;
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      problems.push({ path: at, message: 'must be an object' });
      return;
    }
    const entry = raw as Record<string, unknown>;
    if (typeof entry.key !== 'string' || entry.key.length === 0) {
      problems.push({ path: `${at}.key`, message: 'must be a non-empty string' });
      return;
    }
    if (seen.has(entry.key)) problems.push({ path: `${at}.key`, message: `duplicate key ${entry.key}` });
    seen.add(entry.key);
    const known = new Set<string>([...FLAG_FIELDS, 'environments']);
    for (const k of Object.keys(entry)) {
      if (!known.has(k)) problems.push({ path: `${at}.${k}`, message: 'unknown field' });
    }
    const envs = entry.environments;
    if (envs !== undefined) {
      if (envs === null || typeof envs !== 'object' || Array.isArray(envs)) {
        problems.push({ path: `${at}.environments`, message: 'must be an object keyed by environment' });
      } else {
        for (const [env, value] of Object.entries(envs)) {
          if (!envNames.has(env))
            problems.push({
              path: `${at}.environments.${env}`,
              message: 'environment not listed in `environments`',
            });
          if (value === null || typeof value !== 'object' || Array.isArray(value)) {
            problems.push({ path: `${at}.environments.${env}`, message: 'must be an object of flag fields' });
            continue;
          }
          for (const k of Object.keys(value)) {
            if (!(FLAG_FIELDS as readonly string[]).includes(k) || k === 'key') {
              problems.push({ path: `${at}.environments.${env}.${k}`, message: 'unknown field' });
            }
          }
        }
      }
    }
  });
  if (problems.length > 0) return { ok: false, problems };
  const file = doc as FlagsFile;
  // Every resolved flag must pass core's validation (the same the control plane applies).
  for (const env of file.environments) {
    resolveEnvironment(file, env).forEach((flag, i) => {
      for (const p of validateWithCore(flag)) {
        problems.push({ path: `flags[${i}]${p.path ? `.${p.path}` : ''} (${env})`, message: p.message });
      }
    });
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, file };
}

type Validate = (
  json: unknown,
  path?: string,
) => { ok: boolean; errors?: { path: string; message: string }[] };

function validateWithCore(flag: FlagFields): FileProblem[] {
  const validateFlag = (core as unknown as { validateFlag?: Validate }).validateFlag;
  if (typeof validateFlag !== 'function') return [];
  const result = validateFlag({ enabled: true, ...flag }, '');
  if (result.ok) return [];
  return (result.errors ?? []).map((e) => ({ path: e.path.replace(/^\./, ''), message: e.message }));
}

/** The flags of one environment, in file order. */
export function resolveEnvironment(file: FlagsFile, environment: string): FlagFields[] {
  return file.flags.map((entry) => {
    const { environments, ...base } = entry;
    return { ...base, ...(environments?.[environment] ?? {}) } as FlagFields;
  });
}

function stable(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stable).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.keys(value)
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stable((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

export function sameValue(a: unknown, b: unknown): boolean {
  return stable(a) === stable(b);
}

/** The subset comparison of flags as code (core's, shared with the control plane's import). */
export const covers = core.covers;

/** Fields the server fills in by default; dropped from exports when they equal the default. */
function isDefault(flag: Record<string, unknown>, field: string): boolean {
  const v = flag[field];
  if (field === 'salt') return v === flag.key;
  if (field === 'bucketBy') return v === 'userId';
  if (flag.type === 'boolean') {
    if (field === 'variants') {
      return sameValue(v, [
        { key: 'on', value: true },
        { key: 'off', value: false },
      ]);
    }
    if (field === 'defaultVariant') return v === 'on';
    if (field === 'offVariant') return v === 'off';
  }
  return false;
}

/** Builds a flags file from each environment's flags as the admin API returns them. */
export function buildFlagsFile(byEnvironment: Record<string, Record<string, unknown>[]>): FlagsFile {
  const environments = Object.keys(byEnvironment);
  const keys: string[] = [];
  const cleaned: Record<string, Map<string, Record<string, unknown>>> = {};
  for (const env of environments) {
    cleaned[env] = new Map();
    for (const raw of byEnvironment[env] ?? []) {
      const flag = pick(raw);
      for (const f of Object.keys(flag)) if (isDefault(flag, f)) delete flag[f];
      const key = String(flag.key);
      if (!keys.includes(key)) keys.push(key);
      cleaned[env]!.set(key, flag);
    }
  }
  keys.sort();
  const flags: FlagsFileEntry[] = keys.map((key) => {
    const present = environments.filter((env) => cleaned[env]!.has(key));
    const versions = present.map((env) => cleaned[env]!.get(key)!);
    const fields = [...new Set(versions.flatMap((v) => Object.keys(v)))];
    const base: Record<string, unknown> = { key };
    const overrides: Record<string, Record<string, unknown>> = {};
    for (const field of fields) {
      if (field === 'key') continue;
      const values = versions.map((v) => v[field]);
      if (values.every((v) => v !== undefined && sameValue(v, values[0]))) {
        base[field] = values[0];
      } else {
        present.forEach((env, i) => {
          if (values[i] !== undefined) (overrides[env] ??= {})[field] = values[i];
        });
      }
    }
    const entry = base as unknown as FlagsFileEntry;
    if (Object.keys(overrides).length > 0) entry.environments = overrides as Record<string, Partial<Flag>>;
    return entry;
  });
  return { version: FLAGS_FILE_VERSION, environments, flags };
}

export interface FieldChange {
  field: string;
  from: unknown;
  to: unknown;
}

export interface FlagChange {
  environment: string;
  key: string;
  action: 'create' | 'update' | 'unchanged';
  changes: FieldChange[];
}

/**
 * What applying `desired` to `current` would change in one environment. A field absent from the file is left
 * as it is (partial update semantics); run-time state (`canary`) is only written on create. Flags on the
 * server that the file does not mention are left alone.
 */
export function diffEnvironment(
  environment: string,
  desired: FlagFields[],
  current: Record<string, unknown>[],
): FlagChange[] {
  const byKey = new Map(current.map((f) => [String(f.key), f]));
  return desired.map((want) => {
    const have = byKey.get(want.key);
    if (!have) {
      const changes = Object.entries(want)
        .filter(([k]) => k !== 'key')
        .map(([field, to]) => ({ field, from: undefined, to }));
      return { environment, key: want.key, action: 'create', changes };
    }
    const changes: FieldChange[] = [];
    for (const [field, to] of Object.entries(want)) {
      if (field === 'key' || RUNTIME_FIELDS.has(field) || to === undefined) continue;
      if (!covers(to, have[field])) changes.push({ field, from: have[field], to });
    }
    return { environment, key: want.key, action: changes.length > 0 ? 'update' : 'unchanged', changes };
  });
}

function short(value: unknown): string {
  if (value === undefined) return '(unset)';
  const s = JSON.stringify(value);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** A diff for people: `+` create, `~` update with each field's old → new value. */
export function renderDiff(changes: FlagChange[]): string {
  const lines: string[] = [];
  for (const c of changes) {
    if (c.action === 'unchanged') continue;
    if (c.action === 'create') {
      lines.push(`+ [${c.environment}] ${c.key} (new)`);
    } else {
      lines.push(`~ [${c.environment}] ${c.key}`);
      for (const f of c.changes) lines.push(`    ${f.field}: ${short(f.from)} -> ${short(f.to)}`);
    }
  }
  const created = changes.filter((c) => c.action === 'create').length;
  const updated = changes.filter((c) => c.action === 'update').length;
  const unchanged = changes.filter((c) => c.action === 'unchanged').length;
  lines.push(`${created} to create, ${updated} to update, ${unchanged} unchanged`);
  return lines.join('\n') + '\n';
}
