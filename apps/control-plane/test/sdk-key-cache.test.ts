// The SDK-key cache of the snapshot hot path (SdkKeyResolver.cachedHeader, with its one-entry memo of
// the last Authorization header) on PGlite and Postgres: same answers as the database, a memo that
// never outlives the ttl nor a revocation, and the right environment when SDKs alternate.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearerCredential, createSdkKey, revokeSdkKey, SdkKeyResolver } from '../src/auth/index';
import { storageKinds } from '../src/index';
import { startTestServer, type TestServer } from './helpers';

const TTL_MS = 150;
const keyOf = (header: string) => bearerCredential(header);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(storageKinds)('SDK key cache on %s', (kind) => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer(kind);
  });
  afterAll(async () => {
    await s?.close();
  });

  it('answers from memory only what the database said within the ttl, for alternating keys', async () => {
    const db = s.cp.db.db;
    const prod = await createSdkKey(db, 'prod', 'test');
    const dev = await createSdkKey(db, 'dev', 'test');
    const resolver = new SdkKeyResolver(db, TTL_MS);
    const hp = `Bearer ${prod.key}`;
    const hd = `Bearer ${dev.key}`;
    expect(resolver.cachedHeader(hp, keyOf)).toBeUndefined(); // never resolved
    expect(await resolver.resolve(prod.key)).toEqual({ environment: 'prod', keyId: prod.id });
    expect(await resolver.resolve(dev.key)).toEqual({ environment: 'dev', keyId: dev.id });
    for (let i = 0; i < 4; i++) {
      expect(resolver.cachedHeader(hp, keyOf)?.environment).toBe('prod');
      expect(resolver.cachedHeader(hd, keyOf)?.environment).toBe('dev');
      expect(resolver.cachedHeader(hp, keyOf)?.environment).toBe('prod');
    }
    expect(resolver.cachedHeader('Bearer rpy_sdk_unknown', keyOf)).toBeUndefined();
    expect(resolver.cachedHeader('Basic abc', keyOf)).toBeUndefined();

    // Past the ttl: not answered from memory (the memo included) until the database is asked again…
    await sleep(TTL_MS + 50);
    expect(resolver.cachedHeader(hp, keyOf)).toBeUndefined();
    expect(await resolver.resolve(prod.key)).toEqual({ environment: 'prod', keyId: prod.id });
    // …and then the memo serves the fresh entry, not the expired one it held.
    expect(resolver.cachedHeader(hp, keyOf)?.environment).toBe('prod');
    expect(resolver.cachedHeader(hp, keyOf)?.environment).toBe('prod');

    // Revoked by another replica: refused once the ttl has passed and the database is asked.
    await revokeSdkKey(db, prod.id, 'test');
    await sleep(TTL_MS + 50);
    expect(resolver.cachedHeader(hp, keyOf)).toBeUndefined();
    expect(await resolver.resolve(prod.key)).toBeUndefined();
    expect(resolver.cachedHeader(hp, keyOf)).toBeUndefined();

    // Revoked on this replica: forgotten at once, even while it is the memo's last header.
    expect(await resolver.resolve(dev.key)).toEqual({ environment: 'dev', keyId: dev.id });
    expect(resolver.cachedHeader(hd, keyOf)?.environment).toBe('dev');
    resolver.forget(dev.id);
    expect(resolver.cachedHeader(hd, keyOf)).toBeUndefined();
  });

  it('a key revoked through the API is refused by the very next snapshot request', async () => {
    const key = await s.sdkKey('staging');
    const get = () => s.call('GET', '/api/sdk/v1/snapshot', { token: key });
    for (let i = 0; i < 3; i++) expect((await get()).status).toBe(200);
    const listed = await s.call<{ keys: { id: string }[] }>(
      'GET',
      '/api/admin/deployment/sdk-keys?environment=staging',
    );
    const id = listed.body.keys.at(-1)!.id;
    expect((await s.call('DELETE', `/api/admin/deployment/sdk-keys/${id}`)).status).toBe(200);
    expect((await get()).status).toBe(401);
  });
});
