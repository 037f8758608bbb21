// The evaluator: compiles a snapshot once (a dictionary object from key to compiled flag), then answers in
// nanoseconds. isEnabled / variant / value allocate nothing; evaluate returns a fresh plain object.
// Nothing here throws: an unknown flag is NOT_FOUND, a bad context is treated as an empty one, a
// context whose getters throw is ERROR.
import type { EvaluationContext, EvaluationResult, Flag, FlagValue, Snapshot } from '../snapshot/types';
import { murmurHash3Int32 } from '../hash/murmur3';
import {
  type CompiledFlag,
  compileFlag,
  type Decide,
  enabledOf,
  inTreatment,
  resultOf,
  slotOf,
  unitKeyOf,
} from './compile';
import type { Context } from './rules';

export interface Evaluator {
  /** Snapshot revision the evaluator was compiled from. */
  readonly revision: number;
  /** Snapshot environment. */
  readonly environment: string;
  /** Full result: enabled, variant, value, reason, revision, cohort / inExperiment / ruleIndex. */
  evaluate(key: string, ctx?: EvaluationContext | null): EvaluationResult;
  /** Whether the unit gets the feature (boolean flags: the served value is true). */
  isEnabled(key: string, ctx?: EvaluationContext | null): boolean;
  /** The served variant's key, or null when the caller's fallback applies. */
  variant(key: string, ctx?: EvaluationContext | null): string | null;
  /**
   * The served value, or `fallback` when the flag is unknown, serves no variant, or its type does not
   * match the fallback's (a boolean fallback for a string flag, …).
   */
  value<T extends FlagValue>(key: string, ctx: EvaluationContext | null | undefined, fallback: T): Widen<T>;
  /** Keys of every flag in the snapshot. */
  keys(): string[];
  /** The normalised flag (defaults filled in), or undefined. */
  flag(key: string): Flag | undefined;
}

/** `false` → boolean, `'x'` → string, `1` → number: the fallback's literal type widened. */
export type Widen<T> = T extends boolean
  ? boolean
  : T extends string
    ? string
    : T extends number
      ? number
      : T;

const EMPTY: Context = Object.freeze({}) as Context;
const ERROR_CODE = 9; // reason ERROR, no variant

function notFound(key: string, revision: number): EvaluationResult {
  return {
    key,
    enabled: false,
    variant: null,
    value: undefined,
    reason: 'NOT_FOUND',
    revision,
    errorCode: 'FLAG_NOT_FOUND',
    errorMessage: `flag ${typeof key === 'string' ? JSON.stringify(key) : `key of type ${typeof key}`} is not in snapshot revision ${revision}`,
  };
}

function decide(f: CompiledFlag, ctx: unknown): number {
  if (f.constant >= 0) return f.constant;
  try {
    return f.decide(typeof ctx === 'object' && ctx !== null ? (ctx as Context) : EMPTY);
  } catch {
    return ERROR_CODE; // a context whose getters throw
  }
}

type VariantPick = (ctx: Context) => string | null;

/** What `variant` serves for a flag: its key when the flag does not depend on the context, else a function. */
function pickOf(f: CompiledFlag): string | null | VariantPick {
  if (f.constant >= 0) return f.variantKeys[slotOf(f.constant)]!;
  if (f.pickVariant !== undefined) return f.pickVariant;
  const { decide, variantKeys } = f;
  return (ctx) => variantKeys[slotOf(decide(ctx))]!;
}

function typeMatches(type: Flag['type'], fallback: unknown): boolean {
  switch (type) {
    case 'boolean':
      return typeof fallback === 'boolean';
    case 'string':
      return typeof fallback === 'string';
    case 'number':
      return typeof fallback === 'number';
    default:
      return true;
  }
}

/**
 * Compiles a snapshot (normally the `snapshot` of a successful `parseSnapshot`). Never throws: an
 * invalid flag evaluates to ERROR with the caller's fallback, the others work.
 */
