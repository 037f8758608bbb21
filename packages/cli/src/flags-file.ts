// Flags as code: one JSON or YAML file holding flag definitions and per-environment values. It is the format of
// `rupaya flags export|import` and of the default flags file `config/feature-flags.json` that `seed` reads.
//
//   { version: 1, environments: [dev, staging, prod],
//     flags: [ { key, type, ...Flag fields..., environments: { <env>: { ...Flag fields for that env } } } ] }
//
// The flag of environment E is the base (without `environments`) overlaid with `environments[E]`.
import * as core from '@rupaya/flags-core';
import type { Flag, FlagFields, FlagsFile, FlagsFileEntry, FlagsFileProblem } from '@rupaya/flags-core';
import YAML from 'yaml';

export type { FlagFields, FlagsFile, FlagsFileEntry } from '@rupaya/flags-core';
export const FLAGS_FILE_VERSION = core.FLAGS_FILE_VERSION;

/** Fields of core's Flag that a flags file may carry (the admin API's names; `version` is the server's). */
export const FLAG_FIELDS = core.FLAGS_FILE_FIELDS;

/** Run-time state the scheduler owns: written when a flag is created, never overwritten by an import. */
export const RUNTIME_FIELDS = new Set<string>(['canary']);

export type FileProblem = FlagsFileProblem;

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

/**
 * Parses a flags file's text — YAML when the path ends in .yaml/.yml, JSON otherwise — and checks it with
 * core's `parseFlagsDocument` (the same check the control plane's seed applies).
 */
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
  return core.parseFlagsDocument(doc);
}

/** The flags of one environment, in file order. */
export const resolveEnvironment = core.flagsForEnvironment;

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
