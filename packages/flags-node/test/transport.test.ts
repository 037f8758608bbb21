// The two transports (undici on a worker thread, the default, and undici inline) against a real
// loopback server: the same behaviour from both, and the client's choice between them.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { getEventListeners } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createClient } from '../src/client';
import { type Transport, type TransportRequest, UndiciTransport } from '../src/sync/transport';
import { transportWorkerScript, WorkerTransport } from '../src/sync/worker-transport';
import { boolFlag, captureLogger, makeSnapshot } from './helpers';

const distWorker = fileURLToPath(new URL('../dist/transport-worker.js', import.meta.url));

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;
let server: Server;
let url: string;
let handler: Handler;
const sockets = new Set<Socket>();
const open: Transport[] = [];

beforeEach(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      body += c;
    });
    req.on('end', () => handler(req, res, body));
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(async () => {
  for (const t of open.splice(0)) await t.close();
  for (const s of sockets) s.destroy();
  await new Promise<void>((r) => server.close(() => r()));
});

const get = (path: string, extra: Partial<TransportRequest> = {}): TransportRequest => ({
  method: 'GET',
  url: url + path,
  headers: { 'x-test': 'yes' },
  headersTimeoutMs: 2_000,
  bodyTimeoutMs: 2_000,
  ...extra,
});

const makers: [string, () => Transport][] = [
  ['worker', () => new WorkerTransport(transportWorkerScript()!, 2_000)],
  ['inline', () => new UndiciTransport(2_000)],
];

it('the built worker script exists (the test command builds first) and is the one found', () => {
  expect(existsSync(distWorker), `missing ${distWorker}: run the build first`).toBe(true);
  expect(fileURLToPath(transportWorkerScript()!)).toBe(distWorker);
});

describe.each(makers)('%s transport', (kind, make) => {
  const transport = () => {
    const t = make();
    open.push(t);
    return t;
  };

  it('sends a GET with its headers and returns status, headers and the gunzipped body', async () => {
    handler = (req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip', etag: '"r7"' });
      res.end(gzipSync(JSON.stringify({ seen: req.headers['x-test'], text: 'naïve €' })));
    };
    const t = transport();
    expect(t.kind).toBe(kind);
    const res = await t.send(get('/snap'));
    expect(res.statusCode).toBe(200);
    expect(res.headers.etag).toBe('"r7"');
    expect(JSON.parse(res.body)).toEqual({ seen: 'yes', text: 'naïve €' });
  });

  it('sends a POST body and returns non-2xx answers as answers', async () => {
    handler = (req, res, body) => {
      res.writeHead(422, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ method: req.method, got: JSON.parse(body) }));
    };
    const res = await transport().send({ ...get('/post'), method: 'POST', body: JSON.stringify({ a: 1 }) });
    expect(res.statusCode).toBe(422);
    expect(JSON.parse(res.body)).toEqual({ method: 'POST', got: { a: 1 } });
  });

  it('streams a body chunk by chunk, keeping a character split across chunks whole', async () => {
    const euro = Buffer.from('€', 'utf8');
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.flushHeaders();
      res.write(Buffer.concat([Buffer.from('data: 1'), euro.subarray(0, 1)]));
      setTimeout(() => res.write(euro.subarray(1)), 30);
      setTimeout(() => res.end('\n\n'), 60);
    };
    const res = await transport().stream(get('/stream'), new AbortController().signal);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/event-stream');
    let text = '';
    for await (const chunk of res.chunks) text += chunk;
    expect(text).toBe('data: 1€\n\n');
  });

  it('aborting a request to a server that never answers rejects at once with an AbortError', async () => {
    handler = () => {};
    const controller = new AbortController();
    const pending = transport().send(get('/hang', { headersTimeoutMs: 30_000 }), controller.signal);
    setTimeout(() => controller.abort(), 50);
    const started = Date.now();
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('aborting an open stream ends its iteration with an error, and the server sees the close', async () => {
    let closed = false;
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: first\n\n');
      res.on('close', () => {
        closed = true;
      });
    };
    const controller = new AbortController();
    const res = await transport().stream(get('/stream'), controller.signal);
    const seen: string[] = [];
    const reading = (async () => {
      for await (const chunk of res.chunks) {
        seen.push(chunk);
        controller.abort();
      }
    })();
    await expect(reading).rejects.toMatchObject({ name: 'AbortError' });
    expect(seen).toEqual(['data: first\n\n']);
    for (let i = 0; i < 100 && !closed; i++) await new Promise((r) => setTimeout(r, 10));
    expect(closed).toBe(true);
  });

  it('a server slower than headersTimeoutMs fails the request with undici’s timeout error', async () => {
    handler = (_req, res) => {
      setTimeout(() => res.end('late'), 1_000);
    };
    await expect(transport().send(get('/slow', { headersTimeoutMs: 100 }))).rejects.toMatchObject({
      code: 'UND_ERR_HEADERS_TIMEOUT',
    });
  });

  it('nothing listening: the connection error comes back with its code', async () => {
    await expect(transport().send({ ...get('/'), url: 'http://127.0.0.1:1/' })).rejects.toMatchObject({
      code: 'ECONNREFUSED',
    });
  });

  it('requests sharing one long-lived signal leave no abort listener behind', async () => {
    handler = (_req, res) => res.end('ok');
    const t = transport();
    const controller = new AbortController();
    for (let i = 0; i < 20; i++) await t.send(get('/'), controller.signal);
    await new Promise((r) => setImmediate(r));
    const after20 = getEventListeners(controller.signal, 'abort').length;
    for (let i = 0; i < 20; i++) await t.send(get('/'), controller.signal);
    await new Promise((r) => setImmediate(r));
    // undici may hold one listener of the last request a moment longer; none accumulate.
    expect(after20).toBeLessThanOrEqual(1);
    expect(getEventListeners(controller.signal, 'abort').length).toBe(after20);
  });

  it('after close() a request fails instead of hanging', async () => {
    handler = (_req, res) => res.end('ok');
    const t = transport();
    expect((await t.send(get('/'))).body).toBe('ok');
    await t.close();
    await expect(t.send(get('/'))).rejects.toThrow(/closed/);
  });
});

