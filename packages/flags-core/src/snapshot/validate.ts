// Structural and semantic validation of flags and snapshots. Never throws; every problem is reported
// with the JSON path of the offending value, e.g. `flags[3].rules[0].clauses[1].op`.
import { parseSemver } from '../evaluate/semver';
import { parseIsoInstant } from '../evaluate/time';
import {
  type Flag,
  type Operator,
  type ParseResult,
  SCHEMA_VERSION,
  type Snapshot,
  type SnapshotError,
  type ValueType,
} from './types';

export const OPERATORS: readonly Operator[] = [
  'in',
  'not_in',
  'eq',
  'neq',
  'lt',
  'lte',
  'gt',
  'gte',
  'starts_with',
  'ends_with',
  'contains',
  'matches',
  'semver_eq',
  'semver_lt',
  'semver_gt',
  'before',
  'after',
];
export const VALUE_TYPES: readonly ValueType[] = ['boolean', 'string', 'number', 'json'];
/** `feature.x`, `canary.checkout-v2`, `experiment.pricing.page`: a prefix, a dot, then more segments. */
export const FLAG_KEY_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_-]*(\\.[A-Za-z0-9][A-Za-z0-9_-]*)+$';
export const MAX_KEY_LENGTH = 200;
export const MAX_VARIANTS = 1000;
export const MAX_PATTERN_LENGTH = 1000;
const FLAG_KEY = new RegExp(FLAG_KEY_PATTERN);
const CHECKSUM = /^sha256:[0-9a-f]{64}$/;
const CANARY_STATUSES = ['progressing', 'paused', 'completed', 'rolled_back'];
const METRIC_KINDS = ['conversion', 'mean', 'count'];

/** Every field of a flag, under the admin API's names (a strict write rejects any other). */
export const FLAG_FIELD_NAMES: readonly (keyof Flag)[] = [
  'key',
  'type',
  'description',
  'enabled',
  'variants',
  'defaultVariant',
  'offVariant',
  'value',
  'salt',
  'bucketBy',
  'allowList',
  'denyList',
  'rules',
  'rolloutPercentage',
  'coverage',
  'stages',
  'canary',
  'policy',
  'guard',
  'autoRollback',
  'experiment',
  'tags',
  'version',
];
const FLAG_FIELDS = new Set<string>(FLAG_FIELD_NAMES);

export interface ValidateOptions {
  /** Reject properties the contract does not know (admin writes). Snapshots tolerate them. */
  strict?: boolean;
}

export type ValidateFlagResult = { ok: true; flag: Flag } | { ok: false; errors: SnapshotError[] };

type Obj = Record<string, unknown>;

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  if (typeof v === 'number' || typeof v === 'boolean') return `${typeof v} ${String(v)}`;
  return typeof v === 'object' ? 'an object' : typeof v;
}

const at = (path: string, key: string) => (path === '' ? key : `${path}.${key}`);
const idx = (path: string, i: number) => `${path}[${i}]`;

/** A percentage in [0, 100] with at most 0.001 resolution (one bucket in 100,000). */
export function isPercentage(v: unknown): v is number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 100) return false;
  const thousandths = v * 1000;
  return Math.abs(thousandths - Math.round(thousandths)) < 1e-6;
}

/** A JSON value: null, boolean, finite number, string, array or plain object of JSON values. */
export function isJsonValue(v: unknown, depth = 0): boolean {
  if (depth > 64) return false;
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return true;
  if (typeof v === 'number') return Number.isFinite(v);
  if (Array.isArray(v)) return v.every((x) => isJsonValue(x, depth + 1));
  if (isObject(v)) {
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) return false;
    return Object.values(v).every((x) => isJsonValue(x, depth + 1));
  }
  return false;
}

function valueMatchesType(type: ValueType, v: unknown): boolean {
  switch (type) {
    case 'boolean':
      return typeof v === 'boolean';
    case 'string':
      return typeof v === 'string';
    case 'number':
      return typeof v === 'number' && Number.isFinite(v);
    default:
      return v !== undefined && isJsonValue(v);
  }
}

