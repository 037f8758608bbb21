// Regenerates the golden test vectors in test-vectors/*.json from the implementation:
//   npx tsx packages/flags-core/test/generate-vectors.ts
// Review the diff before committing: the vectors are the public bucketing/evaluation contract, so a
// change here is a breaking change for every SDK. test/vectors.test.ts checks the committed files.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { bucketOf, murmurHash3, saltSeed, variantBucketOf, variantSeed } from '../src/hash/index';
import { createEvaluator } from '../src/evaluate/index';
import type { EvaluationContext, Flag, Snapshot } from '../src/snapshot/types';
import { murmurInputs, bucketSalts, bucketUnitKeys, evaluationScenarios, expectedOf } from './vector-cases';

const dir = (name: string) => fileURLToPath(new URL(`../test-vectors/${name}`, import.meta.url));
const utf8Hex = (s: string) => Buffer.from(s, 'utf8').toString('hex');
const write = (name: string, data: unknown) => writeFileSync(dir(name), JSON.stringify(data, null, 2) + '\n');

const seeds = [0, 1, 0x9747b28c, 0xffffffff];
write('murmur3.json', {
  description:
    'MurmurHash3 x86_32 of the UTF-8 bytes of `input` with `seed`; `hash` is unsigned. `utf8` is the hex of the bytes hashed (lone surrogates are encoded as U+FFFD, like TextEncoder).',
  cases: murmurInputs.flatMap((input) =>
    seeds.map((seed) => ({ input, utf8: utf8Hex(input), seed, hash: murmurHash3(input, seed) })),
  ),
});

write('bucket.json', {
  description:
    'saltSeed = murmur3(utf8(salt), 0); bucket = floor(murmur3(utf8(unitKey), saltSeed) * 100000 / 2^32); variantSeed = murmur3(utf8(salt + ":variant"), 0); variantBucket likewise with variantSeed.',
  cases: bucketSalts.flatMap((salt) =>
    bucketUnitKeys.map((unitKey) => ({
      salt,
      unitKey,
      saltSeed: saltSeed(salt),
      variantSeed: variantSeed(salt),
      bucket: bucketOf(salt, unitKey),
      variantBucket: variantBucketOf(salt, unitKey),
    })),
  ),
});

write('evaluation.json', {
  description:
    'For each scenario, compile `snapshot` and evaluate each case: `flag` with `context`. `expected` lists enabled, variant (null = caller fallback), value (absent = caller fallback), reason, and when present cohort, inExperiment, ruleIndex, errorCode. key/revision/errorMessage are not part of the comparison.',
  scenarios: evaluationScenarios.map(({ name, flags, cases }) => {
    const snapshot: Snapshot = {
      schemaVersion: 1,
      environment: 'test',
      revision: 1,
      checksum: 'sha256:' + '0'.repeat(64),
      generatedAt: '2026-11-25T00:00:00Z',
      flags: flags as unknown as Flag[],
    };
    const evaluator = createEvaluator(snapshot);
    return {
      name,
      snapshot,
      cases: cases.map(([flag, context, note]) => ({
        ...(note ? { note } : {}),
        flag,
        context,
        expected: expectedOf(evaluator.evaluate(flag, context as EvaluationContext)),
      })),
    };
  }),
});
