// SDK endpoints over real HTTP: prebuilt snapshot bytes (identity, gzip, brotli), canonical JSON and
// checksum, ETag / If-None-Match, SDK-key scoping, and the SSE stream (initial event, Last-Event-ID
// resume, push on change, heartbeat) on PGlite and Postgres.
import { createHash } from 'node:crypto';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { canonicalJson, checksumPayload, parseSnapshot, type Snapshot } from '@rupaya/flags-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storageKinds } from '../src/index';
import { expectError, FLAGS, openSse, rawGet, startTestServer, type TestServer } from './helpers';

describe.each(storageKinds)('snapshot and stream on %s', (kind) => {
  let s: TestServer;
  let key: string;
  let snapUrl: string;
  beforeAll(async () => {
    s = await startTestServer(kind, {
      SSE_HEARTBEAT_MS: '150',
      FEATURE_FLAGS_CACHE_TTL: '120',
      METRICS_AGGREGATION_INTERVAL: '5000',
      METRICS_FLUSH_INTERVAL: '2500',
    });
    key = await s.sdkKey('staging');
    snapUrl = `${s.cp.url}/api/sdk/v1/snapshot`;
  });
  afterAll(async () => {
    await s?.close();
  });

  it('serves the canonical, checksummed snapshot of the key’s environment', async () => {
    const r = await rawGet(snapUrl, { authorization: `Bearer ${key}` });
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    const text = r.body.toString('utf8');
    const json = JSON.parse(text) as Snapshot;
    expect(text).toBe(canonicalJson(json));
    const parsed = parseSnapshot(json);
    expect(parsed.ok).toBe(true);
    expect(json).toMatchObject({
      schemaVersion: 1,
      environment: 'staging',
      cacheTtlSec: 120,
      metricsWindowMs: 5000,
      metricsFlushMs: 2500,
    });
    expect(json.flags).toHaveLength(9);
    expect(json.flags.find((f) => f.key === 'feature.new-dashboard')?.rolloutPercentage).toBe(50);
    const sum = createHash('sha256').update(checksumPayload(json), 'utf8').digest('hex');
    expect(json.checksum).toBe(`sha256:${sum}`);
    expect(r.headers.etag).toBe(`"${json.revision}-${sum.slice(0, 16)}"`);
    expect(r.headers['x-rupaya-stale']).toBeUndefined();
    // Prebuilt: the same bytes again, generatedAt from the revision row.
    const again = await rawGet(snapUrl, { authorization: `Bearer ${key}` });
    expect(again.body.equals(r.body)).toBe(true);
  });

  it('gzip and brotli carry the same bytes; If-None-Match gives 304', async () => {
    const auth = { authorization: `Bearer ${key}` };
    const plain = await rawGet(snapUrl, auth);
    const gz = await rawGet(snapUrl, { ...auth, 'accept-encoding': 'gzip' });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(gz.body).equals(plain.body)).toBe(true);
    const br = await rawGet(snapUrl, { ...auth, 'accept-encoding': 'gzip, deflate, br' });
    expect(br.headers['content-encoding']).toBe('br');
    expect(brotliDecompressSync(br.body).equals(plain.body)).toBe(true);
    const noBr = await rawGet(snapUrl, { ...auth, 'accept-encoding': 'br;q=0, gzip' });
    expect(noBr.headers['content-encoding']).toBe('gzip');
    expect(gz.body.length).toBeLessThan(plain.body.length);
    const etag = plain.headers.etag!;
    for (const inm of [etag, `W/${etag}`, `"0-0000000000000000", ${etag}`]) {
      const nm = await rawGet(snapUrl, { ...auth, 'if-none-match': inm });
      expect(nm.status).toBe(304);
      expect(nm.body.length).toBe(0);
      expect(nm.headers.etag).toBe(etag);
    }
    expect((await rawGet(snapUrl, { ...auth, 'if-none-match': '"1-abc"' })).status).toBe(200);
  });

  it('a write makes a new revision with a new ETag; other environments are not affected', async () => {
    const auth = { authorization: `Bearer ${key}` };
    const before = await rawGet(snapUrl, auth);
    const devKey = await s.sdkKey('dev');
    const devBefore = await rawGet(snapUrl, { authorization: `Bearer ${devKey}` });
    const put = await s.call('PUT', `${FLAGS}/feature.offline-sync?environment=staging`, {
      body: { rolloutPercentage: 5 },
    });
    expect(put.status).toBe(200);
    const after = await rawGet(snapUrl, { ...auth, 'if-none-match': before.headers.etag! });
    expect(after.status).toBe(200);
    const snap = JSON.parse(after.body.toString()) as Snapshot;
    const prev = JSON.parse(before.body.toString()) as Snapshot;
    expect(snap.revision).toBe(prev.revision + 1);
    expect(snap.flags.find((f) => f.key === 'feature.offline-sync')?.rolloutPercentage).toBe(5);
    const devAfter = await rawGet(snapUrl, {
      authorization: `Bearer ${devKey}`,
      'if-none-match': devBefore.headers.etag!,
    });
    expect(devAfter.status).toBe(304);
  });

  it('refuses requests without an SDK key, and admin tokens', async () => {
    const none = await s.call('GET', '/api/sdk/v1/snapshot', { token: null });
    expectError(none, 401, 'UNAUTHORIZED');
    expectError(await s.call('GET', '/api/sdk/v1/snapshot'), 401, 'UNAUTHORIZED');
    expectError(
      await s.call('GET', '/api/sdk/v1/stream', { token: 'rpy_sdk_not-a-key' }),
      401,
      'UNAUTHORIZED',
    );
  });

  it('SSE: sends the current snapshot on connect, pushes each new revision, and heartbeats', async () => {
    const sse = await openSse(`${s.cp.url}/api/sdk/v1/stream`, { authorization: `Bearer ${key}` });
    try {
      expect(sse.status).toBe(200);
      expect(sse.headers['content-type']).toMatch(/^text\/event-stream/);
      const current = s.cp.app.snapshots.get('staging')!;
      const first = await sse.waitFor((e) => e.event === 'snapshot');
      expect(first.id).toBe(String(current.revision));
      expect(Buffer.from(first.data!, 'utf8').equals(current.identity)).toBe(true);
      await s.call('PUT', `${FLAGS}/feature.ai-budgeting?environment=staging`, {
        body: { rolloutPercentage: 7 },
      });
      const next = await sse.waitFor((e) => e.event === 'snapshot' && e.id === String(current.revision + 1));
      const snap = JSON.parse(next.data!) as Snapshot;
      expect(snap.flags.find((f) => f.key === 'feature.ai-budgeting')?.rolloutPercentage).toBe(7);
      await sse.waitFor((e) => e.comment === 'heartbeat', 3000);
    } finally {
      sse.close();
    }
  });

  it('SSE: Last-Event-ID equal to the current revision skips the initial snapshot', async () => {
    const current = s.cp.app.snapshots.get('staging')!;
    const sse = await openSse(`${s.cp.url}/api/sdk/v1/stream`, {
      authorization: `Bearer ${key}`,
      'last-event-id': String(current.revision),
    });
    try {
      await sse.waitFor((e) => e.comment === 'heartbeat', 3000);
      expect(sse.events.filter((e) => e.event === 'snapshot')).toHaveLength(0);
      await s.call('POST', `${FLAGS}/canary.new-payment-processor/resume-canary?environment=staging`);
      const pushed = await sse.waitFor((e) => e.event === 'snapshot');
      expect(pushed.id).toBe(String(current.revision + 1));
      // An older Last-Event-ID gets the current snapshot at once.
      const old = await openSse(`${s.cp.url}/api/sdk/v1/stream`, {
        authorization: `Bearer ${key}`,
        'last-event-id': String(current.revision - 1),
      });
      const got = await old.waitFor((e) => e.event === 'snapshot');
      expect(got.id).toBe(String(current.revision + 1));
      old.close();
    } finally {
      sse.close();
    }
  });

  it('an SDK holding a newer revision than the database (restored) moves the revision past it, once; a far-fetched claim changes nothing', async () => {
    const prodKey = await s.sdkKey('prod');
    const auth = { authorization: `Bearer ${prodKey}` };
    const before = JSON.parse((await rawGet(snapUrl, auth)).body.toString('utf8')) as Snapshot;
    const held = before.revision + 3;
    // A streaming SDK resumes from a revision this database never reached.
    const sse = await openSse(`${s.cp.url}/api/sdk/v1/stream`, { ...auth, 'last-event-id': String(held) });
    try {
      const pushed = await sse.waitFor((e) => e.event === 'snapshot', 5000);
      expect(pushed.id).toBe(String(held + 1));
      const after = JSON.parse(pushed.data!) as Snapshot;
      // The same flags, in a revision past the one the SDK holds.
      expect(after.flags).toEqual(before.flags);
      expect(parseSnapshot(after).ok).toBe(true);
    } finally {
      sse.close();
    }
    // A second claim within the interval changes nothing (one catch-up per environment at a time).
    await rawGet(snapUrl, { ...auth, 'if-none-match': `"${held + 10}-0000000000000000"` });
    await new Promise((r) => setTimeout(r, 500));
    expect(s.cp.app.snapshots.get('prod')!.revision).toBe(held + 1);

    // A claim a million revisions past the database is not a restore: ignored.
    const devKey = await s.sdkKey('dev');
    const devAuth = { authorization: `Bearer ${devKey}` };
    const dev = JSON.parse((await rawGet(snapUrl, devAuth)).body.toString('utf8')) as Snapshot;
    const far = await rawGet(snapUrl, {
      ...devAuth,
      'if-none-match': `"${dev.revision + 2_000_000}-0000000000000000"`,
    });
    expect(far.status).toBe(200);
    await new Promise((r) => setTimeout(r, 500));
    expect(s.cp.app.snapshots.get('dev')!.revision).toBe(dev.revision);
  });
});