class Collector {
  readonly errors: SnapshotError[] = [];
  add(path: string, message: string): void {
    this.errors.push({ path, message });
  }
  string(obj: Obj, key: string, path: string, required: boolean, nonEmpty = true): string | undefined {
    const v = obj[key];
    if (v === undefined) {
      if (required) this.add(at(path, key), 'is required');
      return undefined;
    }
    if (typeof v !== 'string') this.add(at(path, key), `must be a string, got ${describe(v)}`);
    else if (nonEmpty && v.length === 0) this.add(at(path, key), 'must not be empty');
    else return v;
    return undefined;
  }
  boolean(obj: Obj, key: string, path: string, required: boolean): boolean | undefined {
    const v = obj[key];
    if (v === undefined) {
      if (required) this.add(at(path, key), 'is required');
      return undefined;
    }
    if (typeof v !== 'boolean') {
      this.add(at(path, key), `must be a boolean, got ${describe(v)}`);
      return undefined;
    }
    return v;
  }
  number(
    obj: Obj,
    key: string,
    path: string,
    opts: { min?: number; max?: number; integer?: boolean; exclusiveMin?: boolean },
  ) {
    const v = obj[key];
    if (v === undefined) return undefined;
    const p = at(path, key);
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      this.add(p, `must be a finite number, got ${describe(v)}`);
      return undefined;
    }
    if (opts.integer && !Number.isSafeInteger(v)) this.add(p, `must be an integer, got ${v}`);
    else if (opts.min !== undefined && (opts.exclusiveMin ? v <= opts.min : v < opts.min))
      this.add(p, `must be ${opts.exclusiveMin ? 'greater than' : 'at least'} ${opts.min}, got ${v}`);
    else if (opts.max !== undefined && v > opts.max) this.add(p, `must be at most ${opts.max}, got ${v}`);
    else return v;
    return undefined;
  }
  percentage(obj: Obj, key: string, path: string): number | undefined {
    const v = obj[key];
    if (v === undefined) return undefined;
    if (!isPercentage(v)) {
      this.add(
        at(path, key),
        `must be a percentage between 0 and 100 with at most 3 decimals, got ${describe(v)}`,
      );
      return undefined;
    }
    return v;
  }
  stringArray(obj: Obj, key: string, path: string): string[] | undefined {
    const v = obj[key];
    if (v === undefined) return undefined;
    const p = at(path, key);
    if (!Array.isArray(v)) {
      this.add(p, `must be an array of strings, got ${describe(v)}`);
      return undefined;
    }
    let ok = true;
    v.forEach((s, i) => {
      if (typeof s !== 'string') {
        this.add(idx(p, i), `must be a string, got ${describe(s)}`);
        ok = false;
      }
    });
    return ok ? (v as string[]) : undefined;
  }
  unknownFields(obj: Obj, known: Set<string>, path: string): void {
    for (const k of Object.keys(obj)) if (!known.has(k)) this.add(at(path, k), 'is not a known property');
  }
}

const RULE_FIELDS = new Set(['id', 'description', 'clauses', 'variant', 'rolloutPercentage']);
const CLAUSE_FIELDS = new Set(['attribute', 'op', 'values', 'negate']);
const VARIANT_FIELDS = new Set(['key', 'value', 'weight', 'description']);
const STAGE_FIELDS = new Set(['percent', 'minDurationSec']);
const CANARY_FIELDS = new Set(['stage', 'status', 'stageStartedAt', 'runId']);

