// Compiles a flag once into a decision function returning a small integer code, so the hot path
// (isEnabled / variant) allocates nothing: the code packs reason, variant slot, cohort, experiment
// membership, a missing-unit-key marker and the matching rule; `evaluate` decodes it into an object.
import { bucketWithSeed, hashBoundOf, saltSeed, seedInt32, variantSeed } from '../hash/bucket';
import { murmurHash3Int32 } from '../hash/murmur3';
import { normalizeFlag } from '../snapshot/normalize';
import type { Cohort, EvaluationResult, Flag, FlagValue, JsonValue, Reason } from '../snapshot/types';
import { validateFlag } from '../snapshot/validate';
import { BUCKET_COUNT, controlRange, effectivePercent, thresholdOf } from './rollout';
import { type Context, compileRuleMatch } from './rules';
import { cumulativeBounds } from './variants';

export const REASONS: readonly Reason[] = [
  'NOT_FOUND',
  'OFF',
  'TARGET_DENY',
  'TARGET_ALLOW',
  'RULE_MATCH',
  'ROLLOUT',
  'CANARY',
  'EXPERIMENT',
  'DEFAULT',
  'ERROR',
];
const R = {
  OFF: 1,
  TARGET_DENY: 2,
  TARGET_ALLOW: 3,
  RULE_MATCH: 4,
  ROLLOUT: 5,
  CANARY: 6,
  EXPERIMENT: 7,
  DEFAULT: 8,
  ERROR: 9,
} as const;
export const COHORTS: readonly (Cohort | undefined)[] = [undefined, 'treatment', 'control', 'none'];
const TREATMENT = 1;
const CONTROL = 2;
const NONE = 3;
const IN_EXPERIMENT = 2;
const OUT_OF_EXPERIMENT = 1;

// Code layout: bits 0–3 reason, 4–5 cohort, 6–7 experiment (0 n/a, 1 out, 2 in), 8 unit key missing,
// 9 enabled (so isEnabled reads no array), 10–20 variant slot (0 = no variant), then
// (rule index + 1) × 2^21. Codes of up to 1,023 rules stay small integers (no boxing).
export const RULE_UNIT = 1 << 21;
const ENABLED_BIT = 1 << 9;
function code(reason: number, slot: number, cohort = 0, experiment = 0, missing = 0): number {
  return reason | (cohort << 4) | (experiment << 6) | (missing << 8) | (slot << 10);
}
type MakeCode = typeof code;
export const reasonOf = (c: number): Reason => REASONS[c & 15]!;
export const cohortCodeOf = (c: number): number => (c >>> 4) & 3;
export const experimentOf = (c: number): number => (c >>> 6) & 3;
export const missingUnitOf = (c: number): boolean => ((c >>> 8) & 1) === 1;
export const slotOf = (c: number): number => (c >>> 10) & 0x7ff;
export const enabledOf = (c: number): boolean => (c & ENABLED_BIT) !== 0;
export const ruleIndexOf = (c: number): number => Math.floor(c / RULE_UNIT) - 1;

export type Decide = (ctx: Context) => number;

export interface CompiledFlag {
  readonly key: string;
  readonly type: Flag['type'];
  /** The normalised flag (defaults filled in). */
  readonly flag: Flag;
  readonly decide: Decide;
  /** The decision when it does not depend on the context (kill switch off, plain on), else -1. */
  readonly constant: number;
  /** Slot 0 is "no variant": null key, undefined value, not enabled. */
  readonly variantKeys: readonly (string | null)[];
  readonly values: readonly (FlagValue | undefined)[];
  readonly enabled: readonly boolean[];
  /**
   * The served variant's key straight from the context, for experiments without targeting (skips
   * the decision code); else undefined and `variantKeys[slotOf(decide(ctx))]` applies.
   */
  readonly pickVariant?: (ctx: Context) => string | null;
  /** Set when the flag could not be compiled (invalid): every evaluation is ERROR. */
  readonly error?: string;
  /**
   * For a partial rollout or canary stage without targeting: what `isEnabled` needs of it as plain
   * numbers (see `RolloutGate`), so an evaluator can keep them in flat arrays; else undefined.
   */
  readonly gate?: RolloutGate;
}

