// Flags as code: one document holding flag definitions and per-environment values. It is the format of
// `rupaya flags export|import` and of the default flags file (`config/feature-flags.json`) that the
// control plane's seed reads — checked here once, so the CLI and the control plane agree on it.
//
//   { version: 1, environments: [dev, staging, prod],
//     flags: [ { key, type, ...Flag fields..., environments: { <env>: { ...Flag fields for that env } } } ] }
//
// The flag of environment E is the base (without `environments`) overlaid with `environments[E]`.
// Text (JSON or YAML) is parsed by the caller; this module checks the parsed document.
import { FLAG_FIELD_NAMES, validateFlag } from '../snapshot/validate';
import type { Flag } from '../snapshot/types';

export const FLAGS_FILE_VERSION = 1;

/** Fields of a Flag that a flags file may carry (the admin API's names; `version` is the server's). */
export const FLAGS_FILE_FIELDS: readonly string[] = FLAG_FIELD_NAMES.filter((f) => f !== 'version');

export type FlagFields = Partial<Flag> & { key: string };

export interface FlagsFileEntry extends FlagFields {
  environments?: Record<string, Partial<Flag>>;
}

export interface FlagsFile {
  version: number;
  environments: string[];
  flags: FlagsFileEntry[];
}

export interface FlagsFileProblem {
  /** Where, e.g. `flags[3].environments.prod.rolloutPercentage` or `flags[3].stages (prod)`. */
  path: string;
  message: string;
}

export type FlagsFileResult = { ok: true; file: FlagsFile } | { ok: false; problems: FlagsFileProblem[] };

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

/** The flags of one environment, in file order: each entry's base overlaid with its `environments[env]`. */
export function flagsForEnvironment(file: FlagsFile, environment: string): FlagFields[] {
  return file.flags.map((entry) => {
    const { environments, ...base } = entry;
    return { ...base, ...(environments?.[environment] ?? {}) } as FlagFields;
  });
}

/**
 * Checks a parsed flags file: its shape (version, environments, unique keys, known fields, overrides
 * only for listed environments), then every environment's resolved flag with `validateFlag`, the
 * check the admin API applies. Never throws; every problem has a path.
 */
export function parseFlagsDocument(doc: unknown): FlagsFileResult {
  if (!isObject(doc)) {
    return {
      ok: false,
      problems: [{ path: '', message: 'must be an object with `version`, `environments` and `flags`' }],
    };
  }
  const problems: FlagsFileProblem[] = [];
  if (doc.version !== FLAGS_FILE_VERSION)
    problems.push({ path: 'version', message: `must be ${FLAGS_FILE_VERSION}` });
  const environments = doc.environments;
  const envList =
    Array.isArray(environments) && environments.every((e) => typeof e === 'string' && e.length > 0)
      ? (environments as string[])
      : null;
  if (envList === null || envList.length === 0) {
    problems.push({ path: 'environments', message: 'must be a non-empty list of environment names' });
  } else if (new Set(envList).size !== envList.length) {
    problems.push({ path: 'environments', message: 'lists an environment twice' });
  }
  if (!Array.isArray(doc.flags)) {
    problems.push({ path: 'flags', message: 'must be a list of flags' });
    return { ok: false, problems };
  }
  const seen = new Set<string>();
  const envNames = new Set(envList ?? []);
  const known = new Set<string>([...FLAGS_FILE_FIELDS, 'environments']);
  doc.flags.forEach((raw, i) => {
    const at = `flags[${i}]`;
    if (!isObject(raw)) {
      problems.push({ path: at, message: 'must be an object' });
      return;
    }
    if (typeof raw.key !== 'string' || raw.key.length === 0) {
      problems.push({ path: `${at}.key`, message: 'must be a non-empty string' });
      return;
    }
    if (seen.has(raw.key)) problems.push({ path: `${at}.key`, message: `duplicate key ${raw.key}` });
    seen.add(raw.key);
    for (const k of Object.keys(raw)) {
      if (!known.has(k)) problems.push({ path: `${at}.${k}`, message: 'unknown field' });
    }
    const envs = raw.environments;
    if (envs === undefined) return;
    if (!isObject(envs)) {
      problems.push({ path: `${at}.environments`, message: 'must be an object keyed by environment' });
      return;
    }
    for (const [env, value] of Object.entries(envs)) {
      if (!envNames.has(env))
        problems.push({
          path: `${at}.environments.${env}`,
          message: 'environment not listed in `environments`',
        });
      if (!isObject(value)) {
        problems.push({ path: `${at}.environments.${env}`, message: 'must be an object of flag fields' });
        continue;
      }
      for (const k of Object.keys(value)) {
        if (!FLAGS_FILE_FIELDS.includes(k) || k === 'key')
          problems.push({ path: `${at}.environments.${env}.${k}`, message: 'unknown field' });
      }
    }
  });
  if (problems.length > 0) return { ok: false, problems };
  const file = doc as unknown as FlagsFile;
  for (const env of file.environments) {
    flagsForEnvironment(file, env).forEach((flag, i) => {
      // `enabled` defaults to true in a file, as in the admin API's create.
      const checked = validateFlag({ enabled: true, ...flag }, '');
      if (checked.ok) return;
      for (const e of checked.errors) {
        const path = e.path.replace(/^\.|^\$$/, '');
        problems.push({ path: `flags[${i}]${path ? `.${path}` : ''} (${env})`, message: e.message });
      }
    });
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, file };
}