function validateClause(c: Collector, clause: unknown, path: string, strict: boolean): void {
  if (!isObject(clause)) {
    c.add(path, `must be an object, got ${describe(clause)}`);
    return;
  }
  if (strict) c.unknownFields(clause, CLAUSE_FIELDS, path);
  c.string(clause, 'attribute', path, true);
  c.boolean(clause, 'negate', path, false);
  const op = clause.op;
  let knownOp: Operator | undefined;
  if (op === undefined) c.add(at(path, 'op'), 'is required');
  else if (typeof op !== 'string' || !(OPERATORS as readonly string[]).includes(op))
    c.add(at(path, 'op'), `unknown operator ${describe(op)}; expected one of ${OPERATORS.join(', ')}`);
  else knownOp = op as Operator;
  const values = clause.values;
  const vp = at(path, 'values');
  if (values === undefined) {
    c.add(vp, 'is required');
    return;
  }
  if (!Array.isArray(values)) {
    c.add(vp, `must be an array, got ${describe(values)}`);
    return;
  }
  if (values.length === 0) {
    c.add(vp, 'must not be empty');
    return;
  }
  values.forEach((v, i) => {
    const p = idx(vp, i);
    if (typeof v !== 'string' && typeof v !== 'boolean' && (typeof v !== 'number' || !Number.isFinite(v))) {
      c.add(p, `must be a string, number or boolean, got ${describe(v)}`);
      return;
    }
    switch (knownOp) {
      case 'lt':
      case 'lte':
      case 'gt':
      case 'gte':
        if (typeof v !== 'number') c.add(p, `operator ${knownOp} needs numbers, got ${describe(v)}`);
        break;
      case 'starts_with':
      case 'ends_with':
      case 'contains':
        if (typeof v !== 'string') c.add(p, `operator ${knownOp} needs strings, got ${describe(v)}`);
        break;
      case 'matches':
        if (typeof v !== 'string')
          c.add(p, `operator matches needs regular expressions as strings, got ${describe(v)}`);
        else if (v.length > MAX_PATTERN_LENGTH)
          c.add(p, `regular expression is longer than ${MAX_PATTERN_LENGTH} characters`);
        else {
          try {
            new RegExp(v);
          } catch (e) {
            c.add(p, `invalid regular expression: ${(e as Error).message}`);
          }
        }
        break;
      case 'semver_eq':
      case 'semver_lt':
      case 'semver_gt':
        if (typeof v !== 'string' || parseSemver(v) === null)
          c.add(p, `operator ${knownOp} needs semantic versions like 1.2.3, got ${describe(v)}`);
        break;
      case 'before':
      case 'after':
        if (typeof v === 'number') break;
        if (typeof v !== 'string' || Number.isNaN(parseIsoInstant(v)))
          c.add(
            p,
            `operator ${knownOp} needs ISO-8601 dates (with a zone when a time is given) or epoch milliseconds, got ${describe(v)}`,
          );
        break;
      default:
        break;
    }
  });
}

/**
 * Validates one flag. The returned flag is the input as given (not normalised; see `normalizeFlag`).
 * @param path Path prefix for the errors, e.g. `flags[2]`; default none.
 */
export function validateFlag(json: unknown, path = '', options: ValidateOptions = {}): ValidateFlagResult {
  const c = new Collector();
  validateFlagInto(c, json, path, options.strict ?? false);
  return c.errors.length === 0 ? { ok: true, flag: json as Flag } : { ok: false, errors: c.errors };
}

