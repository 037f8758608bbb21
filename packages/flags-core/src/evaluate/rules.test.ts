import { describe, expect, it } from 'vitest';
import type { Clause } from '../snapshot/types';
import { compileClause, compileRuleMatch } from './rules';
import { compareSemver, parseSemver } from './semver';
import { instantOf } from './time';

const clause = (op: Clause['op'], values: Clause['values'], negate?: boolean): Clause => ({
  attribute: 'a',
  op,
  values,
  ...(negate === undefined ? {} : { negate }),
});
const matches = (c: Clause, a: unknown) => compileClause(c)(a === undefined ? {} : { a });

describe('clause operators', () => {
  const table: [Clause['op'], Clause['values'], unknown, boolean][] = [
    ['in', ['x', 'y'], 'y', true],
    ['in', ['x', 'y'], 'z', false],
    ['in', [1, 2], '1', false],
    ['in', [true], true, true],
    ['not_in', ['x', 'y'], 'z', true],
    ['not_in', ['x', 'y'], 'x', false],
    ['eq', ['x'], 'x', true],
    ['eq', [3], 3, true],
    ['eq', [3], 4, false],
    ['neq', ['x'], 'y', true],
    ['neq', ['x'], 'x', false],
    ['lt', [10], 9.5, true],
    ['lt', [10], 10, false],
    ['lt', [10], '9', false],
    ['lte', [10], 10, true],
    ['gt', [10], 10.1, true],
    ['gt', [10, 20], 15, true],
    ['gte', [10], 10, true],
    ['gte', [10], 9, false],
    ['starts_with', ['ab', 'x'], 'abc', true],
    ['starts_with', ['b'], 'abc', false],
    ['ends_with', ['bc'], 'abc', true],
    ['ends_with', ['bc'], 5, false],
    ['contains', ['@corp.'], 'me@corp.com', true],
    ['contains', ['@corp.'], 'me@home.com', false],
    ['matches', ['^[a-z]+@example\\.com$'], 'bob@example.com', true],
    ['matches', ['^[a-z]+@example\\.com$'], 'bob@example.org', false],
    ['matches', ['\\d'], 7, false],
    ['semver_eq', ['1.2.3'], 'v1.2.3+build.7', true],
    ['semver_eq', ['1.2.3'], '1.2.4', false],
    ['semver_lt', ['2.0.0'], '2.0.0-rc.1', true],
    ['semver_lt', ['2.0.0'], '2.0.0', false],
    ['semver_gt', ['1.9.9'], '1.10.0', true],
    ['semver_gt', ['1.0.0'], 'not-a-version', false],
    ['before', ['2026-01-01T00:00:00Z'], '2025-12-31T23:59:59Z', true],
    ['before', ['2026-01-01T00:00:00Z'], '2026-01-01T00:00:00Z', false],
    ['before', [1_000], 999, true],
    ['after', ['2026-01-01'], new Date('2026-01-02T00:00:00Z'), true],
    ['after', ['2026-01-01'], '2026-01-01T01:00:00+02:00', false],
    ['after', ['2026-01-01'], 'garbage', false],
  ];
  it.each(table)('%s %j on %j → %s', (op, values, attribute, expected) => {
    expect(matches(clause(op, values), attribute)).toBe(expected);
  });

  it('negate flips a present attribute, never a missing one', () => {
    expect(matches(clause('eq', ['x'], true), 'x')).toBe(false);
    expect(matches(clause('eq', ['x'], true), 'y')).toBe(true);
    expect(matches(clause('not_in', ['x'], true), 'x')).toBe(true);
    for (const op of ['eq', 'neq', 'in', 'not_in', 'lt', 'contains', 'semver_gt', 'after'] as const) {
      expect(matches(clause(op, [1]), undefined)).toBe(false);
      expect(matches(clause(op, [1], true), undefined)).toBe(false);
      expect(compileClause(clause(op, [1], true))({ a: null })).toBe(false);
    }
  });

  it('array attributes match when any element does (neq / not_in: when none does)', () => {
    expect(matches(clause('in', ['admin']), ['user', 'admin'])).toBe(true);
    expect(matches(clause('in', ['admin']), ['user'])).toBe(false);
    expect(matches(clause('not_in', ['admin']), ['user', 'admin'])).toBe(false);
    expect(matches(clause('not_in', ['admin']), ['user'])).toBe(true);
    expect(matches(clause('starts_with', ['beta-']), ['x', 'beta-1'])).toBe(true);
  });

  it('rules AND their clauses; no clauses matches everything', () => {
    const rule = compileRuleMatch({
      clauses: [
        { attribute: 'country', op: 'in', values: ['SE'] },
        { attribute: 'age', op: 'gte', values: [18] },
        { attribute: 'email', op: 'ends_with', values: ['@corp.se'], negate: true },
      ],
    });
    expect(rule({ country: 'SE', age: 30, email: 'a@b.se' })).toBe(true);
    expect(rule({ country: 'SE', age: 30, email: 'a@corp.se' })).toBe(false);
    expect(rule({ country: 'SE', age: 17, email: 'a@b.se' })).toBe(false);
    expect(rule({ country: 'SE', age: 30 })).toBe(false);
    expect(compileRuleMatch({ clauses: [] })({})).toBe(true);
    const two = compileRuleMatch({ clauses: [clause('eq', [1]), { attribute: 'b', op: 'eq', values: [2] }] });
    expect([two({ a: 1, b: 2 }), two({ a: 1, b: 3 })]).toEqual([true, false]);
  });

  it('an unvalidated bad regex or version never matches instead of throwing', () => {
    expect(matches(clause('matches', ['(']), '(')).toBe(false);
    expect(matches(clause('semver_eq', ['x']), '1.0.0')).toBe(false);
    expect(matches(clause('before', ['x']), 0)).toBe(false);
    expect(matches(clause('lt', ['x']), 0)).toBe(false);
  });
});

describe('semver precedence (semver.org §11)', () => {
  it('orders the specification’s example chain', () => {
    const chain = [
      '1.0.0-alpha',
      '1.0.0-alpha.1',
      '1.0.0-alpha.beta',
      '1.0.0-beta',
      '1.0.0-beta.2',
      '1.0.0-beta.11',
      '1.0.0-rc.1',
      '1.0.0',
      '2.0.0',
      '2.1.0',
      '2.1.1',
    ].map((v) => parseSemver(v)!);
    for (let i = 0; i < chain.length; i++)
      for (let j = 0; j < chain.length; j++)
        expect(Math.sign(compareSemver(chain[i]!, chain[j]!))).toBe(Math.sign(i - j));
  });

  it('rejects malformed versions', () => {
    for (const v of ['1', '1.2', '1.2.3.4', '01.2.3', '1.2.3-', '1.2.3-01', 'a.b.c', ' 1.2.3'])
      expect(parseSemver(v)).toBeNull();
  });
});

describe('instants', () => {
  it('reads ISO strings with zones, epoch ms and Dates', () => {
    expect(instantOf('2026-01-01')).toBe(Date.UTC(2026, 0, 1));
    expect(instantOf('2026-01-01T02:00:00+02:00')).toBe(Date.UTC(2026, 0, 1));
    expect(instantOf(5)).toBe(5);
    expect(instantOf(new Date(7))).toBe(7);
    expect(instantOf('2026-01-01T00:00:00')).toBeNaN();
    expect(instantOf(Number.POSITIVE_INFINITY)).toBeNaN();
    expect(instantOf({})).toBeNaN();
  });
});