/** Runs an ES module `script` in a child Node process: its exit code and stdout (killed after 10 s). */
async function runScript(
  script: string,
  execArgv: string[] = [],
): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, [...execArgv, '--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`child still running after 10 s (stdout: ${out})`));
    }, 10_000);
    child.on('exit', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  return { code, out: out.trim() };
}

const distIndex = JSON.stringify(new URL('../dist/index.js', import.meta.url).href);

describe('the client’s transport', () => {
  const snapshot = makeSnapshot(3, [boolFlag('feature.a', true)]);
  beforeEach(() => {
    handler = (req, res) => {
      if (req.url === '/api/sdk/v1/snapshot') {
        res.writeHead(200, { 'content-type': 'application/json', etag: '"3"' });
        res.end(JSON.stringify(snapshot));
      } else {
        res.writeHead(404);
        res.end();
      }
    };
  });

  it.each([
    [undefined, 'worker'],
    ['worker', 'worker'],
    ['inline', 'inline'],
  ] as const)('transport: %s runs %s and serves the snapshot', async (option, kind) => {
    const c = createClient({
      url,
      sdkKey: 'k',
      streaming: false,
      metrics: { enabled: false },
      logger: captureLogger(),
      ...(option ? { transport: option } : {}),
    });
    try {
      expect(c.transport.kind).toBe(kind);
      expect(await c.ready({ timeoutMs: 5_000 })).toBe('READY');
      expect(c.isEnabled('feature.a', { userId: 'u' })).toBe(true);
    } finally {
      await c.close();
    }
  });

  it('in a process started with flags a worker rejects, the client works, and once closed the process exits on its own', async () => {
    const script = `
      import { createClient } from ${distIndex};
      const c = createClient({ url: ${JSON.stringify(url)}, sdkKey: 'k', streaming: true, metrics: { enabled: true } });
      const state = await c.ready({ timeoutMs: 5000 });
      await c.close();
      console.log(state, c.transport.kind);
    `;
    const { code, out } = await runScript(script, ['--expose-gc']);
    expect(code).toBe(0);
    expect(out).toBe('READY worker');
  });

  // Loading undici on the application's thread, then starting any worker thread, left a Fastify
  // hello-world 20–30% slower for the rest of its life (bench/README.md, issue 5): with the worker
  // transport the application's thread must not even load it. The inline transport's row shows the
  // check can see undici when it is there.
  it.each([
    ['worker', false],
    ['inline', true],
  ] as const)(
    'with the %s transport, undici is loaded on the application’s thread: %s',
    async (transport, loaded) => {
      const script = `
      import { createRequire } from 'node:module';
      import { createClient } from ${distIndex};
      const c = createClient({ url: ${JSON.stringify(url)}, sdkKey: 'k', streaming: true, transport: '${transport}',
        metrics: { enabled: true }, logger: { debug() {}, info() {}, warn() {}, error() {} } });
      const state = await c.ready({ timeoutMs: 5000 });
      const on = c.isEnabled('feature.a', { userId: 'u' });
      await c.flush();
      const undici = Object.keys(createRequire(import.meta.url).cache).some((p) => /[\\\\/]undici[\\\\/]/.test(p));
      await c.close();
      console.log(JSON.stringify({ state, on, kind: c.transport.kind, undici }));
    `;
      const { code, out } = await runScript(script);
      expect(code).toBe(0);
      expect(JSON.parse(out)).toEqual({ state: 'READY', on: true, kind: transport, undici: loaded });
    },
  );

  // A script (a job, a CLI, a migration) whose only work is to wait for the flags: ready() must
  // hold the process open until it settles. Before, with the control plane down, such a process
  // exited with code 13 (an unsettled top-level await) without ready() ever answering.
  it.each([
    ['worker', true],
    ['worker', false],
    ['inline', true],
    ['inline', false],
  ] as const)(
    'with nothing listening, a process that only awaits ready() gets its answer (%s transport, streaming %s)',
    async (transport, streaming) => {
      const down = createServer();
      await new Promise<void>((r) => down.listen(0, '127.0.0.1', () => r()));
      const downUrl = `http://127.0.0.1:${(down.address() as AddressInfo).port}`;
      await new Promise<void>((r) => down.close(() => r()));
      const snapshot = makeSnapshot(7, [boolFlag('feature.a', true)]);
      const script = (bootstrap: boolean) => `
        import { createClient } from ${distIndex};
        const c = createClient({
          url: ${JSON.stringify(downUrl)}, sdkKey: 'k', streaming: ${streaming}, transport: '${transport}',
          metrics: { enabled: false }, logger: { debug() {}, info() {}, warn() {}, error() {} },
          ${bootstrap ? `bootstrap: ${JSON.stringify(snapshot)},` : ''}
        });
        const t0 = performance.now();
        const state = await c.ready({ timeoutMs: 600 });
        const waited = Math.round(performance.now() - t0);
        console.log(JSON.stringify({ state, waited, on: c.isEnabled('feature.a', { userId: 'u' }) }));
        await c.close();
      `;
      const [cold, warm] = await Promise.all([runScript(script(false)), runScript(script(true))]);
      expect(cold.code).toBe(0);
      const coldResult = JSON.parse(cold.out);
      // Nothing to serve: NOT_READY when the time is up, and the caller's fallback (false).
      expect(coldResult).toMatchObject({ state: 'NOT_READY', on: false });
      expect(coldResult.waited).toBeGreaterThanOrEqual(550);
      expect(warm.code).toBe(0);
      const warmResult = JSON.parse(warm.out);
      // The bootstrap snapshot: STALE as soon as the first attempt failed, and its values.
      expect(warmResult).toMatchObject({ state: 'STALE', on: true });
      expect(warmResult.waited).toBeLessThan(600);
    },
  );
});
