// The auth matrix over real HTTP on loopback, on PGlite and on the real Postgres: no token, wrong
// token, viewer / editor / admin, SDK keys (scoped to their environment, refused on the admin API),
// expired / revoked / foreign JWTs, OIDC tokens from a local JWKS issuer (right and wrong claims,
// wrong audience, wrong issuer), and the generated admin token surviving a restart (file mode 0600).
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq } from 'drizzle-orm';
import { decodeJwt, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTestDatabase,
  type RunningControlPlane,
  type StorageKind,
  startControlPlane,
  storageKinds,
  type TestDatabase,
} from '../src/index';
import { ensureAdminToken, hashCredential } from '../src/auth/index';
import { authSecrets } from '../src/db/schema/index';
import { type LocalOidcIssuer, startOidcIssuer } from './auth-oidc-issuer';

const AUDIENCE = 'rupaya-flags-test';
const FLAGS = '/api/admin/deployment/feature-flags';
const FLAG = `${FLAGS}/feature.new-dashboard`;

interface Reply {
  status: number;
  body: { error?: { code: string; message: string; field?: string } } & Record<string, unknown>;
  headers: Headers;
}

function client(base: string) {
  return async function call(
    method: string,
    path: string,
    options: { token?: string; authorization?: string; body?: unknown } = {},
  ): Promise<Reply> {
    const headers: Record<string, string> = {};
    if (options.authorization !== undefined) headers.authorization = options.authorization;
    else if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(base + path, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : {}, headers: res.headers };
  };
}

function expectError(reply: Reply, status: number, code: string): void {
  expect({ status: reply.status, code: reply.body.error?.code }).toEqual({ status, code });
  expect(typeof reply.body.error?.message).toBe('string');
}

async function startOn(
  db: TestDatabase,
  dataDir: string,
  env: Record<string, string>,
): Promise<RunningControlPlane> {
  return startControlPlane({
    ...(db.databaseUrl ? { databaseUrl: db.databaseUrl, dataDir } : { dataDir: db.dataDir }),
    env,
  });
}

