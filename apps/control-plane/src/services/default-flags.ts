// The default flags file that `seed` reads: `config/feature-flags.json` of the repository (the same
// flags-as-code format as `rupaya flags export|import`), or the file RUPAYA_FLAGS_FILE names (JSON, or
// YAML when it ends in .yaml/.yml). Checked by core's parseFlagsDocument — the CLI's check — and by
// the admin API's strict flag validation before anything is written.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type FlagsFile, parseFlagsDocument } from '@rupaya/flags-core';
import YAML from 'yaml';

export class DefaultFlagsFileError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`${path}: ${message}`);
    this.name = 'DefaultFlagsFileError';
  }
}

/** RUPAYA_FLAGS_FILE, else `config/feature-flags.json` in the nearest ancestor folder that has one. */
export function findDefaultFlagsFile(
  env: Record<string, string | undefined> = process.env,
  start = dirname(fileURLToPath(import.meta.url)),
): string {
  const fromEnv = env.RUPAYA_FLAGS_FILE;
  if (fromEnv) return resolve(fromEnv);
  let dir = start;
  for (;;) {
    const candidate = join(dir, 'config', 'feature-flags.json');
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir)
      throw new DefaultFlagsFileError(
        'config/feature-flags.json',
        'default flags file not found (set RUPAYA_FLAGS_FILE to a flags file)',
      );
    dir = parent;
  }
}

/** Reads and checks a flags file; throws DefaultFlagsFileError naming the file and every problem's path. */
export function readFlagsFile(path: string): FlagsFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new DefaultFlagsFileError(path, `cannot read: ${(err as Error).message}`);
  }
  const yaml = /\.ya?ml$/i.test(path);
  let doc: unknown;
  try {
    doc = yaml ? YAML.parse(text) : JSON.parse(text);
  } catch (err) {
    throw new DefaultFlagsFileError(path, `not valid ${yaml ? 'YAML' : 'JSON'}: ${(err as Error).message}`);
  }
  const parsed = parseFlagsDocument(doc);
  if (!parsed.ok) {
    const list = parsed.problems.map((p) => `${p.path || '(file)'}: ${p.message}`).join('; ');
    throw new DefaultFlagsFileError(path, `invalid flags file: ${list}`);
  }
  return parsed.file;
}