function validateFlagInto(c: Collector, json: unknown, path: string, strict: boolean): void {
  if (!isObject(json)) {
    c.add(path === '' ? '$' : path, `flag must be an object, got ${describe(json)}`);
    return;
  }
  const f = json;
  if (strict) c.unknownFields(f, FLAG_FIELDS, path);

  const key = c.string(f, 'key', path, true);
  if (key !== undefined) {
    if (key.length > MAX_KEY_LENGTH) c.add(at(path, 'key'), `must be at most ${MAX_KEY_LENGTH} characters`);
    else if (!FLAG_KEY.test(key))
      c.add(
        at(path, 'key'),
        `must be dotted segments of letters, digits, '_' and '-', like feature.checkout or canary.api-v2; got ${JSON.stringify(key)}`,
      );
  }
  let type: ValueType | undefined;
  if (f.type === undefined) c.add(at(path, 'type'), 'is required');
  else if (typeof f.type !== 'string' || !(VALUE_TYPES as readonly string[]).includes(f.type))
    c.add(at(path, 'type'), `must be one of ${VALUE_TYPES.join(', ')}, got ${describe(f.type)}`);
  else type = f.type as ValueType;
  c.boolean(f, 'enabled', path, true);
  c.string(f, 'description', path, false, false);
  c.string(f, 'salt', path, false);
  c.string(f, 'bucketBy', path, false);
  c.boolean(f, 'guard', path, false);
  c.boolean(f, 'autoRollback', path, false);
  c.stringArray(f, 'allowList', path);
  c.stringArray(f, 'denyList', path);
  c.stringArray(f, 'tags', path);
  c.number(f, 'version', path, { min: 0, integer: true });
  const rolloutPercentage = c.percentage(f, 'rolloutPercentage', path);
  c.percentage(f, 'coverage', path);

  // Variants: the names every reference below must resolve against (after defaults).
  const variantKeys = new Set<string>();
  let variantsValid = true;
  let weighted = 0;
  let weightSum = 0;
  const vs = f.variants;
  if (vs !== undefined) {
    const vp = at(path, 'variants');
    if (f.value !== undefined)
      c.add(at(path, 'value'), 'cannot be combined with variants; use one or the other');
    if (!Array.isArray(vs)) {
      c.add(vp, `must be an array, got ${describe(vs)}`);
      variantsValid = false;
    } else if (vs.length === 0) {
      c.add(vp, 'must not be empty');
      variantsValid = false;
    } else if (vs.length > MAX_VARIANTS) {
      c.add(vp, `must have at most ${MAX_VARIANTS} variants`);
      variantsValid = false;
    } else {
      vs.forEach((v, i) => {
        const p = idx(vp, i);
        if (!isObject(v)) {
          c.add(p, `must be an object, got ${describe(v)}`);
          variantsValid = false;
          return;
        }
        if (strict) c.unknownFields(v, VARIANT_FIELDS, p);
        const vk = c.string(v, 'key', p, true);
        if (vk === undefined) variantsValid = false;
        else if (variantKeys.has(vk)) c.add(at(p, 'key'), `duplicate variant key ${JSON.stringify(vk)}`);
        else variantKeys.add(vk);
        if (!('value' in v) || v.value === undefined) c.add(at(p, 'value'), 'is required');
        else if (type !== undefined && !valueMatchesType(type, v.value))
          c.add(
            at(p, 'value'),
            `must be a ${type === 'json' ? 'JSON value' : type} (flag type ${type}), got ${describe(v.value)}`,
          );
        c.string(v, 'description', p, false, false);
        if (v.weight !== undefined) {
          weighted++;
          const w = c.number(v, 'weight', p, { min: 0, max: 100_000, integer: true });
          if (w !== undefined) weightSum += w;
        }
      });
      if (weighted > 0 && weighted < vs.length) {
        vs.forEach((v, i) => {
          if (isObject(v) && v.weight === undefined)
            c.add(at(idx(vp, i), 'weight'), 'is required when any variant has a weight (experiment)');
        });
      } else if (weighted > 0 && weightSum !== 100_000) {
        c.add(vp, `weights must sum to 100000, got ${weightSum}`);
      }
    }
  } else if (f.value !== undefined) {
    if (type !== undefined && !valueMatchesType(type, f.value))
      c.add(
        at(path, 'value'),
        `must be a ${type === 'json' ? 'JSON value' : type} (flag type ${type}), got ${describe(f.value)}`,
      );
    variantKeys.add('default');
  } else if (type === 'boolean') {
    variantKeys.add('on');
    variantKeys.add('off');
  } else if (type !== undefined) {
    c.add(at(path, 'variants'), `is required for ${type} flags (or give a single value)`);
    variantsValid = false;
  } else {
    variantsValid = false;
  }
  const checkVariantRef = (obj: Obj, field: string, p: string, required: boolean) => {
    const name = c.string(obj, field, p, required);
    if (name !== undefined && variantsValid && !variantKeys.has(name))
      c.add(
        at(p, field),
        `names unknown variant ${JSON.stringify(name)}; variants are ${[...variantKeys].join(', ')}`,
      );
  };
  checkVariantRef(f, 'defaultVariant', path, false);
  checkVariantRef(f, 'offVariant', path, false);

  // Rules.
  if (f.rules !== undefined) {
    const rp = at(path, 'rules');
    if (!Array.isArray(f.rules)) c.add(rp, `must be an array, got ${describe(f.rules)}`);
    else
      f.rules.forEach((rule, i) => {
        const p = idx(rp, i);
        if (!isObject(rule)) {
          c.add(p, `must be an object, got ${describe(rule)}`);
          return;
        }
        if (strict) c.unknownFields(rule, RULE_FIELDS, p);
        c.string(rule, 'id', p, false);
        c.string(rule, 'description', p, false, false);
        checkVariantRef(rule, 'variant', p, true);
        c.percentage(rule, 'rolloutPercentage', p);
        const clauses = rule.clauses;
        const cp = at(p, 'clauses');
        if (clauses === undefined) c.add(cp, 'is required');
        else if (!Array.isArray(clauses)) c.add(cp, `must be an array, got ${describe(clauses)}`);
        else
          clauses.forEach((clause, j) => {
            validateClause(c, clause, idx(cp, j), strict);
          });
      });
  }

  // Canary stages and state.
  const stages = f.stages;
  let stageCount = -1;
  if (stages !== undefined) {
    const sp = at(path, 'stages');
    if (!Array.isArray(stages)) c.add(sp, `must be an array, got ${describe(stages)}`);
    else if (stages.length === 0) c.add(sp, 'must not be empty');
    else {
      stageCount = stages.length;
      let previous = 0;
      stages.forEach((stage, i) => {
        const p = idx(sp, i);
        if (!isObject(stage)) {
          c.add(p, `must be an object, got ${describe(stage)}`);
          return;
        }
        if (strict) c.unknownFields(stage, STAGE_FIELDS, p);
        if (stage.percent === undefined) c.add(at(p, 'percent'), 'is required');
        const pct = c.percentage(stage, 'percent', p);
        if (pct !== undefined) {
          if (pct <= previous)
            c.add(
              at(p, 'percent'),
              i === 0
                ? 'must be greater than 0'
                : `must be greater than the previous stage's ${previous} (stages increase)`,
            );
          previous = Math.max(previous, pct);
        }
        if (stage.minDurationSec === undefined) c.add(at(p, 'minDurationSec'), 'is required');
        c.number(stage, 'minDurationSec', p, { min: 0 });
      });
    }
  }
  if (f.canary !== undefined) {
    const p = at(path, 'canary');
    const cs = f.canary;
    if (stages === undefined) c.add(p, 'needs stages');
    if (!isObject(cs)) c.add(p, `must be an object, got ${describe(cs)}`);
    else {
      if (strict) c.unknownFields(cs, CANARY_FIELDS, p);
      if (cs.stage === undefined) c.add(at(p, 'stage'), 'is required');
      const stage = c.number(cs, 'stage', p, { min: 0, integer: true });
      if (stage !== undefined && stageCount > 0 && stage >= stageCount)
        c.add(at(p, 'stage'), `must index stages (0–${stageCount - 1}), got ${stage}`);
      if (cs.status === undefined) c.add(at(p, 'status'), 'is required');
      else if (typeof cs.status !== 'string' || !CANARY_STATUSES.includes(cs.status))
        c.add(at(p, 'status'), `must be one of ${CANARY_STATUSES.join(', ')}, got ${describe(cs.status)}`);
      const started = cs.stageStartedAt;
      if (started === undefined) c.add(at(p, 'stageStartedAt'), 'is required (null when never started)');
      else if (started !== null && (typeof started !== 'string' || Number.isNaN(parseIsoInstant(started))))
        c.add(
          at(p, 'stageStartedAt'),
          `must be an ISO-8601 date-time with a zone or null, got ${describe(started)}`,
        );
      c.string(cs, 'runId', p, false);
    }
  }
  if (f.policy !== undefined) validatePolicy(c, f.policy, at(path, 'policy'));
  if (f.experiment !== undefined)
    validateExperiment(c, f.experiment, at(path, 'experiment'), variantsValid ? variantKeys : null);

  // Kind: at most one of rollout, canary, experiment.
  const experiment = Array.isArray(vs) && vs.some((v) => isObject(v) && v.weight !== undefined);
  const kinds = [
    rolloutPercentage !== undefined || f.rolloutPercentage !== undefined
      ? 'rollout (rolloutPercentage)'
      : null,
    stages !== undefined ? 'canary (stages)' : null,
    experiment ? 'experiment (variant weights)' : null,
  ].filter((k) => k !== null);
  if (kinds.length > 1)
    c.add(
      path === '' ? '$' : path,
      `a flag is at most one of rollout, canary, experiment; this one is ${kinds.join(' and ')}`,
    );
  if (f.coverage !== undefined && !experiment)
    c.add(at(path, 'coverage'), 'applies only to experiments (variants with weights)');
}

