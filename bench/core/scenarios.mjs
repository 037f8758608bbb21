// The five evaluation scenarios of issue 3 §4, defined once; every adapter translates them into its
// own product's flag format. Inputs are deterministic (seeded), identical for every product.
import { prng } from '../lib/stats.mjs';

export const USER_COUNT = 100_000;
export const S5_FLAG_COUNT = 1000;
/** Random flag-key sequence of S5 (cycled), a power of two so the cursor wraps with a mask. */
export const KEY_SEQUENCE_LENGTH = 1 << 16;

function uuid(rand) {
  let hex = '';
  for (let i = 0; i < 32; i++) hex += Math.floor(rand() * 16).toString(16);
  // Shape of a v4 UUID: the usual user id of a modern service (36 ASCII characters).
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/**
 * The two shapes of user id every scenario runs with: 36-character UUIDs, and 10-character ids
 * (`u` and nine digits, a numeric account id with a prefix). Hashing the unit key is most of an
 * evaluation's cost, and it grows with the key's length, so both are reported.
 */
export const ID_SHAPES = {
  uuid: { label: '36-character UUIDs', length: 36 },
  short: { label: "10-character ids ('u' + 9 digits)", length: 10 },
};

export function userIds(shape = 'uuid') {
  if (!ID_SHAPES[shape]) throw new Error(`unknown id shape ${shape}`);
  const rand = prng(20261125);
  const seen = new Set();
  const ids = [];
  while (ids.length < USER_COUNT) {
    const id = shape === 'uuid' ? uuid(rand) : `u${String(Math.floor(rand() * 1e9)).padStart(9, '0')}`;
    if (seen.has(id)) continue; // distinct by construction
    seen.add(id);
    ids.push(id);
  }
  // Flat strings, as ids parsed from a request or a JSON body are (built-up strings are ropes in V8,
  // which would penalise every product's character reads).
  return JSON.parse(JSON.stringify(ids));
}

/** S3's allow list: 100 of the 100k users (every 1000th), so the allow-list path is really taken. */
export function allowListIds(ids) {
  const out = [];
  for (let i = 0; i < ids.length && out.length < 100; i += 1000) out.push(ids[i]);
  return out;
}

/**
 * S5's 1,000 flags. `rollout` (S5, the scenario): every flag a percentage rollout on userId
 * like S2's (10, 25, 50 or 75%, each flag its own salt). That is the setup the reference
 * figures imply: there flagd-core's, GrowthBookClient's and unleash-client's S5 cost 1.42, 1.19 and
 * 1.15× their S2; in this harness with these flags and UUIDs 1.45, 1.25 and 1.22×, while with the mix
 * below 0.75, 0.96 and 1.01× (2026-11-26, Intel host). `mix` (S5m, an extra row kept from the earlier
 * runs, not in the issue): i % 4 = 0 fully on, 1 a 25% rollout, 2 a 50% rollout, 3 switched off (kill
 * switch), expected share of `true` over uniform keys 43.75%.
 */
export function s5Flags(composition = 'rollout') {
  const flags = [];
  for (let i = 0; i < S5_FLAG_COUNT; i++) {
    const key = `feature.bench-${String(i).padStart(4, '0')}`;
    if (composition === 'rollout') {
      flags.push({ key, kind: 'rollout', percent: [10, 25, 50, 75][i % 4] });
      continue;
    }
    const kind = ['on', 'rollout', 'rollout', 'off'][i % 4];
    flags.push({ key, kind, percent: kind === 'on' ? 100 : kind === 'off' ? 0 : i % 4 === 1 ? 25 : 50 });
  }
  // The keys as an application passes them: string literals in its code, which V8 internalizes when
  // it parses them. Keys built at run time are not (a property-name lookup first has to find their
  // internalized twin, and comparisons V8 saw on them stay generic character comparisons for good);
  // an object's own property names are the internalized strings. Same keys for every product.
  const literal = Object.keys(Object.fromEntries(flags.map((f) => [f.key, true])));
  for (let i = 0; i < flags.length; i++) flags[i].key = literal[i];
  return flags;
}

/** The flags of a scenario that has 1,000 of them (S5, S5m), else none. */
export function manyFlags(scenario) {
  if (scenario.id === 'S5') return s5Flags('rollout');
  if (scenario.id === 'S5m') return s5Flags('mix');
  return null;
}

export function keySequence() {
  const rand = prng(42);
  const seq = new Uint16Array(KEY_SEQUENCE_LENGTH);
  for (let i = 0; i < seq.length; i++) seq[i] = Math.floor(rand() * S5_FLAG_COUNT);
  return seq;
}

export const scenarios = {
  S1: { id: 'S1', title: 'boolean on', api: 'isEnabled', key: 'feature.s1-on' },
  S2: { id: 'S2', title: '25% rollout on userId', api: 'isEnabled', key: 'feature.s2-rollout', percent: 25 },
  S3: {
    id: 'S3',
    title: '100-id allow list, then 10%',
    api: 'isEnabled',
    key: 'feature.s3-allow',
    percent: 10,
  },
  S4: { id: 'S4', title: '50/50 variant', api: 'variant', key: 'experiment.s4-split' },
  S5: { id: 'S5', title: '1,000 flags, random key per call', api: 'isEnabled' },
  S5m: {
    id: 'S5m',
    title: '1,000 flags of mixed kinds, random key per call (extra, not in the issue)',
    api: 'isEnabled',
  },
};

/**
 * The share every correct product must return over one pass of the 100k users (the correctness
 * guard: a product that evaluates nothing, or evaluates the wrong thing, fails it).
 */
export function expectedShare(scenario, ids, seq, flags) {
  switch (scenario.id) {
    case 'S1':
      return 1;
    case 'S2':
      return 0.25;
    case 'S3':
      return 100 / ids.length + 0.1 * (1 - 100 / ids.length);
    case 'S4':
      return 0.5;
    case 'S5':
    case 'S5m': {
      let sum = 0;
      for (let i = 0; i < ids.length; i++) sum += flags[seq[i & (KEY_SEQUENCE_LENGTH - 1)]].percent / 100;
      return sum / ids.length;
    }
    default:
      throw new Error(`unknown scenario ${scenario.id}`);
  }
}
