// Attribute rules compiled once into closures: lists become Sets, regexes and versions are parsed
// once, numeric bounds are reduced to one comparison. Clause semantics (issue 3 §5): a missing (or
// null) attribute makes the clause false whatever `negate` says; a clause with several values
// matches when any value does (`neq`/`not_in`: when none does); an array attribute matches when any
// of its elements does.
import type { Clause, Rule } from '../snapshot/types';
import { compareSemver, parseSemver, type Semver } from './semver';
import { instantOf, parseIsoInstant } from './time';

export type Context = Record<string, unknown>;
export type Predicate = (ctx: Context) => boolean;
type Test = (value: unknown) => boolean;

const never: Test = () => false;

function numbers(values: Clause['values']): number[] {
  return values.filter((v): v is number => typeof v === 'number');
}

function strings(values: Clause['values']): string[] {
  return values.filter((v): v is string => typeof v === 'string');
}

function instants(values: Clause['values']): number[] {
  return values
    .map((v) => (typeof v === 'number' ? v : typeof v === 'string' ? parseIsoInstant(v) : Number.NaN))
    .filter((t) => !Number.isNaN(t));
}

function semverTest(values: Clause['values'], accept: (cmp: number) => boolean): Test {
  const versions = strings(values)
    .map(parseSemver)
    .filter((v): v is Semver => v !== null);
  if (versions.length === 0) return never;
  return (v) => {
    if (typeof v !== 'string') return false;
    const actual = parseSemver(v);
    if (actual === null) return false;
    for (let i = 0; i < versions.length; i++) if (accept(compareSemver(actual, versions[i]!))) return true;
    return false;
  };
}

/** The positive test of an operator on one scalar attribute value (`neq`/`not_in` are negated by the caller). */
function positiveTest(op: Clause['op'], values: Clause['values']): Test {
  switch (op) {
    case 'in':
    case 'not_in':
    case 'eq':
    case 'neq': {
      if (values.length === 1) {
        const only = values[0];
        return (v) => v === only;
      }
      const set = new Set<unknown>(values);
      return (v) => set.has(v);
    }
    case 'lt':
    case 'lte': {
      const ns = numbers(values);
      if (ns.length === 0) return never;
      const max = Math.max(...ns);
      return op === 'lt' ? (v) => typeof v === 'number' && v < max : (v) => typeof v === 'number' && v <= max;
    }
    case 'gt':
    case 'gte': {
      const ns = numbers(values);
      if (ns.length === 0) return never;
      const min = Math.min(...ns);
      return op === 'gt' ? (v) => typeof v === 'number' && v > min : (v) => typeof v === 'number' && v >= min;
    }
    case 'starts_with':
    case 'ends_with':
    case 'contains': {
      const ss = strings(values);
      const method = op === 'starts_with' ? 'startsWith' : op === 'ends_with' ? 'endsWith' : 'includes';
      return (v) => {
        if (typeof v !== 'string') return false;
        for (let i = 0; i < ss.length; i++) if (v[method](ss[i]!)) return true;
        return false;
      };
    }
    case 'matches': {
      const res: RegExp[] = [];
      for (const pattern of strings(values)) {
        try {
          res.push(new RegExp(pattern)); // no `g` flag: test() stays stateless
        } catch {
          // rejected by validation; an unvalidated bad pattern never matches
        }
      }
      if (res.length === 0) return never;
      return (v) => {
        if (typeof v !== 'string') return false;
        for (let i = 0; i < res.length; i++) if (res[i]!.test(v)) return true;
        return false;
      };
    }
    case 'semver_eq':
      return semverTest(values, (c) => c === 0);
    case 'semver_lt':
      return semverTest(values, (c) => c < 0);
    case 'semver_gt':
      return semverTest(values, (c) => c > 0);
    case 'before':
    case 'after': {
      const ts = instants(values);
      if (ts.length === 0) return never;
      if (op === 'before') {
        const max = Math.max(...ts);
        return (v) => instantOf(v) < max;
      }
      const min = Math.min(...ts);
      return (v) => instantOf(v) > min;
    }
    default:
      return never;
  }
}

/** Compiles one clause to a predicate over the context. */
export function compileClause(clause: Clause): Predicate {
  const attribute = clause.attribute;
  const test = positiveTest(clause.op, clause.values);
  // neq / not_in are the negation of eq / in; `negate` flips once more.
  const flip = (clause.op === 'neq' || clause.op === 'not_in') !== (clause.negate === true);
  return (ctx) => {
    const v = ctx[attribute];
    if (v === undefined || v === null) return false;
    let hit = false;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        if (test(v[i])) {
          hit = true;
          break;
        }
      }
    } else hit = test(v);
    return hit !== flip;
  };
}

/** Compiles a rule's clauses (ANDed; no clauses matches everyone). */
export function compileRuleMatch(rule: Pick<Rule, 'clauses'>): Predicate {
  const clauses = rule.clauses.map(compileClause);
  if (clauses.length === 0) return () => true;
  if (clauses.length === 1) return clauses[0]!;
  if (clauses.length === 2) {
    const [a, b] = clauses as [Predicate, Predicate];
    return (ctx) => a(ctx) && b(ctx);
  }
  return (ctx) => {
    for (let i = 0; i < clauses.length; i++) if (!clauses[i]!(ctx)) return false;
    return true;
  };
}