const POLICY_NUMBERS: Record<
  string,
  { min: number; max?: number; integer?: boolean; exclusiveMin?: boolean }
> = {
  errorRateThreshold: { min: 0, max: 100 },
  p99ThresholdMs: { min: 0 },
  consecutiveWindows: { min: 1, integer: true },
  minRequestsPerWindow: { min: 0, integer: true },
  minSampleSize: { min: 0, integer: true },
  alpha: { min: 0, max: 1, exclusiveMin: true },
  windowMs: { min: 0, exclusiveMin: true },
  sampleRatioSigmas: { min: 0 },
};
const GAUGE_NUMBERS = ['heapUsedPercent', 'cpuPercent', 'eventLoopDelayP99Ms', 'dbPoolSaturationPercent'];

function validatePolicy(c: Collector, policy: unknown, path: string): void {
  if (!isObject(policy)) {
    c.add(path, `must be an object, got ${describe(policy)}`);
    return;
  }
  for (const [field, opts] of Object.entries(POLICY_NUMBERS)) c.number(policy, field, path, opts);
  if (policy.gauges !== undefined) {
    const gp = at(path, 'gauges');
    if (!isObject(policy.gauges)) c.add(gp, `must be an object, got ${describe(policy.gauges)}`);
    else for (const g of GAUGE_NUMBERS) c.number(policy.gauges, g, gp, { min: 0 });
  }
}

