import { describe, expect, it } from 'vitest';
import { CONTEXT_HEADERS, defaultRequestContext } from '../src/index';

describe('defaultRequestContext', () => {
  it('reads every header of CONTEXT_HEADERS into its attribute, and nothing else', () => {
    expect(Object.keys(CONTEXT_HEADERS).length).toBeGreaterThan(0);
    expect(Object.isFrozen(CONTEXT_HEADERS)).toBe(true);
    for (const [header, attribute] of Object.entries(CONTEXT_HEADERS)) {
      const ctx = defaultRequestContext({ headers: { [header]: `v-${header}`, 'x-other': 'no' } });
      expect(ctx).toEqual({ [attribute]: `v-${header}` });
    }
    const all = Object.fromEntries(Object.keys(CONTEXT_HEADERS).map((h) => [h, `v-${h}`]));
    expect(defaultRequestContext({ headers: all })).toEqual(
      Object.fromEntries(Object.entries(CONTEXT_HEADERS).map(([h, a]) => [a, `v-${h}`])),
    );
  });

  it('takes the first of repeated values and treats an empty value as none', () => {
    for (const [header, attribute] of Object.entries(CONTEXT_HEADERS)) {
      expect(defaultRequestContext({ headers: { [header]: ['first', 'second'] } })).toEqual({
        [attribute]: 'first',
      });
      expect(defaultRequestContext({ headers: { [header]: '' } })).toEqual({});
      expect(defaultRequestContext({ headers: { [header]: [''] } })).toEqual({});
    }
  });

  it('prefers req.user.id (as a string) over the x-user-id header', () => {
    expect(
      defaultRequestContext({ user: { id: 42 }, headers: { 'x-user-id': 'h', 'x-org-id': 'o' } }),
    ).toEqual({
      userId: '42',
      orgId: 'o',
    });
    expect(defaultRequestContext({ user: { id: null }, headers: { 'x-user-id': 'h' } })).toEqual({
      userId: 'h',
    });
    expect(defaultRequestContext({ user: {}, headers: {} })).toEqual({});
  });
});
