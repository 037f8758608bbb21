import { createServer, type Server } from 'node:http';
import { connect } from 'node:http2';
import { type AddressInfo, connect as netConnect } from 'node:net';
import { Readable } from 'node:stream';
import type { Flag, MetricsBatch, Snapshot } from '@rupaya/flags-core';
import { LatencySketch } from '@rupaya/flags-core';
import { createClient, type FlagsClient, silentLogger, snapshotChecksum } from '@rupaya/flags-node';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { flagsPlugin } from '../src/index';

const experiment: Flag = {
  key: 'experiment.checkout',
  type: 'string',
  enabled: true,
  variants: [
    { key: 'control', value: 'old', weight: 50_000 },
    { key: 'variant_a', value: 'new', weight: 50_000 },
  ],
  defaultVariant: 'control',
};

function snapshot(): Snapshot {
  const s: Snapshot = {
    schemaVersion: 1,
    environment: 'prod',
    revision: 4,
    checksum: '',
    generatedAt: '2026-01-01T00:00:00.000Z',
    metricsWindowMs: 60_000,
    flags: [experiment],
  };
  s.checksum = snapshotChecksum(s);
  return s;
}

let cp: Server;
let received: { path: string; body: Record<string, unknown> }[];
let client: FlagsClient;
let app: FastifyInstance;
let afterReply: Promise<unknown> | undefined;

beforeEach(async () => {
  received = [];
  cp = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      if (req.url === '/api/sdk/v1/snapshot') {
        res.writeHead(200, { 'content-type': 'application/json', etag: '"4-x"' });
        res.end(JSON.stringify(snapshot()));
        return;
      }
      received.push({ path: req.url ?? '', body: JSON.parse(body) });
      res.writeHead(202, { 'content-type': 'application/json' });
      res.end('{"accepted":1,"duplicate":false}');
    });
  });
  await new Promise<void>((r) => cp.listen(0, '127.0.0.1', r));
  client = createClient({
    url: `http://127.0.0.1:${(cp.address() as AddressInfo).port}`,
    sdkKey: 'k',
    streaming: false,
    logger: silentLogger,
    metrics: { flushIntervalMs: 60_000, gauges: false },
  });
  expect(await client.ready({ timeoutMs: 5000 })).toBe('READY');
  app = Fastify();
  app.decorateRequest('user', null as never);
  app.addHook('onRequest', async (request) => {
    const auth = request.headers.authorization;
    if (auth) (request as unknown as { user: { id: string } }).user = { id: auth.replace('User ', '') };
  });
  await app.register(flagsPlugin, { client });
  app.post('/orders/:id', async (request) => {
    const result = await request.evaluateFlag('experiment.checkout');
    return {
      result,
      copy: request.flags.value('experiment.checkout', 'fallback'),
      ctx: request.flags.context,
    };
  });
  app.get('/fail', async (request, reply) => {
    request.flags.variant('experiment.checkout');
    return reply.code(503).send({ down: true });
  });
  app.get('/late', async (request) => {
    // The request's flags are created here, 150 ms after the request arrived.
    await new Promise((r) => setTimeout(r, 150));
    return { variant: request.flags.variant('experiment.checkout') };
  });
  app.get('/plain', async () => ({ flags: 'none used' }));
  app.get('/slow-plain', async () => {
    await new Promise((r) => setTimeout(r, 200));
    return { flags: 'none used' };
  });
  app.get('/after-reply', (request, reply) => {
    reply.send({ sent: true });
    // Flags first used once the response has ended (on a pipelined connection, the next response
    // is the connection's current one by then): evaluated, not recorded against another response.
    afterReply = new Promise((r) => setTimeout(r, 30)).then(() =>
      request.flags.variant('experiment.checkout'),
    );
  });
  app.get('/slow', async (request, reply) => {
    request.flags.variant('experiment.checkout');
    await new Promise((r) => setTimeout(r, 300));
    return reply.send({ late: true });
  });
  await app.ready();
});

afterEach(async () => {
  await app.close();
  await client.close();
  await new Promise<void>((r) => cp.close(() => r()));
});

/** Every metrics window the fake control plane received. */
const sentWindows = () =>
  received
    .filter((r) => r.path === '/api/sdk/v1/metrics')
    .flatMap((r) => (r.body as unknown as MetricsBatch).windows);