function validateMetric(c: Collector, m: unknown, path: string): void {
  if (!isObject(m)) {
    c.add(path, `must be an object, got ${describe(m)}`);
    return;
  }
  c.string(m, 'event', path, true);
  c.string(m, 'name', path, false);
  if (m.kind === undefined) c.add(at(path, 'kind'), 'is required');
  else if (typeof m.kind !== 'string' || !METRIC_KINDS.includes(m.kind))
    c.add(at(path, 'kind'), `must be one of ${METRIC_KINDS.join(', ')}, got ${describe(m.kind)}`);
  if (m.direction === undefined) c.add(at(path, 'direction'), 'is required');
  else if (m.direction !== 'increase' && m.direction !== 'decrease')
    c.add(at(path, 'direction'), `must be increase or decrease, got ${describe(m.direction)}`);
}

function validateExperiment(c: Collector, e: unknown, path: string, variantKeys: Set<string> | null): void {
  if (!isObject(e)) {
    c.add(path, `must be an object, got ${describe(e)}`);
    return;
  }
  c.string(e, 'hypothesis', path, false, false);
  if (e.primaryMetric === undefined) c.add(at(path, 'primaryMetric'), 'is required');
  else validateMetric(c, e.primaryMetric, at(path, 'primaryMetric'));
  if (e.secondaryMetrics !== undefined) {
    const sp = at(path, 'secondaryMetrics');
    if (!Array.isArray(e.secondaryMetrics))
      c.add(sp, `must be an array, got ${describe(e.secondaryMetrics)}`);
    else
      e.secondaryMetrics.forEach((m, i) => {
        validateMetric(c, m, idx(sp, i));
      });
  }
  c.number(e, 'minimumDetectableEffect', path, { min: 0, exclusiveMin: true });
  c.number(e, 'alpha', path, { min: 0, max: 1, exclusiveMin: true });
  c.number(e, 'power', path, { min: 0, max: 1, exclusiveMin: true });
  c.number(e, 'minUnitsPerVariant', path, { min: 0, integer: true });
  c.number(e, 'minDurationSec', path, { min: 0 });
  for (const field of ['controlVariant', 'concludedVariant']) {
    const v = e[field];
    if (v === undefined || (v === null && field === 'concludedVariant')) continue;
    const name = c.string(e, field, path, false);
    if (name !== undefined && variantKeys !== null && !variantKeys.has(name))
      c.add(at(path, field), `names unknown variant ${JSON.stringify(name)}`);
  }
  if (e.status !== undefined && e.status !== 'running' && e.status !== 'concluded')
    c.add(at(path, 'status'), `must be running or concluded, got ${describe(e.status)}`);
  if (
    e.startedAt !== undefined &&
    e.startedAt !== null &&
    (typeof e.startedAt !== 'string' || Number.isNaN(parseIsoInstant(e.startedAt)))
  )
    c.add(
      at(path, 'startedAt'),
      `must be an ISO-8601 date-time with a zone or null, got ${describe(e.startedAt)}`,
    );
}

