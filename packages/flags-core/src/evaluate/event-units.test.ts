import { describe, expect, it } from 'vitest';
import { eventUnitKeys, experimentUnitAttributes } from './event-units';

const experiment = (bucketBy?: string) => ({
  ...(bucketBy === undefined ? {} : { bucketBy }),
  variants: [
    { key: 'control', value: 'control', weight: 50_000 },
    { key: 'variant_a', value: 'variant_a', weight: 50_000 },
  ],
});

describe('experimentUnitAttributes', () => {
  it("is each experiment's bucketBy (userId by default), once each, in the order first seen", () => {
    const flags = [experiment('orgId'), experiment(), experiment('orgId'), experiment('sessionId')];
    expect(experimentUnitAttributes(flags)).toEqual(['orgId', 'userId', 'sessionId']);
  });

  it('leaves out flags that are not experiments (no weighted variants), and is userId without any', () => {
    const plain = { bucketBy: 'orgId' };
    const unweighted = { bucketBy: 'deviceId', variants: [{ key: 'a', value: 'a' }] };
    expect(experimentUnitAttributes([plain, unweighted, experiment('sessionId')])).toEqual(['sessionId']);
    expect(experimentUnitAttributes([plain, unweighted])).toEqual(['userId']);
    expect(experimentUnitAttributes([])).toEqual(['userId']);
  });
});

describe('eventUnitKeys', () => {
  const attributes = ['userId', 'orgId', 'sessionId'];

  it("is the context's unit for each attribute, as bucketing reads them, each value once", () => {
    expect(eventUnitKeys({ userId: 'u-1', orgId: 'o-7', plan: 'pro' }, attributes)).toEqual(['u-1', 'o-7']);
    // A number is a unit (as the bucketing hash reads it); empty strings, booleans and objects are not.
    expect(eventUnitKeys({ userId: 42, orgId: '', sessionId: true }, attributes)).toEqual(['42']);
    expect(eventUnitKeys({ userId: 'same', orgId: 'same' }, attributes)).toEqual(['same']);
    expect(eventUnitKeys({ userId: 'u-1', orgId: { id: 'o-7' } }, attributes)).toEqual(['u-1']);
  });

  it('is ctx.unitKey alone when the caller names the unit', () => {
    expect(eventUnitKeys({ unitKey: 'o-7', userId: 'u-1' }, attributes)).toEqual(['o-7']);
    expect(eventUnitKeys({ unitKey: 7, userId: 'u-1' }, attributes)).toEqual(['7']);
    // An empty unitKey names nothing: the attributes count.
    expect(eventUnitKeys({ unitKey: '', userId: 'u-1' }, attributes)).toEqual(['u-1']);
  });

  it('is empty when the context names no unit of these attributes', () => {
    expect(eventUnitKeys({ plan: 'pro' }, attributes)).toEqual([]);
    expect(eventUnitKeys({ userId: 'u-1' }, ['orgId'])).toEqual([]);
  });
});
