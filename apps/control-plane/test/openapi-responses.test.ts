// The OpenAPI document at /docs/json documents every route's responses, and the documentation never
// changes a reply. A real server on loopback (PGlite: this is not a storage test) gets every route's
// success and error cases; each reply must be one the document lists for the operation, its body must
// validate (Ajv) against the documented schema, and — checked inside the server for every JSON reply —
// the bytes sent must equal JSON.stringify of what the handler returned, i.e. exactly what Fastify
// sends for a route without a response schema: no property dropped, no type coerced, same key order.
import http from 'node:http';
import { gunzipSync } from 'node:zlib';
import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routeModules } from '../src/routes/index';
import { batch, cohortSeries, createCanary } from './canary-support';
import { FLAGS, rawGet, type Reply, startTestServer, type TestServer } from './helpers';

const BASE = '/api/admin/deployment';
const EXP = `${BASE}/experiments`;
const HOOKS = `${BASE}/webhooks`;

// ---- inside the server: what the handler returned vs the bytes sent --------------------------------

const EXPECTED = Symbol('expected JSON');
const probe = { checked: 0, mismatches: [] as string[] };
const serializationProbe = fp(
  async (app: FastifyInstance) => {
    app.addHook('preSerialization', async (request, _reply, payload) => {
      (request as unknown as Record<symbol, string>)[EXPECTED] = JSON.stringify(payload);
      return payload;
    });
    app.addHook('onSend', async (request, _reply, payload) => {
      const expected = (request as unknown as Record<symbol, string | undefined>)[EXPECTED];
      if (expected !== undefined) {
        probe.checked++;
        if (payload !== expected)
          probe.mismatches.push(
            `${request.method} ${request.url}: sent ${String(payload).slice(0, 300)} … expected ${expected.slice(0, 300)}`,
          );
      }
      return payload;
    });
  },
  { name: 'serialization-probe' },
);

// ---- the document ----------------------------------------------------------------------------------

interface Operation {
  responses: Record<string, { content?: Record<string, { schema: unknown }> }>;
}
type Doc = {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, unknown> };
};

/** `/api/admin/deployment/feature-flags/{key}` → a regex for concrete paths. */
function templateRegex(template: string): RegExp {
  const escaped = template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+');
  return new RegExp(`^${escaped}$`);
}