/**
 * Validates a snapshot (already JSON-parsed). Never throws. Unknown properties are tolerated so
 * that a newer control plane can add fields without breaking older SDKs; `schemaVersion` guards
 * incompatible changes. The returned snapshot is the input object itself.
 */
export function parseSnapshot(json: unknown): ParseResult {
  try {
    return parseSnapshotUnsafe(json);
  } catch (e) {
    // Only hostile inputs get here (getters that throw, proxies); report instead of throwing.
    return {
      ok: false,
      errors: [{ path: '$', message: `unreadable snapshot: ${(e as Error)?.message ?? String(e)}` }],
    };
  }
}

function parseSnapshotUnsafe(json: unknown): ParseResult {
  const c = new Collector();
  if (!isObject(json)) {
    c.add('$', `snapshot must be an object, got ${describe(json)}`);
    return { ok: false, errors: c.errors };
  }
  const s = json;
  if (s.schemaVersion === undefined) c.add('schemaVersion', 'is required');
  else if (s.schemaVersion !== SCHEMA_VERSION)
    c.add(
      'schemaVersion',
      `unknown schema version ${describe(s.schemaVersion)}; this SDK reads version ${SCHEMA_VERSION}`,
    );
  c.string(s, 'environment', '', true);
  if (s.revision === undefined) c.add('revision', 'is required');
  c.number(s, 'revision', '', { min: 0, integer: true });
  const checksum = c.string(s, 'checksum', '', true);
  if (checksum !== undefined && !CHECKSUM.test(checksum))
    c.add('checksum', `must be 'sha256:' followed by 64 lowercase hex digits, got ${describe(checksum)}`);
  const generatedAt = c.string(s, 'generatedAt', '', true);
  if (generatedAt !== undefined && Number.isNaN(parseIsoInstant(generatedAt)))
    c.add('generatedAt', `must be an ISO-8601 date-time with a zone, got ${describe(generatedAt)}`);
  c.number(s, 'cacheTtlSec', '', { min: 0 });
  c.number(s, 'metricsWindowMs', '', { min: 0, exclusiveMin: true });
  c.number(s, 'metricsFlushMs', '', { min: 0, exclusiveMin: true });
  if (s.flags === undefined) c.add('flags', 'is required');
  else if (!Array.isArray(s.flags)) c.add('flags', `must be an array, got ${describe(s.flags)}`);
  else {
    const seen = new Map<string, number>();
    s.flags.forEach((flag, i) => {
      const p = idx('flags', i);
      validateFlagInto(c, flag, p, false);
      if (isObject(flag) && typeof flag.key === 'string') {
        const first = seen.get(flag.key);
        if (first !== undefined)
          c.add(at(p, 'key'), `duplicate flag key ${JSON.stringify(flag.key)} (first at flags[${first}])`);
        else seen.set(flag.key, i);
      }
    });
  }
  return c.errors.length === 0
    ? { ok: true, snapshot: s as unknown as Snapshot }
    : { ok: false, errors: c.errors };
}
