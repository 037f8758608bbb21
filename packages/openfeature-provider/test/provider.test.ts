import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ErrorCode, OpenFeature, ProviderEvents, StandardResolutionReasons } from '@openfeature/server-sdk';
import type { Flag, Snapshot } from '@rupaya/flags-core';
import { createClient, type FlagsClient, silentLogger, snapshotChecksum } from '@rupaya/flags-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RupayaProvider } from '../src/index';

const flags: Flag[] = [
  { key: 'f.static', type: 'string', enabled: true, value: 'x' },
  {
    key: 'f.targeted',
    type: 'string',
    enabled: true,
    variants: [
      { key: 'a', value: 'A' },
      { key: 'b', value: 'B' },
    ],
    defaultVariant: 'a',
    denyList: ['banned'],
    allowList: ['vip'],
    rules: [{ clauses: [{ attribute: 'country', op: 'eq', values: ['NZ'] }], variant: 'b' }],
  },
  { key: 'f.rollout', type: 'boolean', enabled: true, rolloutPercentage: 50 },
  { key: 'f.off-with-variant', type: 'boolean', enabled: false },
  { key: 'f.number', type: 'number', enabled: true, value: 3.5 },
  { key: 'f.json', type: 'json', enabled: true, value: { a: [1, 2] } },
];

function snapshot(revision: number, list: Flag[] = flags, cacheTtlSec = 300): Snapshot {
  const s: Snapshot = {
    schemaVersion: 1,
    environment: 'prod',
    revision,
    checksum: '',
    generatedAt: '2026-01-01T00:00:00.000Z',
    cacheTtlSec,
    flags: list,
  };
  s.checksum = snapshotChecksum(s);
  return s;
}

let server: Server;
let url: string;
let current: Snapshot;
let answering: boolean;
let client: FlagsClient;

beforeEach(async () => {
  current = snapshot(1);
  answering = true;
  server = createServer((req, res) => {
    if (!answering) {
      res.destroy();
      return;
    }
    const etag = `"${current.revision}-x"`;
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304);
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', etag });
    res.end(JSON.stringify(current));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(async () => {
  await OpenFeature.close();
  await client?.close();
  await new Promise<void>((r) => server.close(() => r()));
});

function newClient(extra: Partial<Parameters<typeof createClient>[0]> = {}) {
  client = createClient({
    url,
    sdkKey: 'k',
    streaming: false,
    pollIntervalMs: 100,
    backoff: { initialMs: 20, maxMs: 100 },
    logger: silentLogger,
    metrics: { enabled: false },
    ...extra,
  });
  return client;
}

describe('RupayaProvider resolution', () => {
  it('maps reasons, variants and errors', async () => {
    const provider = new RupayaProvider({ client: newClient() });
    await OpenFeature.setProviderAndWait('unit', provider);
    const of = OpenFeature.getClient('unit');
    const s = await of.getStringDetails('f.static', 'd');
    expect(s).toMatchObject({ value: 'x', reason: 'STATIC', variant: 'default' });
    expect(s.errorCode).toBeUndefined();
    expect(s.flagMetadata).toMatchObject({ revision: 1, rupayaReason: 'DEFAULT' });
    expect(await of.getStringDetails('f.targeted', 'd', { targetingKey: 'someone' })).toMatchObject({
      value: 'A',
      reason: 'DEFAULT',
    });
    expect(await of.getStringDetails('f.targeted', 'd', { targetingKey: 'u', country: 'NZ' })).toMatchObject({
      value: 'B',
      reason: 'TARGETING_MATCH',
    });
    expect(await of.getStringDetails('f.targeted', 'd', { targetingKey: 'vip' })).toMatchObject({
      reason: 'TARGETING_MATCH',
    });
    // Denied: the flag has no offVariant, so the caller's default.
    expect(await of.getStringDetails('f.targeted', 'd', { targetingKey: 'banned' })).toMatchObject({
      value: 'd',
      reason: 'DISABLED',
    });
    // Off, boolean: its offVariant (`off` = false) is served.
    expect(await of.getBooleanDetails('f.off-with-variant', true)).toMatchObject({
      value: false,
      reason: 'DISABLED',
      variant: 'off',
    });
    const split = await of.getBooleanDetails('f.rollout', false, { targetingKey: 'user-1' });
    expect(split.reason).toBe(StandardResolutionReasons.SPLIT);
    expect(split.value).toBe(client.isEnabled('f.rollout', { userId: 'user-1' }));
    expect(await of.getBooleanDetails('f.rollout', true, {})).toMatchObject({
      value: true,
      reason: 'ERROR',
      errorCode: ErrorCode.TARGETING_KEY_MISSING,
    });
    expect(await of.getNumberDetails('f.number', 0)).toMatchObject({ value: 3.5, reason: 'STATIC' });
    expect(await of.getObjectDetails('f.json', {})).toMatchObject({ value: { a: [1, 2] } });
    expect(await of.getBooleanDetails('f.number', false)).toMatchObject({
      value: false,
      reason: 'ERROR',
      errorCode: ErrorCode.TYPE_MISMATCH,
    });
    expect(await of.getStringDetails('f.nope', 'd')).toMatchObject({
      value: 'd',
      reason: 'ERROR',
      errorCode: ErrorCode.FLAG_NOT_FOUND,
    });
  });

  it('reports PROVIDER_NOT_READY before any snapshot and never throws', async () => {
    const provider = new RupayaProvider({
      client: newClient({ url: 'http://127.0.0.1:9' }),
      readyTimeoutMs: 100,
    });
    expect(provider.resolve('boolean', 'f.static', true)).toMatchObject({
      value: true,
      reason: 'ERROR',
      errorCode: ErrorCode.PROVIDER_NOT_READY,
    });
    await expect(provider.initialize()).rejects.toThrow(/no flag snapshot/);
  });
});

describe('RupayaProvider events', () => {
  it('emits CONFIGURATION_CHANGED with the changed keys, STALE when the server goes quiet, READY when it returns', async () => {
    current = snapshot(1, flags, 0.4);
    const provider = new RupayaProvider({ client: newClient() });
    const events: string[] = [];
    const changed: string[][] = [];
    OpenFeature.addHandler(ProviderEvents.ConfigurationChanged, (e) => {
      events.push('changed');
      changed.push((e?.flagsChanged as string[] | undefined) ?? []);
    });
    OpenFeature.addHandler(ProviderEvents.Stale, () => events.push('stale'));
    OpenFeature.addHandler(ProviderEvents.Ready, () => events.push('ready'));
    await OpenFeature.setProviderAndWait(provider);
    const until = async (pred: () => boolean) => {
      const end = Date.now() + 5000;
      while (!pred()) {
        if (Date.now() > end) throw new Error(`timeout; events: ${events.join(',')}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    await until(() => events.includes('ready'));
    current = snapshot(
      2,
      [...flags.slice(0, 5), { key: 'f.json', type: 'json', enabled: true, value: 2 }],
      0.4,
    );
    await until(() => events.includes('changed'));
    expect(changed[0]).toEqual(['f.json']);
    answering = false;
    await until(() => events.includes('stale'));
    expect(provider.resolve('string', 'f.static', 'd').reason).toBe('CACHED');
    answering = true;
    await until(() => events.lastIndexOf('ready') > events.indexOf('stale'));
    expect(provider.resolve('string', 'f.static', 'd').reason).toBe('STATIC');
  });
});