describe.each(storageKinds)('auth on %s', (kind: StorageKind) => {
  let db: TestDatabase;
  let dataDir: string;
  let idp: LocalOidcIssuer;
  let cp: RunningControlPlane;
  let call: ReturnType<typeof client>;
  let env: Record<string, string>;
  const tokens: Record<'viewer' | 'editor' | 'admin', string> = { viewer: '', editor: '', admin: '' };

  beforeAll(async () => {
    db = await createTestDatabase(kind);
    dataDir = db.dataDir ?? (await mkdtemp(join(tmpdir(), 'rupaya-auth-')));
    idp = await startOidcIssuer(AUDIENCE);
    // No ADMIN_API_TOKEN and no JWT_SECRET: both are generated on this first start.
    env = {
      SDK_KEY_CACHE_TTL_MS: '100',
      OIDC_ISSUER: idp.issuer,
      OIDC_AUDIENCE: AUDIENCE,
      OIDC_ROLE_MAPPING: JSON.stringify([
        { claims: { repository: 'acme/shop', environment: 'prod' }, role: 'editor' },
        { claims: { repository: 'acme/shop' }, role: 'viewer' },
      ]),
    };
    cp = await startOn(db, dataDir, env);
    call = client(cp.url);
    for (const role of ['viewer', 'editor', 'admin'] as const) {
      const minted = await call('POST', '/api/admin/deployment/tokens', {
        token: cp.adminToken,
        body: { role, subject: `${role}-bot`, expiresIn: '1h' },
      });
      expect(minted.status).toBe(201);
      tokens[role] = minted.body.token as string;
    }
  });

  afterAll(async () => {
    await cp?.close();
    await idp?.close();
    await db?.drop();
    if (!db?.dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('refuses a request without credentials with 401 UNAUTHORIZED and WWW-Authenticate', async () => {
    const reply = await call('GET', FLAGS);
    expectError(reply, 401, 'UNAUTHORIZED');
    expect(reply.body.error?.message).toContain('Authorization');
    expect(reply.headers.get('www-authenticate')).toBe('Bearer realm="rupaya"');
  });

  it('refuses wrong credentials with 401', async () => {
    for (const authorization of [
      'Bearer nope',
      `Bearer rpy_admin_${randomBytes(32).toString('base64url')}`,
      `Basic ${Buffer.from(`admin:${cp.adminToken}`).toString('base64')}`,
      `Bearer ${cp.adminToken}x`,
      'Bearer eyJhbGciOiJIUzI1NiJ9.e30.c2ln',
    ]) {
      expectError(await call('GET', FLAGS, { authorization }), 401, 'UNAUTHORIZED');
    }
  });

  it('lets a viewer read but not write (403 FORBIDDEN_ROLE)', async () => {
    expect((await call('GET', FLAGS, { token: tokens.viewer })).status).toBe(200);
    expect((await call('GET', FLAG, { token: tokens.viewer })).status).toBe(200);
    const write = await call('PUT', FLAG, { token: tokens.viewer, body: { rolloutPercentage: 10 } });
    expectError(write, 403, 'FORBIDDEN_ROLE');
    expect(write.body.error?.message).toBe('this call needs role editor; the credentials have role viewer');
    expectError(
      await call('POST', '/api/admin/deployment/sdk-keys', {
        token: tokens.viewer,
        body: { environment: 'dev' },
      }),
      403,
      'FORBIDDEN_ROLE',
    );
  });

  it('lets an editor write flags but not manage keys or tokens', async () => {
    const write = await call('PUT', FLAG, {
      token: tokens.editor,
      body: { rolloutPercentage: 12, reason: 'auth test' },
    });
    expect(write.status).toBe(200);
    const audit = await call('GET', `${FLAG}/audit`, { token: tokens.editor });
    expect(JSON.stringify(audit.body)).toContain('editor-bot');
    expectError(
      await call('POST', '/api/admin/deployment/sdk-keys', {
        token: tokens.editor,
        body: { environment: 'dev' },
      }),
      403,
      'FORBIDDEN_ROLE',
    );
    expectError(
      await call('POST', '/api/admin/deployment/tokens', {
        token: tokens.editor,
        body: { role: 'admin', subject: 'x' },
      }),
      403,
      'FORBIDDEN_ROLE',
    );
    expectError(
      await call('GET', '/api/admin/deployment/tokens', { token: tokens.editor }),
      403,
      'FORBIDDEN_ROLE',
    );
  });

  it('tells each credential who it is (whoami)', async () => {
    const whoami = (token: string) => call('GET', '/api/admin/deployment/whoami', { token });
    expect((await whoami(cp.adminToken)).body).toEqual({
      kind: 'admin-token',
      subject: 'admin',
      role: 'admin',
    });
    expect((await whoami(tokens.viewer)).body).toEqual({
      kind: 'jwt',
      subject: 'viewer-bot',
      role: 'viewer',
    });
    expect((await whoami(tokens.editor)).body).toEqual({
      kind: 'jwt',
      subject: 'editor-bot',
      role: 'editor',
    });
  });

  it('lets an admin token and an admin JWT do everything', async () => {
    for (const token of [cp.adminToken, tokens.admin]) {
      expect((await call('GET', FLAGS, { token })).status).toBe(200);
      expect((await call('PUT', FLAG, { token, body: { rolloutPercentage: 15 } })).status).toBe(200);
      expect((await call('GET', '/api/admin/deployment/tokens', { token })).status).toBe(200);
    }
    const list = await call('GET', '/api/admin/deployment/tokens', { token: tokens.admin });
    const listed = list.body.tokens as { subject: string; role: string }[];
    expect(listed.map((t) => `${t.subject}:${t.role}`)).toEqual(
      expect.arrayContaining(['viewer-bot:viewer', 'editor-bot:editor', 'admin-bot:admin']),
    );
    expect(JSON.stringify(list.body)).not.toContain(tokens.viewer);
  });

  it('scopes an SDK key to its environment and refuses it on the admin API', async () => {
    const created = await call('POST', '/api/admin/deployment/sdk-keys', {
      token: cp.adminToken,
      body: { environment: 'staging' },
    });
    expect(created.status).toBe(201);
    const key = created.body.key as string;
    expect(key).toMatch(/^rpy_sdk_/);
    expect(created.body).toMatchObject({ environment: 'staging', revokedAt: null });
    expect(created.headers.get('cache-control')).toBe('no-store');

    const snapshot = await call('GET', '/api/sdk/v1/snapshot', { token: key });
    expect(snapshot.status).toBe(200);
    expect(snapshot.body.environment).toBe('staging');
    // Naming another environment does not widen the key.
    const other = await call('GET', '/api/sdk/v1/snapshot?environment=prod', { token: key });
    if (other.status === 200) expect(other.body.environment).toBe('staging');
    else expect(other.status).toBeGreaterThanOrEqual(400);

    const onAdmin = await call('GET', FLAGS, { token: key });
    expectError(onAdmin, 401, 'UNAUTHORIZED');
    expect(onAdmin.body.error?.message).toContain('SDK keys only work on /api/sdk/v1/*');
    // …and admin credentials do not open the SDK API.
    expectError(await call('GET', '/api/sdk/v1/snapshot', { token: cp.adminToken }), 401, 'UNAUTHORIZED');
    expectError(await call('GET', '/api/sdk/v1/snapshot'), 401, 'UNAUTHORIZED');
    expectError(
      await call('GET', '/api/sdk/v1/snapshot', {
        token: `rpy_sdk_${randomBytes(32).toString('base64url')}`,
      }),
      401,
      'UNAUTHORIZED',
    );

    const listed = await call('GET', '/api/admin/deployment/sdk-keys?environment=staging', {
      token: cp.adminToken,
    });
    expect((listed.body.keys as { id: string }[]).map((k) => k.id)).toContain(created.body.id);
    expect(JSON.stringify(listed.body)).not.toContain(key);

    const revoked = await call('DELETE', `/api/admin/deployment/sdk-keys/${created.body.id}`, {
      token: cp.adminToken,
    });
    expect(revoked.status).toBe(200);
    expect(revoked.body.revokedAt).toEqual(expect.any(String));
    expectError(await call('GET', '/api/sdk/v1/snapshot', { token: key }), 401, 'UNAUTHORIZED');
    expectError(
      await call('DELETE', `/api/admin/deployment/sdk-keys/${created.body.id}`, { token: cp.adminToken }),
      404,
      'SDK_KEY_NOT_FOUND',
    );
  });

  it('audits every SDK key and token created or revoked, with who did it, in the same transaction', async () => {
    const AUDIT = '/api/admin/deployment/audit/credentials';
    const whoami = await call('GET', '/api/admin/deployment/whoami', { token: cp.adminToken });
    const adminActor = `${whoami.body.kind}:${whoami.body.subject}`;
    const botActor = 'jwt:admin-bot';
    // Created by the admin token, revoked by the admin JWT.
    const key = await call('POST', '/api/admin/deployment/sdk-keys', {
      token: cp.adminToken,
      body: { environment: 'prod' },
    });
    expect(key.status).toBe(201);
    expect(key.body.revokedBy).toBeNull();
    const keyId = key.body.id as string;
    const minted = await call('POST', '/api/admin/deployment/tokens', {
      token: tokens.admin,
      body: { role: 'viewer', subject: 'dashboard', expiresIn: '1h' },
    });
    expect(minted.status).toBe(201);
    const tokenId = minted.body.id as string;
    const keyRevoked = await call('DELETE', `/api/admin/deployment/sdk-keys/${keyId}`, {
      token: tokens.admin,
    });
    expect(keyRevoked.body).toMatchObject({ revokedBy: botActor, createdBy: adminActor });
    const tokenRevoked = await call('DELETE', `/api/admin/deployment/tokens/${tokenId}`, {
      token: cp.adminToken,
    });
    expect(tokenRevoked.body).toMatchObject({ revokedBy: adminActor, createdBy: botActor });
    // A failed change leaves no row: an unknown environment, and revoking twice.
    expectError(
      await call('POST', '/api/admin/deployment/sdk-keys', {
        token: cp.adminToken,
        body: { environment: 'nowhere' },
      }),
      404,
      'ENVIRONMENT_NOT_FOUND',
    );
    expectError(
      await call('DELETE', `/api/admin/deployment/tokens/${tokenId}`, { token: cp.adminToken }),
      404,
      'TOKEN_NOT_FOUND',
    );

    // The lists show who revoked.
    const keys = await call('GET', '/api/admin/deployment/sdk-keys?environment=prod', {
      token: cp.adminToken,
    });
    expect(
      (keys.body.keys as { id: string; revokedBy: string | null }[]).find((k) => k.id === keyId),
    ).toMatchObject({
      revokedBy: botActor,
    });
    const listedTokens = await call('GET', '/api/admin/deployment/tokens', { token: cp.adminToken });
    expect(
      (listedTokens.body.tokens as { id: string; revokedBy: string | null }[]).find((t) => t.id === tokenId),
    ).toMatchObject({ revokedBy: adminActor });

    // Newest first; the four changes are the last four entries, in the order they happened.
    const audit = await call('GET', `${AUDIT}?limit=4`, { token: cp.adminToken });
    expect(audit.status).toBe(200);
    const entries = audit.body.entries as Record<string, unknown>[];
    expect(entries.map((e) => [e.action, e.credentialId, e.actor])).toEqual([
      ['token.revoked', tokenId, adminActor],
      ['sdk_key.revoked', keyId, botActor],
      ['token.minted', tokenId, botActor],
      ['sdk_key.created', keyId, adminActor],
    ]);
    expect(entries[3]).toMatchObject({
      environment: 'prod',
      keyPrefix: key.body.keyPrefix,
      subject: null,
      role: null,
      createdAt: key.body.createdAt,
    });
    expect(entries[2]).toMatchObject({ environment: null, subject: 'dashboard', role: 'viewer' });
    expect(entries[0]!.createdAt).toBe(tokenRevoked.body.revokedAt);
    // No secret and no hash in the audit.
    expect(JSON.stringify(audit.body)).not.toContain(key.body.key as string);
    expect(JSON.stringify(audit.body)).not.toContain(minted.body.token as string);

    // One credential's history, one action, and paging below an id.
    const ofKey = await call('GET', `${AUDIT}?credentialId=${keyId}`, { token: cp.adminToken });
    expect((ofKey.body.entries as { action: string }[]).map((e) => e.action)).toEqual([
      'sdk_key.revoked',
      'sdk_key.created',
    ]);
    const mintedAll = await call('GET', `${AUDIT}?action=token.minted`, { token: cp.adminToken });
    const mintedEntries = mintedAll.body.entries as { action: string; subject: string }[];
    expect(mintedEntries.every((e) => e.action === 'token.minted')).toBe(true);
    // The three tokens of beforeAll and this one.
    expect(mintedEntries.map((e) => e.subject)).toEqual(
      expect.arrayContaining(['viewer-bot', 'editor-bot', 'admin-bot', 'dashboard']),
    );
    const below = await call('GET', `${AUDIT}?limit=2&before=${entries[1]!.id}`, { token: cp.adminToken });
    expect((below.body.entries as { id: number }[]).map((e) => e.id)).toEqual([
      entries[2]!.id,
      entries[3]!.id,
    ]);

    // Admin only; bad queries name their field.
    expectError(await call('GET', AUDIT, { token: tokens.editor }), 403, 'FORBIDDEN_ROLE');
    expectError(await call('GET', AUDIT), 401, 'UNAUTHORIZED');
    for (const [query, field] of [
      ['limit=0', 'limit'],
      ['limit=5000', 'limit'],
      ['limit=x', 'limit'],
      ['action=token.deleted', 'action'],
      ['before=-1', 'before'],
    ] as const) {
      const bad = await call('GET', `${AUDIT}?${query}`, { token: cp.adminToken });
      expectError(bad, 400, 'VALIDATION_FAILED');
      expect(bad.body.error?.field).toBe(`querystring.${field}`);
    }
  });

  it('audits every webhook created, changed, given a new secret or deleted, with who did it, without its URL or secret', async () => {
    const AUDIT = '/api/admin/deployment/audit/credentials';
    const HOOKS = '/api/admin/deployment/webhooks';
    const whoami = await call('GET', '/api/admin/deployment/whoami', { token: cp.adminToken });
    const adminActor = `${whoami.body.kind}:${whoami.body.subject}`;
    const url = 'https://hooks.example.test/services/T000/B000/incoming-secret-path';
    const created = await call('POST', HOOKS, {
      token: cp.adminToken,
      body: { url, environment: 'prod', events: ['flag.updated'] },
    });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    // Changed and given a new secret, by each admin once.
    const changed = await call('PATCH', `${HOOKS}/${id}`, {
      token: cp.adminToken,
      body: { environment: null, events: ['flag.*'] },
    });
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({ id, url, environment: null, events: ['flag.*'] });
    expect(changed.body.secret).toBeUndefined();
    const rotated = await call('POST', `${HOOKS}/${id}/secret`, { token: tokens.admin, body: {} });
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).toMatch(/^whsec_/);
    expect(rotated.body.secret).not.toBe(created.body.secret);
    // Deleted by another admin; deleting it again changes nothing and writes nothing.
    expect((await call('DELETE', `${HOOKS}/${id}`, { token: tokens.admin })).status).toBe(204);
    expectError(await call('DELETE', `${HOOKS}/${id}`, { token: tokens.admin }), 404, 'WEBHOOK_NOT_FOUND');
    // Only an admin manages webhooks: a refused change leaves no row either.
    expectError(
      await call('POST', HOOKS, { token: tokens.editor, body: { url, environment: 'prod' } }),
      403,
      'FORBIDDEN_ROLE',
    );

    const history = await call('GET', `${AUDIT}?credentialId=${id}`, { token: cp.adminToken });
    expect(history.status).toBe(200);
    const entries = history.body.entries as Record<string, unknown>[];
    expect(entries.map((e) => [e.action, e.actor, e.environment])).toEqual([
      ['webhook.deleted', 'jwt:admin-bot', null],
      ['webhook.secret_rotated', 'jwt:admin-bot', null],
      ['webhook.updated', adminActor, null],
      ['webhook.created', adminActor, 'prod'],
    ]);
    expect(entries[3]).toMatchObject({ createdAt: created.body.createdAt, keyPrefix: null, subject: null });
    expect(Date.parse(entries[0]!.createdAt as string)).toBeGreaterThanOrEqual(
      Date.parse(created.body.createdAt as string),
    );
    const deletedOnly = await call('GET', `${AUDIT}?action=webhook.deleted`, { token: cp.adminToken });
    expect((deletedOnly.body.entries as { credentialId: string }[]).map((e) => e.credentialId)).toContain(id);
    // Neither the URL (an incoming-webhook URL is a secret) nor the signing secret.
    const text = JSON.stringify(history.body);
    expect(text).not.toContain('incoming-secret-path');
    expect(text).not.toContain(created.body.secret as string);
    expect(text).not.toContain(rotated.body.secret as string);
  });

  it('validates key and token requests, naming the field', async () => {
    const unknownEnv = await call('POST', '/api/admin/deployment/sdk-keys', {
      token: cp.adminToken,
      body: { environment: 'moon' },
    });
    expectError(unknownEnv, 404, 'ENVIRONMENT_NOT_FOUND');
    const badRole = await call('POST', '/api/admin/deployment/tokens', {
      token: cp.adminToken,
      body: { role: 'owner', subject: 'x' },
    });
    expectError(badRole, 400, 'VALIDATION_FAILED');
    expect(badRole.body.error?.field).toBe('role');
    const noSubject = await call('POST', '/api/admin/deployment/tokens', {
      token: cp.adminToken,
      body: { role: 'viewer' },
    });
    expectError(noSubject, 400, 'VALIDATION_FAILED');
    expect(noSubject.body.error?.field).toBe('subject');
    const badExpiry = await call('POST', '/api/admin/deployment/tokens', {
      token: cp.adminToken,
      body: { role: 'viewer', subject: 'x', expiresIn: '100000d' },
    });
    expectError(badExpiry, 400, 'VALIDATION_FAILED');
    expect(badExpiry.body.error?.field).toBe('expiresIn');
    // The default environment when none is named.
    const dflt = await call('POST', '/api/admin/deployment/sdk-keys', { token: cp.adminToken, body: {} });
    expect([dflt.status, dflt.body.environment]).toEqual([201, 'dev']);
  });

  it('refuses expired, revoked and foreign-signed JWTs with 401', async () => {
    const claims = decodeJwt(tokens.editor);
    // The generated signing secret, read from where every replica reads it.
    const [row] = await cp.db.db.select().from(authSecrets).where(eq(authSecrets.name, 'jwt_secret'));
    expect(row?.value.length).toBeGreaterThanOrEqual(32);
    const secret = new TextEncoder().encode(row!.value);
    const now = Math.floor(Date.now() / 1000);
    const expired = await new SignJWT({ ...claims, iat: now - 7200, exp: now - 60 })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .sign(secret);
    const reply = await call('GET', FLAGS, { token: expired });
    expectError(reply, 401, 'UNAUTHORIZED');
    expect(reply.body.error?.message).toContain('expired');

    const foreign = await new SignJWT({ ...claims })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .sign(new TextEncoder().encode('another-secret-another-secret-another'));
    expectError(await call('GET', FLAGS, { token: foreign }), 401, 'UNAUTHORIZED');
    // Validly signed but never minted here (e.g. a forged role): not in api_tokens → 401.
    const unrecorded = await new SignJWT({ ...claims, role: 'admin', jti: 'not-minted' })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .sign(secret);
    expectError(await call('GET', FLAGS, { token: unrecorded }), 401, 'UNAUTHORIZED');

    const victim = await call('POST', '/api/admin/deployment/tokens', {
      token: cp.adminToken,
      body: { role: 'viewer', subject: 'leaver', expiresIn: 600 },
    });
    expect((await call('GET', FLAGS, { token: victim.body.token as string })).status).toBe(200);
    const revoked = await call('DELETE', `/api/admin/deployment/tokens/${victim.body.id}`, {
      token: cp.adminToken,
    });
    expect(revoked.status).toBe(200);
    const after = await call('GET', FLAGS, { token: victim.body.token as string });
    expectError(after, 401, 'UNAUTHORIZED');
    expect(after.body.error?.message).toContain('revoked');
  });

  it('maps OIDC tokens from the configured issuer to roles by their claims', async () => {
    const prod = await idp.sign({
      sub: 'repo:acme/shop:environment:prod',
      repository: 'acme/shop',
      environment: 'prod',
    });
    const write = await call('PUT', FLAG, {
      token: prod,
      body: { rolloutPercentage: 20, reason: 'from CI' },
    });
    expect(write.status).toBe(200);
    const audit = await call('GET', `${FLAG}/audit`, { token: prod });
    expect(JSON.stringify(audit.body)).toContain('repo:acme/shop:environment:prod');

    expect((await call('GET', '/api/admin/deployment/whoami', { token: prod })).body).toEqual({
      kind: 'oidc',
      subject: 'repo:acme/shop:environment:prod',
      role: 'editor',
    });

    const branch = await idp.sign({ sub: 'repo:acme/shop:ref:refs/heads/x', repository: 'acme/shop' });
    expect((await call('GET', FLAGS, { token: branch })).status).toBe(200);
    expectError(
      await call('PUT', FLAG, { token: branch, body: { rolloutPercentage: 1 } }),
      403,
      'FORBIDDEN_ROLE',
    );

    const stranger = await idp.sign({
      sub: 'repo:evil/shop:environment:prod',
      repository: 'evil/shop',
      environment: 'prod',
    });
    const refused = await call('GET', FLAGS, { token: stranger });
    expectError(refused, 403, 'FORBIDDEN_ROLE');
    expect(refused.body.error?.message).toContain('OIDC_ROLE_MAPPING');

    const good = { sub: 's', repository: 'acme/shop', environment: 'prod' };
    const wrongAudience = await call('GET', FLAGS, { token: await idp.sign(good, { audience: 'not-us' }) });
    expectError(wrongAudience, 401, 'UNAUTHORIZED');
    expect(wrongAudience.body.error?.message).toContain('aud');
    expectError(
      await call('GET', FLAGS, { token: await idp.sign(good, { issuer: 'https://issuer.example' }) }),
      401,
      'UNAUTHORIZED',
    );
    expectError(
      await call('GET', FLAGS, { token: await idp.sign(good, { foreignKey: true }) }),
      401,
      'UNAUTHORIZED',
    );
    expectError(
      await call('GET', FLAGS, { token: await idp.sign(good, { expiresInSec: -120 }) }),
      401,
      'UNAUTHORIZED',
    );
  });

  it('describes bearer auth in the OpenAPI document at /docs', async () => {
    const res = await fetch(`${cp.url}/docs/json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as {
      openapi: string;
      components: { securitySchemes: Record<string, { type: string; scheme: string }> };
      paths: Record<string, Record<string, { security?: unknown[] }>>;
    };
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.paths['/api/admin/deployment/tokens']?.post?.security).toEqual([{ bearerAuth: [] }]);
    expect(doc.paths['/api/sdk/v1/snapshot']?.get?.security).toEqual([{ sdkKey: [] }]);
    expect((await fetch(`${cp.url}/docs`)).status).toBeLessThan(400);
  });

  it('agrees on one admin token when instances start at once, and says so when the token file is elsewhere', async () => {
    const db2 = cp.db.db;
    const [original] = await db2.select().from(authSecrets).where(eq(authSecrets.name, 'admin_token_hash'));
    const elsewhere = await mkdtemp(join(tmpdir(), 'rupaya-auth-elsewhere-'));
    try {
      // A second instance with another data folder: the token exists but is not its to print.
      const other = await ensureAdminToken(db2, { adminApiToken: undefined, dataDir: elsewhere });
      expect(other).toMatchObject({ token: undefined, source: 'unknown' });
      expect(other.message).toContain('ADMIN_API_TOKEN');

      // Two first starts racing on an empty database and a shared folder: one token wins everywhere.
      await db2.delete(authSecrets).where(eq(authSecrets.name, 'admin_token_hash'));
      const results = await Promise.all([
        ensureAdminToken(db2, { adminApiToken: undefined, dataDir: elsewhere }),
        ensureAdminToken(db2, { adminApiToken: undefined, dataDir: elsewhere }),
      ]);
      const generated = results.filter((r) => r.source === 'generated');
      expect(generated).toHaveLength(1);
      const loser = results.find((r) => r.source !== 'generated')!;
      expect(['file', 'unknown']).toContain(loser.source);
      if (loser.source === 'file') expect(loser.token).toBe(generated[0]!.token);
      const [stored] = await db2.select().from(authSecrets).where(eq(authSecrets.name, 'admin_token_hash'));
      expect(stored?.value).toBe(hashCredential(generated[0]!.token!));
      expect((await readFile(join(elsewhere, 'admin-token'), 'utf8')).trim()).toBe(generated[0]!.token);
    } finally {
      await db2
        .update(authSecrets)
        .set({ value: original!.value })
        .where(eq(authSecrets.name, 'admin_token_hash'));
      await rm(elsewhere, { recursive: true, force: true });
    }
  });

  it('keeps accepting SDK keys it has seen while the database is down, and refuses keys it cannot check', async () => {
    const created = await call('POST', '/api/admin/deployment/sdk-keys', {
      token: cp.adminToken,
      body: { environment: 'prod' },
    });
    const key = created.body.key as string;
    const second = await call('POST', '/api/admin/deployment/sdk-keys', {
      token: cp.adminToken,
      body: { environment: 'prod' },
    });
    expect((await call('GET', '/api/sdk/v1/snapshot', { token: key })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 150)); // past SDK_KEY_CACHE_TTL_MS: the next use asks the database
    await cp.db.close();
    const stale = await call('GET', '/api/sdk/v1/snapshot', { token: key });
    expect([stale.status, stale.body.environment]).toEqual([200, 'prod']);
    // Never seen by this replica: cannot be checked, so it is not let in.
    const unchecked = await call('GET', '/api/sdk/v1/snapshot', { token: second.body.key as string });
    expectError(unchecked, 503, 'STORAGE_UNAVAILABLE');
  });

  // Last: restarts the control plane of this file.
  it('keeps the generated admin token in RUPAYA_DATA_DIR/admin-token (0600) and across restarts, with minted tokens', async () => {
    expect(cp.adminToken).toMatch(/^rpy_admin_/);
    const file = join(dataDir, 'admin-token');
    expect((await readFile(file, 'utf8')).trim()).toBe(cp.adminToken);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const first = cp.adminToken;
    await cp.close();

    cp = await startOn(db, dataDir, env);
    expect(cp.adminToken).toBe(first);
    call = client(cp.url);
    expect((await call('GET', FLAGS, { token: first })).status).toBe(200);
    // The generated JWT secret lives in the database, so tokens minted before the restart still verify.
    expect((await call('GET', FLAGS, { token: tokens.viewer })).status).toBe(200);
    await cp.close();

    // A bad OIDC configuration stops the start with a message naming the variable (checked before any
    // storage-specific work, so once is enough: on Postgres, where a start is cheap).
    if (kind === 'postgres') {
      await expect(
        startOn(db, dataDir, { ...env, OIDC_ROLE_MAPPING: '[{"claims":{},"role":"admin"}]' }),
      ).rejects.toThrow(/OIDC_ROLE_MAPPING\[0\]\.claims must name at least one claim/);
      await expect(startOn(db, dataDir, { OIDC_ISSUER: idp.issuer })).rejects.toThrow(/OIDC_AUDIENCE/);
    }

    // ADMIN_API_TOKEN takes over while set: the generated token stops working.
    const chosen = `rpy_admin_chosen_${randomBytes(12).toString('hex')}`;
    cp = await startOn(db, dataDir, { ...env, ADMIN_API_TOKEN: chosen });
    call = client(cp.url);
    expect(cp.adminToken).toBe(chosen);
    expect((await call('GET', FLAGS, { token: chosen })).status).toBe(200);
    expectError(await call('GET', FLAGS, { token: first }), 401, 'UNAUTHORIZED');
  });
});
