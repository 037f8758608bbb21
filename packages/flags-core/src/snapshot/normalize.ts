import type { Flag, Variant } from './types';

const BOOLEAN_VARIANTS: readonly Variant[] = [
  { key: 'on', value: true },
  { key: 'off', value: false },
];

/** True when the flag splits units between variants by weight (an experiment). */
export function isExperimentFlag(flag: Pick<Flag, 'variants'>): boolean {
  return flag.variants?.some((v) => v.weight !== undefined) ?? false;
}

function defaultVariantOf(flag: Flag, variants: Variant[]): string | undefined {
  if (flag.defaultVariant !== undefined) return flag.defaultVariant;
  if (isExperimentFlag({ variants })) {
    const control = flag.experiment?.controlVariant ?? 'control';
    if (variants.some((v) => v.key === control)) return control;
  }
  if (flag.type === 'boolean') return (variants.find((v) => v.value === true) ?? variants[0])?.key;
  return variants[0]?.key;
}

function offVariantOf(flag: Flag, variants: Variant[]): string | undefined {
  if (flag.offVariant !== undefined) return flag.offVariant;
  if (flag.type === 'boolean') return variants.find((v) => v.value === false)?.key;
  return undefined;
}

/**
 * The flag with every default filled in: boolean flags get the variants `on`/`off`, a `value`
 * shorthand becomes the single variant `default`, `defaultVariant` (boolean: the `true` variant;
 * experiment: the control variant; else the first), `offVariant` (boolean: the `false` variant; else
 * none), `salt` = key, `bucketBy` = `userId`, experiments get `coverage` 100 and canaries a state.
 * Pure: the input is not modified.
 */
export function normalizeFlag(flag: Flag): Flag {
  const { value, ...rest } = flag;
  let variants: Variant[];
  if (flag.variants !== undefined) variants = flag.variants.map((v) => ({ ...v }));
  else if (value !== undefined) variants = [{ key: 'default', value }];
  else if (flag.type === 'boolean') variants = BOOLEAN_VARIANTS.map((v) => ({ ...v }));
  else variants = [];
  const out: Flag = {
    ...rest,
    variants,
    salt: flag.salt ?? flag.key,
    bucketBy: flag.bucketBy ?? 'userId',
  };
  const defaultVariant = defaultVariantOf(flag, variants);
  if (defaultVariant !== undefined) out.defaultVariant = defaultVariant;
  const offVariant = offVariantOf(flag, variants);
  if (offVariant !== undefined) out.offVariant = offVariant;
  if (isExperimentFlag({ variants }) && out.coverage === undefined) out.coverage = 100;
  if (flag.stages !== undefined && flag.canary === undefined) {
    out.canary = { stage: 0, status: 'progressing', stageStartedAt: null };
  }
  return out;
}
