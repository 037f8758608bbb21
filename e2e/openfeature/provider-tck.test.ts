// Runs every scenario of the OpenFeature provider TCK (vendored in ./provider-tck from ../shared/conformance)
// against @rupaya/openfeature-provider over a real control plane seeded with the canonical flags in
// an environment named `default`. Feature files are parsed with @cucumber/gherkin; the steps are
// driven here. A scenario whose capability tag the provider does not declare must be listed, with its
// reason, in the provider's README — that is what its test checks.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { AstBuilder, compile, GherkinClassicTokenMatcher, Parser } from '@cucumber/gherkin';
import { IdGenerator, type Pickle } from '@cucumber/messages';
import {
  type EvaluationContext,
  type EvaluationDetails,
  type JsonValue,
  OpenFeature,
} from '@openfeature/server-sdk';
import { createClient, type FlagsClient } from '@rupaya/flags-node';
import { RupayaProvider } from '@rupaya/openfeature-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminApi, PLANE_TIMEOUT_MS, type Plane, removeDir, silent, startPlane } from '../sdk/plane';
import { canonicalFlags, KEY_PREFIX, SHARED_TCK_DIR, TCK_DIR } from './canonical-flags';

/** Capabilities this provider declares (tags of the TCK's Appendix F). */
const DECLARED = new Set([
  '@object',
  '@variants',
  '@large-integers',
  '@disabled-flags',
  '@targeting',
  '@standard-reasons',
]);

const README = readFileSync(
  fileURLToPath(new URL('../../packages/openfeature-provider/README.md', import.meta.url)),
  'utf8',
);

function loadPickles(): { feature: string; pickle: Pickle }[] {
  const out: { feature: string; pickle: Pickle }[] = [];
  for (const file of readdirSync(TCK_DIR)
    .filter((f) => f.endsWith('.feature'))
    .sort()) {
    const newId = IdGenerator.incrementing();
    const parser = new Parser(new AstBuilder(newId), new GherkinClassicTokenMatcher());
    const doc = parser.parse(readFileSync(TCK_DIR + file, 'utf8'));
    for (const pickle of compile(doc, file, newId)) out.push({ feature: file, pickle });
  }
  return out;
}

type FlagType = 'Boolean' | 'String' | 'Integer' | 'Float' | 'Object';

function parseTyped(type: FlagType, raw: string): JsonValue {
  switch (type) {
    case 'Boolean':
      if (raw !== 'true' && raw !== 'false') throw new Error(`not a boolean: ${raw}`);
      return raw === 'true';
    case 'Integer':
      return Number.parseInt(raw, 10);
    case 'Float':
      return Number.parseFloat(raw);
    case 'Object':
      return JSON.parse(raw) as JsonValue;
    case 'String':
      return raw;
  }
}

interface World {
  type?: FlagType;
  key?: string;
  defaultValue?: JsonValue;
  context?: EvaluationContext;
  details?: EvaluationDetails<JsonValue>;
  thrown?: unknown;
}

let plane: Plane;
let flagsClient: FlagsClient;
const DOMAIN = 'rupaya-tck';

async function evaluate(world: World): Promise<void> {
  const client = OpenFeature.getClient(DOMAIN);
  const { key, defaultValue, context } = world;
  try {
    switch (world.type) {
      case 'Boolean':
        world.details = await client.getBooleanDetails(key!, defaultValue as boolean, context);
        break;
      case 'String':
        world.details = await client.getStringDetails(key!, defaultValue as string, context);
        break;
      // JavaScript has one number type: Integer and Float both resolve through getNumberDetails.
      case 'Integer':
      case 'Float':
        world.details = await client.getNumberDetails(key!, defaultValue as number, context);
        break;
      case 'Object':
        world.details = await client.getObjectDetails(key!, defaultValue as JsonValue, context);
        break;
      default:
        throw new Error('no flag given before evaluation');
    }
  } catch (err) {
    world.thrown = err;
  }
}