describe('flagsPlugin', () => {
  it('decorates requests with evaluateFlag and flags, using request.user.id or x-user-id', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/orders/9',
      headers: { 'x-user-id': 'user-3' },
      payload: {},
    });
    const body = res.json() as { result: Record<string, unknown>; copy: string; ctx: unknown };
    expect(body.ctx).toEqual({ userId: 'user-3' });
    expect(body.result).toMatchObject({
      key: 'experiment.checkout',
      reason: 'EXPERIMENT',
      inExperiment: true,
    });
    expect(body.result).toEqual(client.evaluate('experiment.checkout', { userId: 'user-3' }));
    expect(body.copy).toBe(body.result.value);
    const authed = await app.inject({
      method: 'POST',
      url: '/orders/9',
      headers: { 'x-user-id': 'header-user', authorization: 'User auth-user' },
      payload: {},
    });
    expect((authed.json() as { ctx: unknown }).ctx).toEqual({ userId: 'auth-user' });
  });

  it('records route patterns, statuses and served variants, and reports exposures once per unit', async () => {
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    const post = async (path: string, user: string) => {
      const res = await fetch(`${address}${path}`, {
        method: 'POST',
        headers: { 'x-user-id': user, 'content-type': 'application/json' },
        body: '{}',
      });
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    };
    const users = Array.from({ length: 30 }, (_, i) => `u${i}`);
    for (const u of users) {
      await post(`/orders/${u}`, u);
      await post(`/orders/${u}-again`, u);
    }
    const failed = await fetch(`${address}/fail`, { headers: { 'x-user-id': 'u1' } });
    expect(failed.status).toBe(503);
    await failed.arrayBuffer();
    await new Promise((r) => setTimeout(r, 50)); // the last response's 'close'
    await client.close();
    const windows = sentWindows();
    const orders = windows.filter((w) => w.endpoint === 'POST /orders/:id');
    expect(orders.reduce((a, w) => a + w.requests, 0)).toBe(60);
    const expected = new Map<string, number>();
    for (const u of users) {
      const v = client.evaluate('experiment.checkout', { userId: u }).variant!;
      expected.set(v, (expected.get(v) ?? 0) + 2);
    }
    // Summed per variant over windows: the requests may straddle a window boundary (60-s windows).
    const observed = new Map<string, number>();
    for (const w of orders) observed.set(w.variant!, (observed.get(w.variant!) ?? 0) + w.requests);
    expect(observed).toEqual(expected);
    const fail = windows.find((w) => w.endpoint === 'GET /fail');
    expect(fail).toMatchObject({
      requests: 1,
      errors: 1,
      topErrors: [{ endpoint: 'GET /fail', status: 503, count: 1 }],
    });
    const exposures = received
      .filter((r) => r.path === '/api/sdk/v1/exposures')
      .flatMap((r) => (r.body as { exposures: { unitKey: string }[] }).exposures);
    // 61 evaluations of 30 units (+ u1 again on /fail): one exposure per unit per window — so exactly
    // one each, unless the requests straddled a window boundary (60-s windows, wall clock).
    const units = exposures.map((e) => e.unitKey);
    expect([...new Set(units)].sort()).toEqual([...users].sort());
    if (new Set(windows.map((w) => w.windowStart)).size === 1) expect(units).toHaveLength(users.length);
  });

  it('records a request the client aborted once, as aborted (latency counted, not an error)', async () => {
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    const controller = new AbortController();
    const pending = fetch(`${address}/slow`, {
      headers: { 'x-user-id': 'u-abort' },
      signal: controller.signal,
    }).catch((e: Error) => e);
    await new Promise((r) => setTimeout(r, 80));
    controller.abort();
    expect(await pending).toBeInstanceOf(Error);
    await new Promise((r) => setTimeout(r, 400)); // the handler finishes after the client left
    await client.close();
    const slow = sentWindows().filter((w) => w.endpoint === 'GET /slow');
    expect(slow.reduce((a, w) => a + w.requests, 0)).toBe(1);
    expect(slow.reduce((a, w) => a + w.errors, 0)).toBe(0);
    expect(slow[0]?.latency.count).toBe(1);
  });

  it('measures latency from the moment the server received the request, not from the first flag used', async () => {
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    const res = await fetch(`${address}/late`, { headers: { 'x-user-id': 'u-late' } });
    expect(((await res.json()) as { variant: string }).variant).toBe(
      client.variant('experiment.checkout', { userId: 'u-late' }),
    );
    const plain = await fetch(`${address}/plain`, { headers: { 'x-user-id': 'u-late' } });
    expect(plain.status).toBe(200);
    await plain.arrayBuffer();
    await new Promise((r) => setTimeout(r, 50));
    await client.close();
    const windows = sentWindows();
    const late = windows.filter((w) => w.endpoint === 'GET /late');
    expect(late.reduce((a, w) => a + w.requests, 0)).toBe(1);
    const sketch = LatencySketch.fromSerialized(late[0]!.latency);
    expect(sketch.quantile(0.5)).toBeGreaterThanOrEqual(145);
    // A request that used no flag is served as usual and not recorded.
    expect(windows.some((w) => w.endpoint === 'GET /plain')).toBe(false);
  });

  it('pipelined requests on one connection each get their own arrival and response', async () => {
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = new URL(address);
    const socket = netConnect(Number(port), '127.0.0.1');
    let data = '';
    socket.setEncoding('latin1');
    socket.on('data', (c: string) => (data += c));
    const responses = (n: number) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`got: ${data}`)), 5000);
        const check = () => {
          if ((data.match(/HTTP\/1\.1 /g) ?? []).length >= n) {
            clearTimeout(timer);
            socket.off('data', check);
            resolve();
          }
        };
        socket.on('data', check);
        check();
      });
    const request = (path: string, user: string) =>
      `GET ${path} HTTP/1.1\r\nHost: t\r\nx-user-id: ${user}\r\n\r\n`;
    // Three requests in one write: the second and third wait behind the first (150 ms) while their
    // handlers have already run; the first is the connection's current response.
    socket.write(request('/late', 'p-1') + request('/fail', 'p-2') + request('/late', 'p-3'));
    await responses(3);
    expect(data.match(/HTTP\/1\.1 (\d+)/g)).toEqual(['HTTP/1.1 200', 'HTTP/1.1 503', 'HTTP/1.1 200']);
    socket.write(request('/after-reply', 'p-5') + request('/slow-plain', 'p-6'));
    await responses(5);
    expect(await afterReply).toBe(client.variant('experiment.checkout', { userId: 'p-5' }));
    // Later, on the same connection: a request of its own, not timed from the pipelined ones.
    await new Promise((r) => setTimeout(r, 400));
    socket.write(request('/late', 'p-4'));
    await responses(6);
    socket.end();
    await new Promise((r) => setTimeout(r, 50));
    await client.close();
    const windows = sentWindows();
    const late = windows.filter((w) => w.endpoint === 'GET /late');
    expect(late.reduce((a, w) => a + w.requests, 0)).toBe(3);
    expect(windows.some((w) => w.endpoint === 'GET /after-reply')).toBe(false);
    const lateLatency = late.map((w) => LatencySketch.fromSerialized(w.latency));
    expect(Math.min(...lateLatency.map((l) => l.min))).toBeGreaterThanOrEqual(145);
    expect(Math.max(...lateLatency.map((l) => l.max))).toBeLessThan(390);
    const fail = windows.filter((w) => w.endpoint === 'GET /fail');
    expect(fail.reduce((a, w) => a + w.requests, 0)).toBe(1);
    expect(fail.reduce((a, w) => a + w.errors, 0)).toBe(1);
    // Its handler answered at once, but its response waited for the first one's.
    expect(LatencySketch.fromSerialized(fail[0]!.latency).min).toBeGreaterThanOrEqual(140);
  });

  it("sees requests through the server's own listener, or a listener of its own next to others", async () => {
    // The usual server: Fastify's handler stays the only 'request' listener (wrapped).
    expect(app.server.listenerCount('request')).toBe(1);
    const other = Fastify();
    const seen: string[] = [];
    other.server.on('request', (req: { url?: string }) => seen.push(req.url ?? ''));
    await other.register(flagsPlugin, { client });
    other.get('/other', async (request) => {
      await new Promise((r) => setTimeout(r, 60));
      return { variant: request.flags.variant('experiment.checkout') };
    });
    const address = await other.listen({ port: 0, host: '127.0.0.1' });
    expect(other.server.listenerCount('request')).toBe(3);
    const res = await fetch(`${address}/other`, { headers: { 'x-user-id': 'u-other' } });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    expect(seen).toEqual(['/other']);
    await new Promise((r) => setTimeout(r, 50));
    await other.close();
    await client.close();
    const windows = sentWindows().filter((w) => w.endpoint === 'GET /other');
    expect(windows.reduce((a, w) => a + w.requests, 0)).toBe(1);
    expect(LatencySketch.fromSerialized(windows[0]!.latency).min).toBeGreaterThanOrEqual(55);
  });

  it('records replies that end after send (stream, async onSend hook, hijack) and errors, once each, until they end', async () => {
    const other = Fastify();
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    await other.register(async (scope) => {
      await scope.register(flagsPlugin, { client });
      scope.get('/stream', async (request, reply) => {
        request.flags.variant('experiment.checkout');
        return reply.send(
          Readable.from(
            (async function* () {
              yield 'a';
              await sleep(100);
              yield 'b';
            })(),
          ),
        );
      });
      scope.get(
        '/hooked',
        {
          onSend: async (_request, _reply, payload) => {
            await sleep(80);
            return payload;
          },
        },
        async (request) => ({ variant: request.flags.variant('experiment.checkout') }),
      );
      scope.get('/hijack', (request, reply) => {
        request.flags.variant('experiment.checkout');
        reply.hijack();
        setTimeout(() => {
          reply.raw.writeHead(201, { 'content-type': 'text/plain' });
          reply.raw.end('raw');
        }, 70);
      });
      scope.get('/throws', async (request) => {
        request.flags.variant('experiment.checkout');
        throw new Error('boom');
      });
      scope.get('/used-after-send', (request, reply) => {
        reply.send({ sent: true });
        // Ended already (not yet finished): evaluated, not recorded.
        request.flags.variant('experiment.checkout');
      });
      scope.get('/send-is', async (_request, reply) => ({ wrapped: reply.send.name === 'sendAndRecord' }));
    });
    // A sibling context without the plugin keeps Fastify's own `send`.
    other.get('/outside', async (_request, reply) => ({ wrapped: reply.send.name === 'sendAndRecord' }));
    const address = await other.listen({ port: 0, host: '127.0.0.1' });
    const get = async (path: string) => {
      const res = await fetch(`${address}${path}`, { headers: { 'x-user-id': 'u-end' } });
      return { status: res.status, body: await res.text() };
    };
    expect(await get('/stream')).toEqual({ status: 200, body: 'ab' });
    expect((await get('/hooked')).status).toBe(200);
    expect(await get('/hijack')).toEqual({ status: 201, body: 'raw' });
    expect((await get('/throws')).status).toBe(500);
    expect((await get('/used-after-send')).status).toBe(200);
    // Keep-alive: the same connection again, each request on its own.
    expect((await get('/hooked')).status).toBe(200);
    expect(JSON.parse((await get('/send-is')).body)).toEqual({ wrapped: true });
    expect(JSON.parse((await get('/outside')).body)).toEqual({ wrapped: false });
    await sleep(50);
    await other.close();
    await client.close();
    const windows = sentWindows();
    const of = (endpoint: string) => {
      const ws = windows.filter((w) => w.endpoint === endpoint);
      const sketch = LatencySketch.fromSerialized(ws[0]!.latency);
      for (const w of ws.slice(1)) sketch.merge(LatencySketch.fromSerialized(w.latency));
      return {
        requests: ws.reduce((a, w) => a + w.requests, 0),
        errors: ws.reduce((a, w) => a + w.errors, 0),
        sketch,
      };
    };
    const stream = of('GET /stream');
    expect(stream.requests).toBe(1);
    expect(stream.sketch.min).toBeGreaterThanOrEqual(95);
    const hooked = of('GET /hooked');
    expect(hooked.requests).toBe(2);
    expect(hooked.sketch.min).toBeGreaterThanOrEqual(75);
    const hijack = of('GET /hijack');
    expect(hijack).toMatchObject({ requests: 1, errors: 0 });
    expect(hijack.sketch.min).toBeGreaterThanOrEqual(65);
    expect(of('GET /throws')).toMatchObject({ requests: 1, errors: 1 });
    expect(windows.some((w) => w.endpoint === 'GET /used-after-send')).toBe(false);
  });

  it('with recordRequests: false evaluates as usual, records nothing and leaves the server as it was', async () => {
    const other = Fastify();
    const handler = other.server.listeners('request')[0];
    await other.register(flagsPlugin, { client, recordRequests: false });
    other.get('/unrecorded', async (request) => ({
      variant: request.evaluateFlag('experiment.checkout').variant,
      ctx: request.flags.context,
    }));
    const address = await other.listen({ port: 0, host: '127.0.0.1' });
    // Fastify's handler is still the server's only 'request' listener, not wrapped.
    expect(other.server.listeners('request')).toEqual([handler]);
    const res = await fetch(`${address}/unrecorded`, { headers: { 'x-user-id': 'u-norec' } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { variant: string; ctx: Record<string, string> };
    expect(['control', 'variant_a']).toContain(body.variant);
    expect(body.ctx).toEqual({ userId: 'u-norec' });
    await other.close();
    await client.close();
    expect(sentWindows().filter((w) => w.endpoint === 'GET /unrecorded')).toEqual([]);
    // The evaluation itself still counts (flag usage), and the exposure is still reported.
    const evaluations = received
      .filter((r) => r.path === '/api/sdk/v1/metrics')
      .flatMap((r) => (r.body as unknown as MetricsBatch).evaluations ?? []);
    const counted = evaluations.filter((e) => e.flag === 'experiment.checkout');
    expect(counted.reduce((a, e) => a + e.count, 0)).toBe(1);
    const exposures = received
      .filter((r) => r.path === '/api/sdk/v1/exposures')
      .flatMap((r) => (r.body as { exposures: { unitKey: string }[] }).exposures);
    expect(exposures.map((e) => e.unitKey)).toEqual(['u-norec']);
  });

  it('evaluates injected requests; records them only with injectedRequests', async () => {
    const injected = await app.inject({ method: 'GET', url: '/fail', headers: { 'x-user-id': 'u-inj' } });
    expect(injected.statusCode).toBe(503);
    const body = await app.inject({
      method: 'POST',
      url: '/orders/1',
      headers: { 'x-user-id': 'u-inj' },
      payload: {},
    });
    expect((body.json() as { result: { reason: string } }).result.reason).toBe('EXPERIMENT');

    const other = Fastify();
    await other.register(flagsPlugin, { client, injectedRequests: true });
    other.get('/late', async (request) => {
      await new Promise((r) => setTimeout(r, 120));
      return { variant: request.flags.variant('experiment.checkout') };
    });
    await other.ready();
    const res = await other.inject({ method: 'GET', url: '/late', headers: { 'x-user-id': 'u-inj' } });
    expect(res.statusCode).toBe(200);
    await new Promise((r) => setTimeout(r, 50));
    await other.close();
    await client.close();
    const windows = sentWindows();
    expect(windows.filter((w) => w.endpoint === 'GET /fail')).toEqual([]);
    expect(windows.filter((w) => w.endpoint === 'POST /orders/:id')).toEqual([]);
    const late = windows.filter((w) => w.endpoint === 'GET /late');
    expect(late.reduce((a, w) => a + w.requests, 0)).toBe(1);
    expect(LatencySketch.fromSerialized(late[0]!.latency).quantile(0.5)).toBeGreaterThanOrEqual(115);
  });

  it('records requests on an HTTP/2 server too (h2c), latency from arrival', async () => {
    const h2 = Fastify({ http2: true });
    await h2.register(flagsPlugin, { client });
    h2.get('/h2/:id', async (request) => {
      await new Promise((r) => setTimeout(r, 60));
      return { variant: request.flags.variant('experiment.checkout') };
    });
    const address = await h2.listen({ port: 0, host: '127.0.0.1' });
    const session = connect(address);
    try {
      const body = await new Promise<string>((resolve, reject) => {
        const stream = session.request({ ':path': '/h2/7', 'x-user-id': 'u-h2' });
        let data = '';
        stream.setEncoding('utf8');
        stream.on('data', (c: string) => (data += c));
        stream.on('end', () => resolve(data));
        stream.on('error', reject);
        stream.end();
      });
      expect((JSON.parse(body) as { variant: string }).variant).toBe(
        client.variant('experiment.checkout', { userId: 'u-h2' }),
      );
    } finally {
      session.close();
    }
    await new Promise((r) => setTimeout(r, 50));
    await h2.close();
    await client.close();
    const h2Windows = sentWindows().filter((w) => w.endpoint === 'GET /h2/:id');
    expect(h2Windows.reduce((a, w) => a + w.requests, 0)).toBe(1);
    expect(LatencySketch.fromSerialized(h2Windows[0]!.latency).quantile(0.5)).toBeGreaterThanOrEqual(55);
  });
});
