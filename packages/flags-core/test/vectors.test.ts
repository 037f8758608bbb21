// The golden test vectors (test-vectors/*.json) are the cross-language contract: this file checks
// the implementation against them, and checks the hash vectors against an independent byte-level
// reference and the murmurhash3js oracle so that a wrong vector cannot pass unnoticed.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import murmurhash3js from 'murmurhash3js';
import { describe, expect, it } from 'vitest';
import { createEvaluator } from '../src/evaluate/index';
import { bucketOf, murmurHash3, saltSeed, variantBucketOf, variantSeed } from '../src/hash/index';
import { parseSnapshot } from '../src/snapshot/index';
import type { EvaluationContext } from '../src/snapshot/types';
import { referenceBucket, referenceMurmur, referenceMurmurBytes } from './reference-murmur';
import { expectedOf } from './vector-cases';

const load = <T>(name: string): T =>
  JSON.parse(readFileSync(fileURLToPath(new URL(`../test-vectors/${name}`, import.meta.url)), 'utf8')) as T;

interface MurmurCase {
  input: string;
  utf8: string;
  seed: number;
  hash: number;
}
interface BucketCase {
  salt: string;
  unitKey: string;
  saltSeed: number;
  variantSeed: number;
  bucket: number;
  variantBucket: number;
}
interface EvaluationScenario {
  name: string;
  snapshot: unknown;
  cases: {
    flag: string;
    context: EvaluationContext | null;
    expected: Record<string, unknown>;
    note?: string;
  }[];
}

const isAscii = (s: string) => [...s].every((ch) => ch.charCodeAt(0) < 0x80);

const murmur = load<{ cases: MurmurCase[] }>('murmur3.json').cases;
const buckets = load<{ cases: BucketCase[] }>('bucket.json').cases;
const scenarios = load<{ scenarios: EvaluationScenario[] }>('evaluation.json').scenarios;

describe('murmur3.json', () => {
  it('covers empty, non-ASCII, astral, lone-surrogate and long inputs', () => {
    const inputs = murmur.map((c) => c.input);
    expect(inputs).toContain('');
    expect(inputs.some((s) => !isAscii(s))).toBe(true);
    expect(inputs.some((s) => /[\ud800-\udbff][\udc00-\udfff]/.test(s))).toBe(true);
    expect(inputs.some((s) => s.length >= 1000)).toBe(true);
    expect(murmur.length).toBeGreaterThan(80);
  });

  it.each(murmur.map((c) => [c.input.slice(0, 24), c.seed, c] as const))('%j seed %d', (_label, _seed, c) => {
    expect(murmurHash3(c.input, c.seed)).toBe(c.hash);
    const bytes = Uint8Array.from(Buffer.from(c.utf8, 'hex'));
    expect(Buffer.from(new TextEncoder().encode(c.input)).toString('hex')).toBe(c.utf8);
    expect(referenceMurmurBytes(bytes, c.seed)).toBe(c.hash);
    // The oracle reads char codes as bytes, so it only applies to ASCII.
    if (isAscii(c.input)) expect(murmurhash3js.x86.hash32(c.input, c.seed)).toBe(c.hash);
  });
});

describe('bucket.json', () => {
  it.each(buckets.map((c) => [c.salt, c.unitKey.slice(0, 24), c] as const))(
    'salt %j unit %j',
    (_s, _u, c) => {
      expect(saltSeed(c.salt)).toBe(c.saltSeed);
      expect(variantSeed(c.salt)).toBe(c.variantSeed);
      expect(bucketOf(c.salt, c.unitKey)).toBe(c.bucket);
      expect(variantBucketOf(c.salt, c.unitKey)).toBe(c.variantBucket);
      expect(referenceMurmur(c.salt, 0)).toBe(c.saltSeed);
      expect(referenceBucket(c.salt, c.unitKey)).toBe(c.bucket);
      expect(referenceBucket(c.salt + ':variant', c.unitKey)).toBe(c.variantBucket);
    },
  );
});

describe('evaluation.json', () => {
  it('covers every reason and cohort', () => {
    const seen = new Set(
      scenarios.flatMap((s) => s.cases.flatMap((c) => [c.expected.reason, c.expected.cohort])),
    );
    for (const x of [
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
    ])
      expect(seen.has(x), x).toBe(true);
    for (const x of ['treatment', 'control', 'none']) expect(seen.has(x), x).toBe(true);
  });

  describe.each(scenarios.map((s) => [s.name, s] as const))('%s', (_name, scenario) => {
    const parsed = parseSnapshot(scenario.snapshot);
    it('parses', () => expect(parsed).toMatchObject({ ok: true }));
    if (!parsed.ok) return;
    const evaluator = createEvaluator(parsed.snapshot);
    it.each(scenario.cases.map((c, i) => [i, c.flag, c] as const))('#%d %s', (_i, _flag, c) => {
      const result = evaluator.evaluate(c.flag, c.context);
      expect(expectedOf(result)).toEqual(c.expected);
      expect(evaluator.isEnabled(c.flag, c.context)).toBe(c.expected.enabled);
      expect(evaluator.variant(c.flag, c.context)).toBe(c.expected.variant);
    });
  });
});