describe('OpenAPI response schemas (real server on loopback, PGlite)', () => {
  let s: TestServer;
  let doc: Doc;
  let sdkKey: string;
  let viewerToken: string;
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  const validators = new Map<string, ValidateFunction>();
  /** operation (`get /path`) → statuses seen. */
  const seen = new Map<string, Set<number>>();
  let templates: { template: string; re: RegExp }[] = [];
  let jsonReplies = 0;

  function operationOf(method: string, path: string): { key: string; op: Operation } {
    const bare = path.split('?')[0]!;
    // The most specific template (fewest parameters) that matches.
    const match = templates
      .filter((t) => t.re.test(bare) && doc.paths[t.template]?.[method.toLowerCase()])
      .sort((a, b) => (a.template.match(/\{/g)?.length ?? 0) - (b.template.match(/\{/g)?.length ?? 0))[0];
    if (!match) throw new Error(`no documented operation for ${method} ${bare}`);
    return {
      key: `${method.toLowerCase()} ${match.template}`,
      op: doc.paths[match.template]![method.toLowerCase()]!,
    };
  }

  function validatorFor(opKey: string, status: number, contentType: string, schema: unknown) {
    const id = `${opKey} ${status} ${contentType}`;
    let v = validators.get(id);
    if (!v) {
      v = ajv.compile({ ...(schema as object), components: doc.components });
      validators.set(id, v);
    }
    return v;
  }

  /** Checks a reply against the document: status listed, body valid for the listed schema. */
  function conforms(
    method: string,
    path: string,
    status: number,
    body: unknown,
    contentType = 'application/json',
  ) {
    const { key, op } = operationOf(method, path);
    const documented = op.responses[String(status)];
    expect(documented, `${key} documents ${status}`).toBeDefined();
    const set = seen.get(key) ?? new Set<number>();
    set.add(status);
    seen.set(key, set);
    const media = documented!.content?.[contentType];
    if (body === undefined) {
      expect(media, `${key} ${status} has no body`).toBeUndefined();
      return;
    }
    expect(media, `${key} ${status} documents ${contentType}`).toBeDefined();
    const validate = validatorFor(key, status, contentType, media!.schema);
    if (!validate(body)) {
      throw new Error(
        `${method} ${path} → ${status}: body does not match the documented schema: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(body).slice(0, 600)}`,
      );
    }
  }

  /** A JSON call, checked against the document; returns the reply. */
  async function call<T = Record<string, unknown>>(
    method: string,
    path: string,
    expected: number,
    options: Parameters<TestServer['call']>[2] = {},
  ): Promise<Reply<T>> {
    const r = await s.call<T>(method, path, options);
    if (r.text !== '') jsonReplies++;
    expect(r.status, `${method} ${path}: ${r.text.slice(0, 300)}`).toBe(expected);
    conforms(method, path, r.status, r.text === '' ? undefined : r.body);
    return r;
  }

  beforeAll(async () => {
    routeModules.unshift(serializationProbe);
    try {
      s = await startTestServer('pglite', { WEBHOOK_POLL_MS: '100000' });
    } finally {
      routeModules.splice(routeModules.indexOf(serializationProbe), 1);
    }
    doc = (await s.call('GET', '/docs/json')).body as unknown as Doc;
    templates = Object.keys(doc.paths).map((template) => ({ template, re: templateRegex(template) }));
    sdkKey = await s.sdkKey('dev');
    viewerToken = (
      await s.call<{ token: string }>('POST', `${BASE}/tokens`, { body: { role: 'viewer', subject: 'v' } })
    ).body.token;
  }, 120_000);
  afterAll(async () => {
    await s?.close();
  });

  it('documents a 2xx and the errors of every operation, errors with the one shared schema', () => {
    const ops = Object.entries(doc.paths).flatMap(([p, methods]) =>
      Object.entries(methods).map(([m, op]) => ({ name: `${m} ${p}`, op })),
    );
    expect(ops.length).toBeGreaterThanOrEqual(40);
    for (const { name, op } of ops) {
      const statuses = Object.keys(op.responses);
      expect(
        statuses.some((st) => /^2\d\d$/.test(st)),
        `${name} has a 2xx`,
      ).toBe(true);
      const errors = statuses.filter((st) => /^[45]\d\d$/.test(st));
      expect(errors.length, `${name} has an error response`).toBeGreaterThan(0);
      for (const st of errors)
        expect(op.responses[st]!.content?.['application/json']?.schema, `${name} ${st}`).toEqual({
          $ref: '#/components/schemas/ErrorResponse',
        });
    }
    const error = doc.components.schemas.ErrorResponse as {
      properties: { error: { properties: { code: { enum: string[] } } } };
    };
    expect(error.properties.error.properties.code.enum).toContain('FLAG_NOT_FOUND');
    expect(error.properties.error.properties.code.enum).toContain('STORAGE_UNAVAILABLE');
  });

  it('flags, import, canary, environments, keys and tokens: every reply as documented', async () => {
    await call('GET', '/health', 200);
    // Flags
    await call('GET', `${FLAGS}?environment=dev`, 200);
    await call('GET', `${FLAGS}?environment=nope`, 404);
    await call('GET', FLAGS, 401, { token: null });
    await call('GET', `${FLAGS}?environment=BAD!`, 400);
    const created = await call<{ version: number }>('POST', `${FLAGS}?environment=staging`, 201, {
      body: { key: 'docs.flag', type: 'boolean', enabled: true, rolloutPercentage: 12.5, allowList: ['u1'] },
    });
    expect(created.headers.get('etag')).toBe('"1"');
    await call('POST', FLAGS, 409, { body: { key: 'docs.flag', type: 'boolean', enabled: true } });
    await call('POST', FLAGS, 400, {
      body: { key: 'docs.bad', type: 'boolean', enabled: true, rolloutPercentage: 101 },
    });
    await call('POST', FLAGS, 400, { rawBody: '{"key":' });
    await call('POST', FLAGS, 403, {
      body: { key: 'docs.x', type: 'boolean', enabled: true },
      token: viewerToken,
    });
    await call('GET', `${FLAGS}/docs.flag?environment=dev`, 200);
    await call('GET', `${FLAGS}/docs.nope`, 404);
    await call('PUT', `${FLAGS}/docs.flag?environment=dev`, 200, {
      body: { rolloutPercentage: 50, reason: 'more' },
      headers: { 'if-match': '"1"' },
    });
    await call('PUT', `${FLAGS}/docs.flag?environment=dev`, 412, {
      body: { rolloutPercentage: 60 },
      headers: { 'if-match': '"1"' },
    });
    await call('PUT', `${FLAGS}/docs.flag?environment=dev`, 400, { body: { nope: 1 } });
    await call('GET', `${FLAGS}/docs.flag/audit?environment=dev`, 200);
    await call('GET', `${FLAGS}/docs.nope/audit`, 404);
    // Import
    const flagsFile = { environments: { dev: [{ key: 'docs.imported', type: 'boolean', enabled: false }] } };
    await call('POST', `${FLAGS}:import`, 200, { body: { ...flagsFile, dryRun: true } });
    await call('POST', `${FLAGS}:import`, 200, { body: flagsFile });
    await call('POST', `${FLAGS}:import`, 400, {
      body: { environments: { dev: [{ key: 'x', nope: true }] } },
    });
    await call('DELETE', `${FLAGS}/docs.imported`, 200);
    await call('DELETE', `${FLAGS}/docs.imported`, 404);
    // Canary actions and history
    await createCanary(s, 'docs.canary');
    for (const action of ['resume', 'pause', 'advance', 'rollback', 'restart'])
      await call('POST', `${FLAGS}/docs.canary/${action}-canary?environment=dev`, 200, {
        body: { reason: `docs ${action}` },
      });
    await call('POST', `${FLAGS}/docs.flag/advance-canary`, 409);
    await call('POST', `${FLAGS}/docs.canary/restart-canary?environment=dev`, 409);
    await call('POST', `${FLAGS}/docs.nope/pause-canary`, 404);
    await call('POST', `${FLAGS}/docs.nope/rollback-canary`, 404);
    await call('POST', `${FLAGS}/docs.flag/resume-canary`, 409);
    await call('GET', `${FLAGS}/docs.canary/canary-logs?environment=dev`, 200);
    await call('GET', `${FLAGS}/docs.canary/canary-logs?environment=B@D`, 400);
    // Environments
    await call('GET', `${BASE}/environments`, 200);
    await call('GET', `${BASE}/environments`, 401, { token: null });
    await call('POST', `${BASE}/environments`, 201, { body: { key: 'docs-env', name: 'Docs' } });
    await call('POST', `${BASE}/environments`, 409, { body: { key: 'docs-env' } });
    await call('POST', `${BASE}/environments`, 403, { body: { key: 'docs-env2' }, token: viewerToken });
    // Keys and tokens
    await call('GET', `${BASE}/whoami`, 200);
    await call('GET', `${BASE}/whoami`, 401, { token: 'wrong' });
    const key = await call<{ id: string }>('POST', `${BASE}/sdk-keys`, 201, {
      body: { environment: 'staging' },
    });
    await call('POST', `${BASE}/sdk-keys`, 404, { body: { environment: 'nope' } });
    await call('GET', `${BASE}/sdk-keys`, 200);
    await call('GET', `${BASE}/sdk-keys`, 403, { token: viewerToken });
    await call('DELETE', `${BASE}/sdk-keys/${key.body.id}`, 200);
    await call('DELETE', `${BASE}/sdk-keys/${key.body.id}`, 404);
    const token = await call<{ id: string }>('POST', `${BASE}/tokens`, 201, {
      body: { role: 'editor', subject: 'ci', expiresIn: '1h' },
    });
    await call('POST', `${BASE}/tokens`, 400, { body: { role: 'root', subject: 'x' } });
    await call('GET', `${BASE}/tokens`, 200);
    await call('GET', `${BASE}/tokens`, 401, { token: null });
    await call('DELETE', `${BASE}/tokens/${token.body.id}`, 200);
    await call('DELETE', `${BASE}/tokens/${token.body.id}`, 404);
    await call('GET', `${BASE}/audit/credentials?credentialId=${token.body.id}`, 200);
    await call('GET', `${BASE}/audit/credentials?limit=0`, 400);
    await call('GET', `${BASE}/audit/credentials`, 403, { token: viewerToken });
  }, 120_000);

  it('metrics, webhooks, experiments and the SDK ingest routes: every reply as documented', async () => {
    // Metric windows for the canary, so health and range have rows.
    const now = Date.now();
    const aligned = Math.floor(now / 10_000) * 10_000;
    const windows = cohortSeries(
      'docs.canary',
      aligned - 60_000,
      aligned - 10_000,
      10_000,
      { requests: 40, errors: 1 },
      {
        requests: 40,
      },
    );
    await call('POST', '/api/sdk/v1/metrics', 202, {
      body: batch(windows),
      token: sdkKey,
    });
    await call('POST', '/api/sdk/v1/metrics', 400, { body: { instanceId: 'x' }, token: sdkKey });
    await call('POST', '/api/sdk/v1/metrics', 401, { body: batch([]), token: 'rpy_sdk_wrong' });
    await call('GET', `${BASE}/metrics/health?environment=dev`, 200);
    await call('GET', `${BASE}/metrics/health?environment=nope`, 404);
    const range = await call<{ series: unknown[] }>(
      'GET',
      `${BASE}/metrics/range?environment=dev&flag=docs.canary&from=${now - 3_600_000}`,
      200,
    );
    expect(range.body.series.length).toBeGreaterThan(0);
    await call('GET', `${BASE}/metrics/range?from=2&to=1`, 400);
    await call('GET', `${BASE}/metrics/flag-usage?environment=dev`, 200);
    await call('GET', `${BASE}/metrics/flag-usage?from=yesterday`, 400);
    await call('GET', `${FLAGS}/docs.canary/rollback-decisions?environment=dev`, 200);
    await call('GET', `${FLAGS}/docs.nope/rollback-decisions`, 404);
    // Webhooks
    const hook = await call<{ id: string }>('POST', HOOKS, 201, {
      body: { url: 'http://127.0.0.1:9/hook', events: ['flag.*'], environment: 'dev' },
    });
    await call('POST', HOOKS, 400, { body: { url: 'ftp://x' } });
    await call('GET', HOOKS, 200);
    await call('GET', HOOKS, 403, { token: viewerToken });
    await call('PUT', `${FLAGS}/docs.flag?environment=dev`, 200, { body: { enabled: false } });
    await call('GET', `${HOOKS}/${hook.body.id}/deliveries`, 200);
    await call('GET', `${HOOKS}/${hook.body.id}/deliveries`, 403, { token: viewerToken });
    await call('PATCH', `${HOOKS}/${hook.body.id}`, 200, { body: { environment: null, format: 'slack' } });
    await call('PATCH', `${HOOKS}/${hook.body.id}`, 400, { body: {} });
    await call('POST', `${HOOKS}/${hook.body.id}/secret`, 200, { body: {} });
    // No body at all: a generated secret.
    await call('POST', `${HOOKS}/${hook.body.id}/secret`, 200);
    await call('POST', `${HOOKS}/${hook.body.id}/secret`, 400, { body: { secret: 'short' } });
    await call('DELETE', `${HOOKS}/${hook.body.id}`, 204);
    await call('DELETE', `${HOOKS}/${hook.body.id}`, 404);
    await call('PATCH', `${HOOKS}/${hook.body.id}`, 404, { body: { url: 'http://127.0.0.1:9/other' } });
    await call('POST', `${HOOKS}/${hook.body.id}/secret`, 404, { body: {} });
    // Experiments (seeded) and their ingest
    const exp = 'experiment.checkout-redesign';
    const t = Date.now();
    await call('POST', '/api/sdk/v1/exposures', 202, {
      token: sdkKey,
      body: {
        instanceId: 'docs',
        batchKey: 'e1',
        exposures: [
          { flag: exp, unitKey: 'u1', variant: 'control', timestamp: t },
          { flag: exp, unitKey: 'u2', variant: 'variant_a', timestamp: t },
          { flag: 'docs.unknown', unitKey: 'u3', variant: 'x', timestamp: t },
        ],
      },
    });
    await call('POST', '/api/sdk/v1/exposures', 400, {
      token: sdkKey,
      body: { instanceId: 'docs', exposures: [] },
    });
    await call('POST', '/api/sdk/v1/events', 202, {
      token: sdkKey,
      body: {
        instanceId: 'docs',
        batchKey: 'v1',
        events: [{ event: 'purchase', unitKey: 'u2', value: 9.5, timestamp: t }],
      },
    });
    await call('POST', '/api/sdk/v1/events', 400, {
      token: sdkKey,
      body: { instanceId: 'docs', batchKey: 'v2' },
    });
    await call('GET', `${EXP}?environment=dev`, 200);
    await call('GET', `${EXP}?environment=nope`, 404);
    await call('GET', `${EXP}/${exp}/results?environment=dev&refresh=true`, 200);
    await call('GET', `${EXP}/docs.flag/results?environment=dev`, 409);
    await call('GET', `${EXP}/${exp}/statistical-significance?environment=dev&refresh=true`, 200);
    await call('GET', `${EXP}/docs.nope/statistical-significance`, 404);
    await call('POST', `${EXP}/${exp}/rebuild?environment=dev`, 200);
    await call('POST', `${EXP}/docs.flag/rebuild?environment=dev`, 409);
    await call('POST', `${EXP}/${exp}/conclude?environment=dev`, 200, {
      body: { variant: 'variant_a', reason: 'docs' },
    });
    await call('POST', `${EXP}/${exp}/conclude?environment=dev`, 409, {
      body: { variant: 'variant_a', reason: 'again' },
    });
    await call('POST', `${EXP}/${exp}/conclude?environment=dev`, 400, { body: { variant: 'variant_a' } });
  }, 120_000);

  it('snapshot (raw prebuilt bytes, 304) and stream (text/event-stream) as documented', async () => {
    const url = `${s.cp.url}/api/sdk/v1/snapshot`;
    const auth = { authorization: `Bearer ${sdkKey}` };
    const built = s.cp.app.snapshots.get('dev')!;
    const identity = await rawGet(url, auth);
    expect(identity.status).toBe(200);
    // The very bytes built once per revision, not a re-serialisation.
    expect(identity.body.equals(built.identity)).toBe(true);
    conforms('GET', '/api/sdk/v1/snapshot', 200, JSON.parse(identity.body.toString('utf8')));
    const gz = await rawGet(url, { ...auth, 'accept-encoding': 'gzip' });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gz.body.equals(built.gzip)).toBe(true);
    expect(gunzipSync(gz.body).equals(built.identity)).toBe(true);
    const br = await rawGet(url, { ...auth, 'accept-encoding': 'br' });
    expect(br.body.equals(built.br)).toBe(true);
    const notModified = await rawGet(url, { ...auth, 'if-none-match': built.etag });
    expect(notModified.status).toBe(304);
    conforms('GET', '/api/sdk/v1/snapshot', 304, undefined);
    const denied = await s.call('GET', '/api/sdk/v1/snapshot', { token: 'rpy_sdk_wrong' });
    expect(denied.status).toBe(401);
    conforms('GET', '/api/sdk/v1/snapshot', 401, denied.body);

    // The stream: the first frames, read raw.
    const first = await new Promise<{ status: number; type: string; text: string }>((resolve, reject) => {
      const req = http.get(`${s.cp.url}/api/sdk/v1/stream`, { headers: auth }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => {
          text += c.toString('utf8');
          if (text.includes('event: snapshot') && text.endsWith('\n\n')) {
            resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), text });
            req.destroy();
          }
        });
      });
      req.on('error', reject);
    });
    expect(first.status).toBe(200);
    expect(first.type).toMatch(/^text\/event-stream/);
    conforms('GET', '/api/sdk/v1/stream', 200, first.text, 'text/event-stream');
    const deniedStream = await s.call('GET', '/api/sdk/v1/stream', { token: 'rpy_sdk_wrong' });
    expect(deniedStream.status).toBe(401);
    conforms('GET', '/api/sdk/v1/stream', 401, deniedStream.body);
  });

  it('every operation was exercised with a 2xx and an error; every JSON reply was sent as JSON.stringify', () => {
    const ops = Object.entries(doc.paths).flatMap(([p, methods]) =>
      Object.keys(methods).map((m) => `${m} ${p}`),
    );
    const missing = ops.filter((o) => ![...(seen.get(o) ?? [])].some((st) => st >= 200 && st < 300));
    expect(missing, 'operations without a 2xx exercised').toEqual([]);
    // /health has no error a client can provoke (its providers' failures are logged, not answered).
    const noError = ops.filter(
      (o) => o !== 'get /health' && ![...(seen.get(o) ?? [])].some((st) => st >= 400),
    );
    expect(noError, 'operations without an error exercised').toEqual([]);
    expect(probe.mismatches).toEqual([]);
    // Every JSON reply of these tests went through the probe (plus the set-up's calls).
    expect(jsonReplies).toBeGreaterThan(80);
    expect(probe.checked).toBeGreaterThanOrEqual(jsonReplies);
    console.log(
      `[openapi] ${ops.length} operations, ${[...seen.values()].reduce((n, st) => n + st.size, 0)} (operation, status) pairs validated; ${probe.checked} JSON replies byte-compared`,
    );
  });
});
