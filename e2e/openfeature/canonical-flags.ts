// Translates the provider TCK's canonical flag set (flagd format) into Rupaya flags. Keys get the
// `tck.` namespace, because Rupaya flag keys are namespaced (`area.name`); the provider under test
// is created with `keyPrefix: 'tck.'`, so the scenarios still ask for `boolean-flag`.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Flag, JsonValue, ValueType } from '@rupaya/flags-core';

/** The vendored TCK files (see provider-tck/README.md). */
export const TCK_DIR = fileURLToPath(new URL('./provider-tck/', import.meta.url));
/** The copy handed to the project beside the repository, when present (checked equal to the vendored one). */
export const SHARED_TCK_DIR = fileURLToPath(
  new URL('../../../shared/conformance/openfeature/provider-tck/', import.meta.url),
);
export const KEY_PREFIX = 'tck.';

interface FlagdFlag {
  state: 'ENABLED' | 'DISABLED';
  variants: Record<string, JsonValue>;
  defaultVariant: string;
  targeting?: unknown;
}

function typeOf(values: JsonValue[]): ValueType {
  if (values.every((v) => typeof v === 'boolean')) return 'boolean';
  if (values.every((v) => typeof v === 'string')) return 'string';
  if (values.every((v) => typeof v === 'number')) return 'number';
  return 'json';
}

/**
 * The only targeting shape in the set: `if [ == [ var targetingKey, <uuid> ], <variant>, null ]`.
 * OpenFeature's targetingKey is Rupaya's unit key (`userId`), so the rule compares `userId`.
 */
function translateTargeting(targeting: unknown, key: string): Flag['rules'] {
  const ifArgs = (targeting as { if?: unknown[] }).if;
  const cond = ifArgs?.[0] as { '==': [{ var: string }, string] } | undefined;
  const variant = ifArgs?.[1];
  const [left, right] = cond?.['=='] ?? [];
  if (
    ifArgs?.length !== 3 ||
    ifArgs[2] !== null ||
    left?.var !== 'targetingKey' ||
    typeof right !== 'string' ||
    typeof variant !== 'string'
  ) {
    throw new Error(`unsupported targeting in ${key}: ${JSON.stringify(targeting)}`);
  }
  return [{ clauses: [{ attribute: 'userId', op: 'eq', values: [right] }], variant }];
}

export function canonicalFlags(): Flag[] {
  const file = JSON.parse(readFileSync(`${TCK_DIR}canonical-flags.json`, 'utf8')) as {
    flags: Record<string, FlagdFlag>;
  };
  return Object.entries(file.flags).map(([name, f]) => {
    const key = KEY_PREFIX + name;
    const values = Object.values(f.variants);
    const flag: Flag = {
      key,
      type: typeOf(values),
      enabled: f.state === 'ENABLED',
      variants: Object.entries(f.variants).map(([variantKey, value]) => ({ key: variantKey, value })),
      defaultVariant: f.defaultVariant,
    };
    if (f.targeting) flag.rules = translateTargeting(f.targeting, key);
    return flag;
  });
}
