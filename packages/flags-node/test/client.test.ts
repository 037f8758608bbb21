import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createClient, type FlagsClient } from '../src/index';
import { boolFlag, captureLogger, LoopbackServer, makeSnapshot, waitFor } from './helpers';

let server: LoopbackServer;
let url: string;
let clients: FlagsClient[] = [];
let dir: string;

beforeEach(async () => {
  server = new LoopbackServer();
  url = await server.listen();
  dir = mkdtempSync(join(tmpdir(), 'rupaya-node-'));
});

afterEach(async () => {
  await Promise.all(clients.map((c) => c.close()));
  clients = [];
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

function client(options: Partial<Parameters<typeof createClient>[0]> = {}) {
  const logger = captureLogger();
  const c = createClient({
    url,
    sdkKey: 'sdk-test',
    logger,
    requestTimeoutMs: 2000,
    backoff: { initialMs: 20, maxMs: 100 },
    metrics: { enabled: false },
    ...options,
  });
  clients.push(c);
  return { c, logger };
}

/** Serves `current` on GET /snapshot (with ETag/304) and keeps SSE streams open. */
function serveSnapshots(state: { body: string; revision: number; gzip?: boolean }) {
  server.handle = (req, res) => {
    if (req.url === '/api/sdk/v1/snapshot') {
      const etag = `"${state.revision}-x"`;
      if (req.headers['if-none-match'] === etag) {
        res.writeHead(304, { etag });
        res.end();
        return;
      }
      if (state.gzip) {
        res.writeHead(200, { etag, 'content-type': 'application/json', 'content-encoding': 'gzip' });
        res.end(gzipSync(state.body));
        return;
      }
      res.writeHead(200, { etag, 'content-type': 'application/json' });
      res.end(state.body);
      return;
    }
    if (req.url === '/api/sdk/v1/stream') {
      server.openStream(res);
      if (req.headers['last-event-id'] !== String(state.revision)) {
        res.write(`id: ${state.revision}\nevent: snapshot\ndata: ${state.body}\n\n`);
      }
      return;
    }
    res.writeHead(404);
    res.end();
  };
}

describe('ready()', () => {
  it('returns NOT_READY within its timeout when nothing listens at the URL', async () => {
    const closed = new LoopbackServer();
    const deadUrl = await closed.listen();
    await closed.close();
    const { c } = client({ url: deadUrl });
    const t0 = Date.now();
    expect(await c.ready({ timeoutMs: 300 })).toBe('NOT_READY');
    expect(Date.now() - t0).toBeLessThan(1000);
    const r = c.evaluate('feature.x', { userId: 'u1' });
    expect(r).toMatchObject({ reason: 'NOT_READY', enabled: false, variant: null, value: undefined });
    expect(c.value('feature.x', {}, 'fallback')).toBe('fallback');
  });

  it('returns within its timeout when the server accepts and never answers, and close() does not hang', async () => {
    const sockets = new Set<Socket>();
    const tcp: TcpServer = createTcpServer((s) => sockets.add(s)); // accepts, reads nothing, answers nothing
    await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
    const port = (tcp.address() as { port: number }).port;
    const { c } = client({ url: `http://127.0.0.1:${port}`, requestTimeoutMs: 10_000 });
    const t0 = Date.now();
    expect(await c.ready({ timeoutMs: 400 })).toBe('NOT_READY');
    const waited = Date.now() - t0;
    expect(waited).toBeGreaterThanOrEqual(350);
    expect(waited).toBeLessThan(1500);
    expect(sockets.size).toBeGreaterThan(0); // the client did connect
    const t1 = Date.now();
    await c.close();
    expect(Date.now() - t1).toBeLessThan(1000);
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => tcp.close(() => r()));
  });

  it('resolves READY as soon as the first snapshot arrives (gzip accepted)', async () => {
    const snap = makeSnapshot(3, [boolFlag('feature.a', true)]);
    serveSnapshots({ body: JSON.stringify(snap), revision: 3, gzip: true });
    const { c } = client({ streaming: false });
    expect(await c.ready({ timeoutMs: 5000 })).toBe('READY');
    expect(c.revision).toBe(3);
    expect(c.keys()).toEqual(['feature.a']);
    expect(c.isEnabled('feature.a', { userId: 'u' })).toBe(true);
    expect(c.evaluate('feature.missing', {}).reason).toBe('NOT_FOUND');
  });
});

describe('snapshot verification keeps the last good snapshot', () => {
  it('rejects a bad checksum, an older or equal revision, a wrong environment and an invalid body', async () => {
    const good = makeSnapshot(5, [boolFlag('feature.a', true)]);
    const state = { body: JSON.stringify(good), revision: 5 };
    serveSnapshots(state);
    const { c, logger } = client({ streaming: true, pollIntervalMs: 60_000 });
    const changes: number[] = [];
    c.on('change', (e) => changes.push(e.revision));
    expect(await c.ready({ timeoutMs: 5000 })).toBe('READY');
    await waitFor(() => server.streams.size === 1, 5000, 'stream');

    const tampered = { ...makeSnapshot(6, [boolFlag('feature.a', false)]) };
    tampered.flags = [boolFlag('feature.a', true), boolFlag('feature.b', true)]; // checksum no longer matches
    server.pushSnapshot(JSON.stringify(tampered), 6);
    server.pushSnapshot(JSON.stringify(makeSnapshot(4, [boolFlag('feature.a', false)])), 4);
    server.pushSnapshot(
      JSON.stringify(makeSnapshot(7, [boolFlag('feature.a', false)], { environment: 'dev' })),
      7,
    );
    server.pushSnapshot(JSON.stringify({ ...makeSnapshot(8, []), schemaVersion: 99 }), 8);
    server.pushSnapshot('{"revision": 9, "flags": [', 9);
    const reasons = () => logger.lines.filter((l) => l.message.includes('rejected')).map((l) => l.message);
    await waitFor(() => reasons().length === 5, 5000, 'five rejections');
    expect(reasons()[0]).toMatch(/BAD_CHECKSUM/);
    expect(reasons()[1]).toMatch(/NOT_NEWER.*revision 4 is not newer than the held revision 5/);
    expect(reasons()[2]).toMatch(/WRONG_ENVIRONMENT.*"dev".*"prod"/);
    expect(reasons()[3]).toMatch(/INVALID_SNAPSHOT.*schemaVersion/);
    expect(reasons()[4]).toMatch(/MALFORMED_JSON/);
    expect(c.revision).toBe(5);
    expect(c.isEnabled('feature.a', { userId: 'u' })).toBe(true);
    expect(changes).toEqual([5]);

    // A good newer revision still goes through afterwards.
    const next = makeSnapshot(10, [boolFlag('feature.a', false)]);
    server.pushSnapshot(JSON.stringify(next), 10);
    await waitFor(() => c.revision === 10, 5000, 'revision 10');
    expect(c.isEnabled('feature.a', { userId: 'u' })).toBe(false);
    expect(changes).toEqual([5, 10]);
  });
});

describe('streaming', () => {
  it('reconnects after the stream drops, sending Last-Event-ID, and applies pushed revisions', async () => {
    const state = { body: JSON.stringify(makeSnapshot(1, [boolFlag('feature.a', false)])), revision: 1 };
    serveSnapshots(state);
    const { c } = client({ pollIntervalMs: 60_000 });
    await c.ready({ timeoutMs: 5000 });
    await waitFor(() => server.streams.size === 1, 5000, 'stream');
    server.dropStreams();
    await waitFor(
      () =>
        server.received.some((r) => r.path === '/api/sdk/v1/stream' && r.headers['last-event-id'] === '1'),
      5000,
      'reconnect with Last-Event-ID',
    );
    await waitFor(() => server.streams.size === 1, 5000, 'stream again');
    const next = makeSnapshot(2, [boolFlag('feature.a', true)]);
    state.body = JSON.stringify(next);
    state.revision = 2;
    server.pushSnapshot(state.body, 2);
    await waitFor(() => c.isEnabled('feature.a', { userId: 'u' }), 5000, 'flag flips');
    expect(c.revision).toBe(2);
  });
});

describe('stream liveness', () => {
  it('reconnects a stream that goes silent (no heartbeat) after streamIdleTimeoutMs', async () => {
    const snap = makeSnapshot(1, [boolFlag('feature.a', true)]);
    server.handle = (req, res) => {
      if (req.url === '/api/sdk/v1/stream') {
        server.openStream(res); // headers, then silence
        return;
      }
      res.writeHead(200, { etag: '"1-x"' });
      res.end(JSON.stringify(snap));
    };
    const { c } = client({ pollIntervalMs: 60_000, streamIdleTimeoutMs: 300 });
    expect(await c.ready({ timeoutMs: 5000 })).toBe('READY');
    const streams = () => server.received.filter((r) => r.path === '/api/sdk/v1/stream').length;
    await waitFor(() => streams() >= 3, 5000, 'reconnects of a silent stream');
    expect(c.state).toBe('READY');
  });
});

describe('bootstrap', () => {
  it('serves a bootstrap snapshot as STALE until the control plane answers with a newer one', async () => {
    const bootstrap = makeSnapshot(2, [boolFlag('feature.a', true)]);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    server.handle = async (_req, res) => {
      await gate;
      res.writeHead(200, { etag: '"3-x"' });
      res.end(JSON.stringify(makeSnapshot(3, [boolFlag('feature.a', false)])));
    };
    const { c } = client({ streaming: false, bootstrap: JSON.stringify(bootstrap) });
    expect(c.evaluate('feature.a', { userId: 'u' })).toMatchObject({
      enabled: true,
      reason: 'STALE',
      revision: 2,
    });
    release();
    expect(await c.ready({ timeoutMs: 5000 })).toBe('READY');
    expect(c.evaluate('feature.a', { userId: 'u' })).toMatchObject({
      enabled: false,
      reason: 'OFF',
      revision: 3,
    });
  });

  it('ignores an invalid bootstrap snapshot with a logged reason', () => {
    const bad = { ...makeSnapshot(2, [boolFlag('feature.a', true)]), checksum: `sha256:${'0'.repeat(64)}` };
    const { c, logger } = client({ url: 'http://127.0.0.1:9', bootstrap: bad });
    expect(c.state).toBe('NOT_READY');
    expect(logger.lines.some((l) => /bootstrap snapshot ignored: .*checksum/.test(l.message))).toBe(true);
  });
});

describe('cache file', () => {
  it('writes the last good snapshot and serves it as STALE at once after a restart with the server down', async () => {
    // In a directory that does not exist yet (a fresh volume): the client creates it.
    const cacheFile = join(dir, 'var', 'cache', 'flags-cache.json');
    serveSnapshots({ body: JSON.stringify(makeSnapshot(12, [boolFlag('feature.a', true)])), revision: 12 });
    const first = client({ cacheFile, streaming: false });
    expect(await first.c.ready({ timeoutMs: 5000 })).toBe('READY');
    await waitFor(() => {
      try {
        return JSON.parse(readFileSync(cacheFile, 'utf8')).snapshot.revision === 12;
      } catch {
        return false;
      }
    });
    await first.c.close();
    await server.close();
    server = new LoopbackServer(); // closed again in afterEach
    await server.listen();

    const { c } = client({ cacheFile, url: 'http://127.0.0.1:9' });
    // Values at once, before any network attempt finished.
    expect(c.state).toBe('STALE');
    expect(c.evaluate('feature.a', { userId: 'u' })).toMatchObject({
      enabled: true,
      reason: 'STALE',
      revision: 12,
    });
    const t0 = Date.now();
    expect(await c.ready({ timeoutMs: 3000 })).toBe('STALE');
    expect(Date.now() - t0).toBeLessThan(1500);
  });

  it('ignores a cache file written for another SDK key', async () => {
    const cacheFile = join(dir, 'flags-cache.json');
    serveSnapshots({ body: JSON.stringify(makeSnapshot(2, [boolFlag('feature.a', true)])), revision: 2 });
    const first = client({ cacheFile, streaming: false });
    await first.c.ready({ timeoutMs: 5000 });
    await waitFor(() => {
      try {
        return JSON.parse(readFileSync(cacheFile, 'utf8')).snapshot.revision === 2;
      } catch {
        return false;
      }
    });
    const { c, logger } = client({ cacheFile, sdkKey: 'other-key', url: 'http://127.0.0.1:9' });
    expect(c.state).toBe('NOT_READY');
    expect(logger.lines.some((l) => /another SDK key/.test(l.message))).toBe(true);
  });
});

describe('staleness', () => {
  it('says STALE once cacheTtlSec passes without an answer, and READY again when the server answers', async () => {
    const snap = makeSnapshot(1, [boolFlag('feature.a', true)], { cacheTtlSec: 0.3 });
    let answering = true;
    server.handle = (req, res) => {
      if (!answering) {
        res.destroy();
        return;
      }
      const etag = '"1-x"';
      if (req.headers['if-none-match'] === etag) {
        res.writeHead(304);
        res.end();
        return;
      }
      res.writeHead(200, { etag });
      res.end(JSON.stringify(snap));
    };
    const { c } = client({ streaming: false, pollIntervalMs: 100 });
    const events: string[] = [];
    c.on('stale', () => events.push('stale'));
    c.on('ready', () => events.push('ready'));
    expect(await c.ready({ timeoutMs: 5000 })).toBe('READY');
    answering = false;
    await waitFor(() => c.state === 'STALE', 5000, 'STALE');
    expect(c.evaluate('feature.a', { userId: 'u' })).toMatchObject({ enabled: true, reason: 'STALE' });
    answering = true;
    await waitFor(() => c.state === 'READY', 5000, 'READY again');
    expect(c.evaluate('feature.a', { userId: 'u' }).reason).toBe('DEFAULT');
    expect(events).toEqual(['ready', 'stale', 'ready']);
  });
});

describe('polling', () => {
  it('sends If-None-Match and backs off on failures, then resumes by itself', async () => {
    const snap = makeSnapshot(1, [boolFlag('feature.a', true)]);
    let failing = false;
    const times: number[] = [];
    server.handle = (req, res) => {
      times.push(Date.now());
      if (failing) {
        res.writeHead(503);
        res.end('{"error":{"code":"STORAGE_UNAVAILABLE","message":"down"}}');
        return;
      }
      if (req.headers['if-none-match'] === '"1-x"') {
        res.writeHead(304);
        res.end();
        return;
      }
      res.writeHead(200, { etag: '"1-x"' });
      res.end(JSON.stringify(snap));
    };
    const { c } = client({ streaming: false, pollIntervalMs: 50, backoff: { initialMs: 40, maxMs: 400 } });
    await c.ready({ timeoutMs: 5000 });
    await waitFor(() => server.received.length >= 3, 5000, 'polls');
    expect(server.received[1]?.headers['if-none-match']).toBe('"1-x"');
    failing = true;
    const before = times.length;
    await new Promise((r) => setTimeout(r, 1500));
    const failed = times.length - before;
    // 50 ms polling would make ~30 attempts; backoff with a 400 ms cap makes far fewer.
    expect(failed).toBeGreaterThan(2);
    expect(failed).toBeLessThan(20);
    failing = false;
    const resumed = times.length;
    await waitFor(() => times.length > resumed + 2, 5000, 'polls resume');
    expect(c.state).toBe('READY');
  });
});