export function createEvaluator(snapshot: Snapshot): Evaluator {
  // Tables keyed by flag key are prototype-less objects, not Maps: V8 keeps them in dictionary mode
  // and a property load turns the caller's key into its internalized twin once (keys built at run
  // time — template literals, JSON — included), after which each lookup compares pointers. A Map
  // compares such keys' characters on every call (≈ 3× slower for a 1,000-flag snapshot).
  const flags: Record<string, CompiledFlag | undefined> = Object.create(null);
  // isEnabled's own table: the decision itself for context-independent flags (a code ≥ 0); for a
  // partial rollout without targeting, the one's complement (< 0) of its index in the flat arrays
  // below; else the compiled closure. One lookup, and for the usual flags a small integer: with many
  // flags evaluated in random order, a closure and its context are two more objects to load from
  // memory per call, the arrays stay in the nearest cache.
  const gates: Record<string, number | Decide | undefined> = Object.create(null);
  // variant's own table: the variant key itself for context-independent flags (null: no variant),
  // else a function of the context returning it.
  const picks: Record<string, string | null | VariantPick | undefined> = Object.create(null);
  const order: string[] = [];
  const list: unknown = snapshot?.flags;
  const compiledFlags: CompiledFlag[] = [];
  if (Array.isArray(list)) {
    for (const flag of list as Flag[]) {
      const compiled = compileFlag(flag);
      if (flags[compiled.key] !== undefined) continue; // first wins on duplicates
      flags[compiled.key] = compiled;
      picks[compiled.key] = pickOf(compiled);
      order.push(compiled.key);
      compiledFlags.push(compiled);
    }
  }
  // The rollouts' gates (see `RolloutGate`), one index per rollout.
  const rolloutCount = compiledFlags.reduce((n, f) => (f.gate !== undefined ? n + 1 : n), 0);
  const gateSeeds = new Int32Array(rolloutCount);
  const gateLasts = new Int32Array(rolloutCount);
  // Bit 0: the treatment is enabled; bit 1: every other unit, and a context without a unit key, is.
  const gateBits = new Uint8Array(rolloutCount);
  const gateBucketBy: string[] = [];
  for (const f of compiledFlags) {
    const g = f.gate;
    if (f.constant >= 0) gates[f.key] = f.constant;
    else if (g === undefined) gates[f.key] = f.decide;
    else {
      const i = gateBucketBy.length;
      gateSeeds[i] = g.seed;
      gateLasts[i] = g.inLast;
      gateBits[i] = +g.inEnabled | (+g.outEnabled << 1);
      gateBucketBy.push(g.bucketBy);
      gates[f.key] = ~i;
    }
  }
  const rolloutEnabled = (i: number, ctx: unknown): boolean => {
    const unit = unitKeyOf(
      typeof ctx === 'object' && ctx !== null ? (ctx as Context) : EMPTY,
      gateBucketBy[i]!,
    );
    const bits = gateBits[i]!;
    if (unit === undefined) return (bits & 2) !== 0;
    return ((bits >> +!inTreatment(murmurHash3Int32(unit, gateSeeds[i]!), gateLasts[i]!)) & 1) !== 0;
  };
  // Only strings are flag keys (a number or an object must not be coerced into one).
  const find = (key: unknown): CompiledFlag | undefined => (typeof key === 'string' ? flags[key] : undefined);
  // One-entry memo of the last key isEnabled looked up: callers evaluate the same key in a row far
  // more often than not (a hot code path, a request handler), and comparing the key with the last
  // one is cheaper than hashing it into the Map. Strings compare by pointer first; keys V8 has
  // hashed compare by hash before content.
  let lastKey: unknown;
  let lastGate: number | Decide | undefined;
  let lastPickKey: unknown;
  let lastPick: string | null | VariantPick | undefined;
  let lastFlagKey: unknown;
  let lastFlag: CompiledFlag | undefined;
  const lookup = (key: string): CompiledFlag | undefined => {
    if (key === lastFlagKey) return lastFlag;
    const f = find(key);
    lastFlagKey = key;
    lastFlag = f;
    return f;
  };
  const revision = typeof snapshot?.revision === 'number' ? snapshot.revision : 0;
  const environment = typeof snapshot?.environment === 'string' ? snapshot.environment : '';

  return {
    revision,
    environment,
    evaluate(key, ctx) {
      const f = find(key);
      if (f === undefined) return notFound(key, revision);
      return resultOf(f, decide(f, ctx), revision);
    },
    isEnabled(key, ctx) {
      let gate: number | Decide | undefined;
      if (key === lastKey) gate = lastGate;
      else {
        gate = typeof key === 'string' ? gates[key] : undefined;
        lastKey = key;
        lastGate = gate;
      }
      try {
        if (typeof gate === 'number') return gate >= 0 ? enabledOf(gate) : rolloutEnabled(~gate, ctx);
        if (gate === undefined) return false;
        return enabledOf(gate(typeof ctx === 'object' && ctx !== null ? (ctx as Context) : EMPTY));
      } catch {
        return false; // a context whose getters throw: ERROR, nothing served
      }
    },
    variant(key, ctx) {
      let pick: string | null | VariantPick | undefined;
      if (key === lastPickKey) pick = lastPick;
      else {
        pick = typeof key === 'string' ? picks[key] : undefined;
        lastPickKey = key;
        lastPick = pick;
      }
      if (typeof pick !== 'function') return pick ?? null;
      try {
        return pick(typeof ctx === 'object' && ctx !== null ? (ctx as Context) : EMPTY);
      } catch {
        return null; // a context whose getters throw: ERROR, nothing served
      }
    },
    value<T extends FlagValue>(
      key: string,
      ctx: EvaluationContext | null | undefined,
      fallback: T,
    ): Widen<T> {
      const f = lookup(key);
      if (f === undefined || (fallback !== undefined && !typeMatches(f.type, fallback)))
        return fallback as Widen<T>;
      const v = f.values[slotOf(decide(f, ctx))];
      return (v === undefined ? fallback : v) as Widen<T>;
    },
    keys() {
      return [...order];
    },
    flag(key) {
      return find(key)?.flag;
    },
  };
}