/**
 * Whether a unit is enabled by a partial rollout without targeting, as data: the unit's hash
 * `murmurHash3Int32(unit, seed)` with its sign bit flipped is at most `inLast` exactly when the unit
 * is in the treatment (see `rolloutCodeOfHash`). The two booleans are the enabled bits of the
 * treatment and of everything else: control, none and a context without a unit key all serve the
 * flag's off variant.
 */
export interface RolloutGate {
  readonly seed: number;
  readonly inLast: number;
  readonly bucketBy: string;
  readonly inEnabled: boolean;
  readonly outEnabled: boolean;
}

/** The unit key of a context when it is not a plain non-empty string (numbers, or none). */
function slowUnitKey(value: unknown): string | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? String(value) : undefined;
}

/** `(h ^ SIGN) <= inLast`: the unit with signed hash `h` is in a rollout's treatment (see `RolloutGate`). */
export function inTreatment(hash: number, inLast: number): boolean {
  return (hash ^ SIGN) <= inLast;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

function cloneJson(value: FlagValue): FlagValue {
  return typeof value === 'object' && value !== null
    ? (JSON.parse(JSON.stringify(value)) as JsonValue)
    : value;
}

/** The unit key of a context: a non-empty string, or a finite number as its decimal string. */
export function unitKeyOf(ctx: Context, attribute: string): string | undefined {
  const v = ctx[attribute];
  if (typeof v === 'string') return v.length > 0 ? v : undefined;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return undefined;
}

/** A flag that failed validation: every evaluation reports ERROR and the caller's fallback. */
function brokenFlag(key: string, type: Flag['type'], flag: Flag, message: string): CompiledFlag {
  const c = code(R.ERROR, 0);
  return {
    key,
    type,
    flag,
    decide: () => c,
    constant: c,
    variantKeys: [null],
    values: [undefined],
    enabled: [false],
    error: message,
  };
}

/** Compiles one flag. Never throws: an invalid flag compiles to one that always reports ERROR. */
export function compileFlag(input: Flag): CompiledFlag {
  const key = typeof input?.key === 'string' ? input.key : String(input?.key);
  const type = input?.type;
  const checked = validateFlag(input);
  if (!checked.ok) {
    const first = checked.errors[0]!;
    return brokenFlag(key, type, input, `invalid flag: ${first.path || '$'} ${first.message}`);
  }
  try {
    return compileValidFlag(normalizeFlag(input));
  } catch (e) {
    return brokenFlag(key, type, input, `flag could not be compiled: ${(e as Error)?.message ?? String(e)}`);
  }
}

function compileValidFlag(flag: Flag): CompiledFlag {
  const variants = flag.variants ?? [];
  const variantKeys: (string | null)[] = [null, ...variants.map((v) => v.key)];
  const values: (FlagValue | undefined)[] = [
    undefined,
    ...variants.map((v) => deepFreeze(cloneJson(v.value))),
  ];
  const slotOfVariant = (name: string | undefined): number =>
    name === undefined ? 0 : variantKeys.indexOf(name);
  const onSlot = slotOfVariant(flag.defaultVariant);
  const offSlot = slotOfVariant(flag.offVariant);
  const enabled = variantKeys.map((_key, slot) =>
    slot === 0 ? false : flag.type === 'boolean' ? values[slot] === true : slot !== offSlot,
  );
  const base = { key: flag.key, type: flag.type, flag, variantKeys, values, enabled, constant: -1 };
  const mk: MakeCode = (...args) => {
    const c = code(...args);
    return enabled[slotOf(c)] ? c | ENABLED_BIT : c;
  };

  if (!flag.enabled) {
    const off = mk(R.OFF, offSlot);
    return { ...base, decide: () => off, constant: off };
  }

  const bucketBy = flag.bucketBy ?? 'userId';
  const seed = seedInt32(saltSeed(flag.salt ?? flag.key));
  const kind = kindDecision(flag, seed, bucketBy, onSlot, offSlot, slotOfVariant, mk, variantKeys);

  const deny = flag.denyList && flag.denyList.length > 0 ? new Set(flag.denyList) : null;
  const allow = flag.allowList && flag.allowList.length > 0 ? new Set(flag.allowList) : null;
  const rules = (flag.rules ?? []).map((rule, i) => ({
    match: compileRuleMatch(rule),
    threshold: rule.rolloutPercentage === undefined ? BUCKET_COUNT : thresholdOf(rule.rolloutPercentage),
    code: mk(R.RULE_MATCH, slotOfVariant(rule.variant)) + (i + 1) * RULE_UNIT,
  }));

  if (deny === null && allow === null && rules.length === 0) {
    return {
      ...base,
      decide: kind.direct,
      constant: kind.constant,
      pickVariant: kind.pickVariant,
      gate: kind.gate,
    };
  }
  const denyCode = mk(R.TARGET_DENY, offSlot);
  const allowCode = mk(R.TARGET_ALLOW, onSlot);
  const ruleCount = rules.length;
  const after = kind.after;
  if (ruleCount === 0) {
    // Lists only (e.g. an allow list, then a rollout): no rule loop; for a partial rollout, the
    // lists are checked through the unit's hash first.
    const hashed = kind.withLists?.(deny, allow, denyCode, allowCode);
    if (hashed !== undefined) return { ...base, decide: hashed };
    const lists: Decide = (ctx) => {
      const v = ctx[bucketBy];
      const unit = typeof v === 'string' && v.length > 0 ? v : slowUnitKey(v);
      if (unit !== undefined) {
        if (deny?.has(unit)) return denyCode;
        if (allow?.has(unit)) return allowCode;
      }
      return after(unit, -1);
    };
    return { ...base, decide: lists };
  }
  const decide: Decide = (ctx) => {
    const unit = unitKeyOf(ctx, bucketBy);
    if (unit !== undefined) {
      if (deny?.has(unit)) return denyCode;
      if (allow?.has(unit)) return allowCode;
    }
    let bucket = -1;
    for (let i = 0; i < ruleCount; i++) {
      const rule = rules[i]!;
      if (!rule.match(ctx)) continue;
      if (rule.threshold >= BUCKET_COUNT) return rule.code;
      // A partial rule rollout needs a unit key; without one the unit falls through.
      if (rule.threshold <= 0 || unit === undefined) continue;
      if (bucket < 0) bucket = bucketWithSeed(seed, unit);
      if (bucket < rule.threshold) return rule.code;
    }
    return after(unit, bucket);
  };
  return { ...base, decide };
}

/**
 * Decision of the flag's kind (rollout / canary / experiment / default) for a unit.
 *
 * The direct paths work in hash space: instead of turning the unit's 32-bit hash into a bucket (a
 * float multiply and floor per evaluation) and comparing buckets, they compare the unsigned hash with
 * the precomputed `hashBoundOf` of each bucket threshold (as `signedLastOf`, small integers) — the
 * same decisions, bucket for bucket. Hashes travel as `murmurHash3Int32` returns them (signed 32-bit,
 * a small integer in V8, so no call boxes one) into `rolloutCodeOfHash`, `variantIndexOfHash` and
 * `hashBelow`. The rules path, which reuses one bucket for several rule thresholds, passes buckets
 * (always small integers).
 */
type AfterTargeting = (unit: string | undefined, bucket: number) => number;

/** Flips the sign bit: unsigned 32-bit order becomes signed order, so hashes compare as small integers. */
const SIGN = -2147483648;

/**
 * A hash bound `B` in `[1, 2^32]` as a signed 32-bit integer `L` such that, for every hash `h`,
 * `h < B` exactly when `(h ^ SIGN) <= L` (`L = B − 1 − 2^31`). Compiled rollouts keep their bounds as
 * small integers this way: a bound of 2^31 or more would otherwise be a boxed double, one more object
 * (and cache line) to load per evaluation.
 */
function signedLastOf(bound: number): number {
  return (bound - 1 + SIGN) | 0;
}

/**
 * Decision code of a unit in a partial rollout, from its hash (signed, as `murmurHash3Int32`
 * returns it): treatment `[0, inEnd)`, control `[controlStart, controlEnd)`, else none — bounds as
 * `signedLastOf`, codes as the treatment code and two differences. Written without branches on the
 * hash: which zone a unit falls in is a coin toss the CPU cannot predict, and each mispredicted
 * branch costs more than the arithmetic.
 */
function rolloutCodeOfHash(
  hash: number,
  inLast: number,
  controlStartLast: number,
  controlEndLast: number,
  inCode: number,
  inToNone: number,
  noneToControl: number,
): number {
  const h = hash ^ SIGN;
  // All-ones masks, not 0/1 factors: `0 * -5` is -0 in JavaScript, which is no small integer, and
  // one -0 makes V8 compile the arithmetic in doubles from then on.
  const outside = 0 - +(h > inLast);
  const control = (0 - +(h > controlStartLast)) & (0 - +(h <= controlEndLast));
  return inCode + (outside & (inToNone + (control & noneToControl)));
}

/** Most units an allow and deny list may hold together for `hashTableOf` (else the Sets alone decide). */
const MAX_HASHED_UNITS = 65_536;

/**
 * The hashes (`murmurHash3Int32(unit, seed)`) of listed units in an open-addressing table of at
 * most half load, 0 marking an empty slot; null when there are too many units or one hashes to 0.
 * A rollout that hashes every unit anyway checks its lists through it first: a unit whose hash is
 * not in the table is in no list, and the table is a few cache lines where a Set lookup is a call.
 */
function hashTableOf(seed: number, units: readonly string[]): Int32Array | null {
  if (units.length > MAX_HASHED_UNITS) return null;
  let size = 16;
  while (size < units.length * 2) size *= 2;
  const table = new Int32Array(size);
  const mask = size - 1;
  for (const unit of units) {
    const h = murmurHash3Int32(unit, seed);
    if (h === 0) return null;
    let i = h & mask;
    while (table[i] !== 0 && table[i] !== h) i = (i + 1) & mask;
    table[i] = h;
  }
  return table;
}

/** Whether `h` is in a `hashTableOf` table (`mask` = its length − 1). */
function inHashTable(table: Int32Array, mask: number, h: number): boolean {
  let i = h & mask;
  for (;;) {
    const x = table[i]!;
    if (x === h) return true;
    if (x === 0) return false;
    i = (i + 1) & mask;
  }
}

/**
 * Index of the variant whose hash bound is the first above the unit's variant hash (last if none):
 * the number of bounds at or below the hash, as the bounds increase — counted without branching on
 * the hash (see `rolloutCodeOfHash`). `zeros` bounds of 0 (variants of weight 0 first) are at or below
 * every hash; `lasts` are the other bounds below the last variant's, as `signedLastOf`.
 */
function variantIndexOfHash(seed: number, unit: string, zeros: number, lasts: readonly number[]): number {
  const h = murmurHash3Int32(unit, seed) ^ SIGN;
  let i = zeros;
  for (let j = 0; j < lasts.length; j++) i += +(h > lasts[j]!);
  return i;
}

/** Whether the unit's hash under `seed` is below `bound`. */
function hashBelow(seed: number, unit: string, bound: number): boolean {
  return murmurHash3Int32(unit, seed) >>> 0 < bound;
}

interface KindDecision {
  /** After allow/deny lists and rules: the unit key (if any) and its rollout bucket (-1 if not computed). */
  after: AfterTargeting;
  /** Straight from the context, for flags without targeting: one closure, the unit key read inline. */
  direct: Decide;
  /** The decision when it is the same for every unit, else -1. */
  constant: number;
  /** `direct`'s variant key without the decision code, where that saves work (experiments). */
  pickVariant?: (ctx: Context) => string | null;
  /**
   * For flags with allow/deny lists and no rules: the whole decision, lists checked through the
   * hash the kind computes anyway (partial rollouts); undefined where that does not apply.
   */
  withLists?: WithLists;
  /** `direct` of a partial rollout, as data (see `RolloutGate`). */
  gate?: RolloutGate;
}

type WithLists = (
  deny: ReadonlySet<string> | null,
  allow: ReadonlySet<string> | null,
  denyCode: number,
  allowCode: number,
) => Decide | undefined;

function always(c: number): KindDecision {
  const decide = () => c;
  return { after: decide, direct: decide, constant: c };
}

/**
 * The compiled decisions of a partial rollout or canary stage. Built apart from `kindDecision` so the
 * closures' context holds only what they read, as small integers: a 1,000-flag snapshot evaluated
 * in random order finds each flag's closure, context and bounds in a couple of cache lines.
 */
function rolloutDecision(
  seed: number,
  bucketBy: string,
  inLast: number,
  controlStartLast: number,
  controlEndLast: number,
  inCode: number,
  controlCode: number,
  noneCode: number,
  missingCode: number,
): { direct: Decide; zoned: (unit: string) => number; withLists: WithLists } {
  const inToNone = noneCode - inCode;
  const noneToControl = controlCode - noneCode;
  const zoned = (unit: string): number =>
    rolloutCodeOfHash(
      murmurHash3Int32(unit, seed),
      inLast,
      controlStartLast,
      controlEndLast,
      inCode,
      inToNone,
      noneToControl,
    );
  return {
    withLists: (deny, allow, denyCode, allowCode) => {
      const table = hashTableOf(seed, [...(deny ?? []), ...(allow ?? [])]);
      if (table === null) return undefined;
      const mask = table.length - 1;
      return (ctx) => {
        const v = ctx[bucketBy];
        const unit = typeof v === 'string' && v.length > 0 ? v : slowUnitKey(v);
        if (unit === undefined) return missingCode;
        const h = murmurHash3Int32(unit, seed);
        if (inHashTable(table, mask, h)) {
          if (deny?.has(unit)) return denyCode;
          if (allow?.has(unit)) return allowCode;
        }
        return rolloutCodeOfHash(
          h,
          inLast,
          controlStartLast,
          controlEndLast,
          inCode,
          inToNone,
          noneToControl,
        );
      };
    },
    direct: (ctx) => {
      const v = ctx[bucketBy];
      const unit = typeof v === 'string' && v.length > 0 ? v : slowUnitKey(v);
      // The hash inline, not through `zoned`: with many flags evaluated in random order, one
      // closure object per flag fewer to load.
      return unit === undefined
        ? missingCode
        : rolloutCodeOfHash(
            murmurHash3Int32(unit, seed),
            inLast,
            controlStartLast,
            controlEndLast,
            inCode,
            inToNone,
            noneToControl,
          );
    },
    zoned,
  };
}

/**
 * `variant` of an experiment without targeting and with full coverage: the key straight from the
 * unit's variant hash. Built apart so the closure's context holds only what it reads; a two-way
 * split (the usual A/B test) compares with its one bound without a loop.
 */
function experimentPick(
  vSeed: number,
  bucketBy: string,
  zeros: number,
  lasts: readonly number[],
  inKeys: readonly (string | null)[],
  missingKey: string | null,
): (ctx: Context) => string | null {
  if (zeros === 0 && lasts.length === 1) {
    const last = lasts[0]!;
    const pair = [inKeys[0]!, inKeys[1]!];
    return (ctx) => {
      const v = ctx[bucketBy];
      const unit = typeof v === 'string' && v.length > 0 ? v : slowUnitKey(v);
      if (unit === undefined) return missingKey;
      return pair[+((murmurHash3Int32(unit, vSeed) ^ SIGN) > last)]!;
    };
  }
  return (ctx) => {
    const v = ctx[bucketBy];
    const unit = typeof v === 'string' && v.length > 0 ? v : slowUnitKey(v);
    if (unit === undefined) return missingKey;
    return inKeys[variantIndexOfHash(vSeed, unit, zeros, lasts)]!;
  };
}

function kindDecision(
  flag: Flag,
  seed: number,
  bucketBy: string,
  onSlot: number,
  offSlot: number,
  slotOfVariant: (name: string) => number,
  mk: MakeCode,
  variantKeys: readonly (string | null)[],
): KindDecision {
  const variants = flag.variants ?? [];
  if (variants.some((v) => v.weight !== undefined)) {
    const coverage = thresholdOf(flag.coverage ?? 100);
    const coverageBound = hashBoundOf(coverage);
    const vSeed = seedInt32(variantSeed(flag.salt ?? flag.key));
    const bounds = cumulativeBounds(variants.map((v) => v.weight ?? 0)).map(hashBoundOf);
    const inCodes = variants.map((v) => mk(R.EXPERIMENT, slotOfVariant(v.key), 0, IN_EXPERIMENT));
    const outCode = mk(R.EXPERIMENT, onSlot, 0, OUT_OF_EXPERIMENT);
    const missingCode = mk(R.ERROR, onSlot, 0, OUT_OF_EXPERIMENT, 1);
    if (coverage <= 0) return always(outCode);
    // Bounds of every variant but the last (a hash above them all is the last's).
    const inner = bounds.slice(0, -1);
    const zeros = inner.filter((b) => b === 0).length;
    const lasts = inner.filter((b) => b > 0).map(signedLastOf);
    const assign = (unit: string, bucket: number): number => {
      if (coverage < BUCKET_COUNT) {
        const covered = bucket >= 0 ? bucket < coverage : hashBelow(seed, unit, coverageBound);
        if (!covered) return outCode;
      }
      return inCodes[variantIndexOfHash(vSeed, unit, zeros, lasts)]!;
    };
    // The variant keys in the order of `inCodes`, for `pickVariant`.
    const inKeys = inCodes.map((c) => variantKeys[slotOf(c)]!);
    const missingKey = variantKeys[slotOf(missingCode)]!;
    return {
      pickVariant:
        coverage >= BUCKET_COUNT
          ? experimentPick(vSeed, bucketBy, zeros, lasts, inKeys, missingKey)
          : undefined,
      after: (unit, bucket) => (unit === undefined ? missingCode : assign(unit, bucket)),
      // Full coverage (the usual case): one hash, the variant search inline.
      direct:
        coverage >= BUCKET_COUNT
          ? (ctx) => {
              const v = ctx[bucketBy];
              const unit = typeof v === 'string' && v.length > 0 ? v : slowUnitKey(v);
              if (unit === undefined) return missingCode;
              return inCodes[variantIndexOfHash(vSeed, unit, zeros, lasts)]!;
            }
          : (ctx) => {
              const v = ctx[bucketBy];
              const unit = typeof v === 'string' && v.length > 0 ? v : slowUnitKey(v);
              return unit === undefined ? missingCode : assign(unit, -1);
            },
      constant: -1,
    };
  }
  const isCanary = flag.stages !== undefined;
  if (isCanary || flag.rolloutPercentage !== undefined) {
    const reason = isCanary ? R.CANARY : R.ROLLOUT;
    const percent = effectivePercent(flag);
    const threshold = thresholdOf(percent);
    const inCode = mk(reason, onSlot, TREATMENT);
    const controlCode = mk(reason, offSlot, CONTROL);
    const noneCode = mk(reason, offSlot, NONE);
    if (threshold >= BUCKET_COUNT) return always(inCode);
    if (threshold <= 0) return always(noneCode);
    const missingCode = mk(R.ERROR, offSlot, NONE, 0, 1);
    // The cohort ranges of ARCHITECTURE.md, from the one place that defines them.
    const [controlStart, controlEnd] = controlRange(percent);
    const inLast = signedLastOf(hashBoundOf(threshold));
    const { direct, zoned, withLists } = rolloutDecision(
      seed,
      bucketBy,
      inLast,
      signedLastOf(hashBoundOf(controlStart)),
      signedLastOf(hashBoundOf(controlEnd)),
      inCode,
      controlCode,
      noneCode,
      missingCode,
    );
    return {
      after: (unit, bucket) => {
        if (unit === undefined) return missingCode;
        if (bucket < 0) return zoned(unit);
        if (bucket < threshold) return inCode;
        return bucket >= controlStart && bucket < controlEnd ? controlCode : noneCode;
      },
      direct,
      constant: -1,
      withLists,
      gate: {
        seed,
        inLast,
        bucketBy,
        inEnabled: enabledOf(inCode),
        outEnabled: enabledOf(noneCode),
      },
    };
  }
  return always(mk(R.DEFAULT, onSlot));
}

/** Decodes a decision code into the public result object. */
export function resultOf(f: CompiledFlag, c: number, revision: number): EvaluationResult {
  const slot = slotOf(c);
  const cohort = COHORTS[cohortCodeOf(c)];
  // With the cohort in the literal (rollouts and canaries): added afterwards, it would not fit in the
  // object and cost every such result a second allocation for its property store.
  const result: EvaluationResult =
    cohort !== undefined
      ? {
          key: f.key,
          enabled: enabledOf(c),
          variant: f.variantKeys[slot] ?? null,
          value: f.values[slot],
          reason: reasonOf(c),
          revision,
          cohort,
        }
      : {
          key: f.key,
          enabled: enabledOf(c),
          variant: f.variantKeys[slot] ?? null,
          value: f.values[slot],
          reason: reasonOf(c),
          revision,
        };
  const experiment = experimentOf(c);
  if (experiment !== 0) result.inExperiment = experiment === IN_EXPERIMENT;
  const rule = ruleIndexOf(c);
  if (rule >= 0) result.ruleIndex = rule;
  if (missingUnitOf(c)) {
    const attribute = f.flag.bucketBy ?? 'userId';
    result.errorCode = 'TARGETING_KEY_MISSING';
    result.errorMessage = `context has no unit key "${attribute}"; the flag's fallback was served`;
  } else if (f.error !== undefined) {
    result.errorCode = 'PARSE_ERROR';
    result.errorMessage = f.error;
  }
  return result;
}
