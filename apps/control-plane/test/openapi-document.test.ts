// The OpenAPI document the control plane serves (/docs/json and /docs/yaml) is a valid OpenAPI 3.1
// document — checked against the specification's own JSON Schema by an independent validator — so code
// generators and API tools accept it. That validator does not look inside Schema Objects, so every
// schema of the document is also compiled by Ajv in JSON Schema 2020-12 (OpenAPI 3.1's dialect) in
// strict mode: an unknown keyword, or a keyword with a value of another draft (OpenAPI 3.0's boolean
// `exclusiveMinimum`), fails. Ajv accepts OpenAPI 3.0's `nullable` as an extension, so its absence is
// checked on its own: the routes' schemas use it (Fastify understands it) and @fastify/swagger writes
// it as a `null` type in a 3.1 document.
import { Validator } from '@seriousme/openapi-schema-validator';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers';

/** Every object in the document with its JSON path. */
function* objects(value: unknown, path = '$'): Generator<[string, Record<string, unknown>]> {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) yield* objects(value[i], `${path}[${i}]`);
  } else if (value !== null && typeof value === 'object') {
    yield [path, value as Record<string, unknown>];
    for (const [k, v] of Object.entries(value)) yield* objects(v, `${path}.${k}`);
  }
}

describe('the OpenAPI document', () => {
  let s: TestServer;
  let doc: Record<string, unknown>;

  beforeAll(async () => {
    s = await startTestServer('pglite', { WEBHOOK_POLL_MS: '100000' });
    const r = await s.call<Record<string, unknown>>('GET', '/docs/json', { token: null });
    expect(r.status).toBe(200);
    doc = r.body;
  }, 120_000);
  afterAll(async () => {
    await s?.close();
  });

  it('is a valid OpenAPI 3.1 document (/docs/json and /docs/yaml)', async () => {
    expect(doc.openapi).toBe('3.1.0');
    const validator = new Validator();
    const result = await validator.validate(structuredClone(doc));
    expect(result.errors ?? [], JSON.stringify(result.errors, null, 1)?.slice(0, 2000)).toEqual([]);
    expect(result.valid).toBe(true);
    const yaml = await s.call('GET', '/docs/yaml', { token: null });
    expect(yaml.status).toBe(200);
    const fromYaml = parseYaml(yaml.text) as Record<string, unknown>;
    expect(fromYaml).toEqual(doc);
    expect((await new Validator().validate(fromYaml)).valid).toBe(true);
  });

  it('every schema in it compiles as JSON Schema 2020-12 in strict mode', () => {
    const components = (doc.components as { schemas: Record<string, unknown> }).schemas;
    // References to components become references to $defs of each compiled schema.
    const rewrite = (v: unknown): unknown =>
      JSON.parse(JSON.stringify(v).replaceAll('"#/components/schemas/', '"#/$defs/'));
    const defs = rewrite(components) as Record<string, unknown>;
    const ajv = new Ajv2020({ strict: true, strictTypes: false, strictRequired: false, strictTuples: false });
    addFormats(ajv);
    // OpenAPI's own Schema Object keywords (annotations in its dialect).
    ajv.addVocabulary(['example', 'discriminator', 'xml', 'externalDocs']);
    const found: { path: string; schema: unknown }[] = [];
    for (const [path, o] of objects(doc)) {
      if (path.startsWith('$.components.schemas')) continue;
      if ('schema' in o && o.schema !== null && typeof o.schema === 'object')
        found.push({ path, schema: o.schema });
    }
    for (const [name, schema] of Object.entries(components))
      found.push({ path: `components.schemas.${name}`, schema });
    expect(found.length).toBeGreaterThan(100);
    const failures: string[] = [];
    for (const { path, schema } of found) {
      try {
        ajv.compile({ ...(rewrite(schema) as object), $defs: defs });
      } catch (err) {
        failures.push(`${path}: ${(err as Error).message.slice(0, 200)}`);
      }
    }
    expect(failures).toEqual([]);
  });

  it("uses OpenAPI 3.1's JSON Schema: no `nullable`, no draft-07 `$schema`; nullable fields take null", () => {
    const leftovers = [...objects(doc)].filter(([, o]) => 'nullable' in o || typeof o.$schema === 'string');
    expect(leftovers.map(([p]) => p)).toEqual([]);
    // A nullable integer of the routes (a flag's audit entry: `revision: nullable(int)`) and a nullable
    // string with a format (an SDK key's `revokedAt`).
    const schemas = [...objects(doc)].map(([, o]) => o);
    expect(
      schemas.some((o) => Array.isArray(o.type) && o.type.includes('integer') && o.type.includes('null')),
    ).toBe(true);
    expect(
      schemas.some(
        (o) =>
          Array.isArray(o.type) &&
          o.type.includes('string') &&
          o.type.includes('null') &&
          o.format === 'date-time',
      ),
    ).toBe(true);
  });
});