async function runStep(world: World, text: string, table: string[][] | undefined): Promise<void> {
  let m: RegExpMatchArray | null;
  if (text === 'a stable provider') {
    expect(flagsClient.state).toBe('READY');
    return;
  }
  if (
    (m = text.match(
      /^a (Boolean|String|Integer|Float|Object)-flag with key "(.*)" and a default value "(.*)"$/,
    ))
  ) {
    world.type = m[1] as FlagType;
    world.key = m[2]!;
    world.defaultValue = parseTyped(world.type, m[3]!);
    return;
  }
  if ((m = text.match(/^a context containing a targeting key with value "(.*)"$/))) {
    world.context = { ...world.context, targetingKey: m[1]! };
    return;
  }
  if (text === 'the flag was evaluated with details') {
    await evaluate(world);
    return;
  }
  const d = world.details;
  if ((m = text.match(/^the resolved details value should be "(.*)"$/))) {
    expect(d?.value).toStrictEqual(parseTyped(world.type!, m[1]!));
    return;
  }
  if ((m = text.match(/^the reason should be "(.*)"$/))) {
    expect(d?.reason).toBe(m[1]);
    return;
  }
  if ((m = text.match(/^the error-code should be "(.*)"$/))) {
    expect(d?.errorCode ?? '').toBe(m[1]);
    return;
  }
  if (text === 'the error message should be empty') {
    expect(d?.errorMessage ?? '').toBe('');
    return;
  }
  if ((m = text.match(/^the variant should be "(.*)"$/))) {
    expect(d?.variant).toBe(m[1]);
    return;
  }
  if (text === 'no exception should have been thrown') {
    expect(world.thrown).toBeUndefined();
    return;
  }
  if (text === 'the resolved object value should contain') {
    const [header, ...rows] = table ?? [];
    expect(header).toEqual(['key', 'type', 'value']);
    const value = d?.value as Record<string, JsonValue>;
    for (const [k, type, raw] of rows) expect(value[k!]).toStrictEqual(parseTyped(type as FlagType, raw!));
    return;
  }
  throw new Error(`no step definition for: ${text}`);
}

const pickles = loadPickles();

describe('OpenFeature provider TCK', () => {
  beforeAll(async () => {
    plane = await startPlane({ memory: true });
    const admin = new AdminApi(plane.url);
    await admin.createEnvironment('default');
    for (const flag of canonicalFlags())
      await admin.createFlag(flag as unknown as Record<string, unknown>, 'default');
    const sdkKey = await admin.sdkKey('default');
    flagsClient = createClient({ url: plane.url, sdkKey, logger: silent, metrics: { enabled: false } });
    const provider = new RupayaProvider({ client: flagsClient, keyPrefix: KEY_PREFIX });
    await OpenFeature.setProviderAndWait(DOMAIN, provider);
    expect(flagsClient.snapshot?.environment).toBe('default');
  }, PLANE_TIMEOUT_MS);

  afterAll(async () => {
    await OpenFeature.close();
    await flagsClient?.close();
    await plane?.close();
    if (plane) removeDir(plane.dataDir);
  });

  it('the vendored TCK equals the copy handed to the project (when it is beside the repository)', () => {
    const vendored = readdirSync(TCK_DIR).filter((f) => f !== 'README.md');
    expect(vendored.sort()).toEqual([
      'canonical-flags.json',
      'errors.feature',
      'evaluation.feature',
      'reason.feature',
    ]);
    if (!existsSync(SHARED_TCK_DIR)) {
      console.warn(`${SHARED_TCK_DIR} is not present: the vendored TCK copy is used as it is`);
      return;
    }
    for (const file of vendored) {
      expect(readFileSync(`${TCK_DIR}${file}`, 'utf8'), file).toBe(
        readFileSync(`${SHARED_TCK_DIR}${file}`, 'utf8'),
      );
    }
  });

  it('parsed every feature file of the TCK', () => {
    expect(new Set(pickles.map((p) => p.feature))).toEqual(
      new Set(['errors.feature', 'evaluation.feature', 'reason.feature']),
    );
    expect(pickles.length).toBeGreaterThan(50);
  });

  for (const { feature, pickle } of pickles) {
    const tags = pickle.tags.map((t) => t.name);
    const missing = tags.filter((t) => !DECLARED.has(t));
    const title = `${feature}: ${pickle.name}${tags.length ? ` ${tags.join(' ')}` : ''} [${pickle.steps
      .map((s) => s.text.match(/"([^"]*)"/)?.[1] ?? '')
      .filter(Boolean)
      .join(', ')}]`;
    if (missing.length > 0) {
      it(`${title} — not applicable (${missing.join(', ')}): documented in the provider README`, () => {
        expect(README).toContain(pickle.name);
        for (const tag of missing) expect(README).toContain(tag);
      });
      continue;
    }
    it(title, async () => {
      const world: World = {};
      for (const step of pickle.steps) {
        const table = step.argument?.dataTable?.rows.map((r) => r.cells.map((c) => c.value));
        await runStep(world, step.text, table);
      }
    });
  }
});
