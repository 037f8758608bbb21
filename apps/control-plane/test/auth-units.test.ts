import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bearerCredential,
  generateSdkKey,
  hashCredential,
  matchesHash,
  OidcVerifier,
  parseExpiresIn,
  parseRoleMapping,
  RoleMappingError,
  roleForClaims,
  roleSatisfies,
} from '../src/auth/index';
import type { ApiError } from '../src/errors';
import { type LocalOidcIssuer, startOidcIssuer } from './auth-oidc-issuer';

describe('OIDC_ROLE_MAPPING', () => {
  const rules = parseRoleMapping(
    JSON.stringify([
      { claims: { repository: 'acme/app', environment: 'prod' }, role: 'editor' },
      { claims: { repository: 'acme/app', ref: 'refs/heads/*' }, role: 'viewer' },
      {
        claims: {
          repository_owner: 'acme',
          job_workflow_ref: 'acme/ops/.github/workflows/*@refs/heads/main',
        },
        role: 'admin',
      },
    ]),
  );

  it('gives the role of the first rule whose every claim matches', () => {
    expect(
      roleForClaims(rules, { repository: 'acme/app', environment: 'prod', ref: 'refs/heads/main' }),
    ).toBe('editor');
    expect(
      roleForClaims(rules, { repository: 'acme/app', environment: 'staging', ref: 'refs/heads/x/y' }),
    ).toBe('viewer');
    expect(
      roleForClaims(rules, {
        repository_owner: 'acme',
        job_workflow_ref: 'acme/ops/.github/workflows/deploy.yml@refs/heads/main',
      }),
    ).toBe('admin');
  });

  it('gives no role when no rule matches, or a claim is missing or of another type', () => {
    expect(roleForClaims(rules, { repository: 'evil/app', environment: 'prod' })).toBeUndefined();
    expect(
      roleForClaims(rules, { repository: 'acme/app', environment: 'staging', ref: 'refs/tags/v1' }),
    ).toBeUndefined();
    expect(roleForClaims(rules, { repository: 'acme/app' })).toBeUndefined();
    expect(roleForClaims(rules, { repository: { name: 'acme/app' }, environment: 'prod' })).toBeUndefined();
    // `*` must not let a suffix attack through: the text after the last `*` must end the value.
    expect(
      roleForClaims(rules, {
        repository_owner: 'acme',
        job_workflow_ref: 'acme/ops/.github/workflows/deploy.yml@refs/heads/main-evil',
      }),
    ).toBeUndefined();
  });

  it('matches array claims element-wise and numbers as strings', () => {
    const r = parseRoleMapping([{ claims: { groups: 'release-*', run_attempt: '1' }, role: 'editor' }]);
    expect(roleForClaims(r, { groups: ['dev', 'release-managers'], run_attempt: 1 })).toBe('editor');
    expect(roleForClaims(r, { groups: ['dev'], run_attempt: 1 })).toBeUndefined();
  });

  it('accepts one rule object, and empty input as no rules', () => {
    expect(parseRoleMapping('{"claims":{"sub":"x"},"role":"viewer"}')).toEqual([
      { claims: { sub: 'x' }, role: 'viewer' },
    ]);
    expect(parseRoleMapping('')).toEqual([]);
    expect(parseRoleMapping(undefined)).toEqual([]);
  });

  it.each([
    ['not json', 'OIDC_ROLE_MAPPING'],
    ['[1]', 'OIDC_ROLE_MAPPING[0]'],
    ['[{"claims":{"repository":"a/b"},"role":"owner"}]', 'OIDC_ROLE_MAPPING[0].role'],
    ['[{"claims":{},"role":"viewer"}]', 'OIDC_ROLE_MAPPING[0].claims'],
    ['[{"claims":[],"role":"viewer"}]', 'OIDC_ROLE_MAPPING[0].claims'],
    ['[{"claims":{"repository":1},"role":"viewer"}]', 'OIDC_ROLE_MAPPING[0].claims.repository'],
    ['[{"claims":{"a":"b"},"role":"viewer","roles":[]}]', 'OIDC_ROLE_MAPPING[0].roles'],
  ])('rejects %s naming %s', (input, path) => {
    let caught: unknown;
    try {
      parseRoleMapping(input);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(RoleMappingError);
    expect((caught as RoleMappingError).path).toBe(path);
    expect((caught as Error).message).toContain(path);
  });
});

describe('credentials', () => {
  it('checks a secret against its stored hash only when equal', () => {
    const key = generateSdkKey();
    expect(key).toMatch(/^rpy_sdk_[A-Za-z0-9_-]{43}$/);
    const stored = hashCredential(key);
    expect(stored).toMatch(/^[0-9a-f]{64}$/);
    expect(matchesHash(key, stored)).toBe(true);
    expect(matchesHash(`${key}x`, stored)).toBe(false);
    expect(matchesHash('', stored)).toBe(false);
    expect(matchesHash(key, 'not-hex')).toBe(false);
  });

  it('reads only Bearer credentials', () => {
    expect(bearerCredential('Bearer abc.def')).toBe('abc.def');
    expect(bearerCredential('bearer  abc ')).toBe('abc');
    expect(bearerCredential('Basic abc')).toBeUndefined();
    expect(bearerCredential('Bearer a b')).toBeUndefined();
    expect(bearerCredential(undefined)).toBeUndefined();
  });

  it('orders roles viewer < editor < admin', () => {
    expect(roleSatisfies('admin', 'editor')).toBe(true);
    expect(roleSatisfies('editor', 'editor')).toBe(true);
    expect(roleSatisfies('viewer', 'editor')).toBe(false);
    expect(roleSatisfies('editor', 'admin')).toBe(false);
  });

  it('parses token lifetimes', () => {
    expect(parseExpiresIn(undefined)).toBe(30 * 86_400);
    expect(parseExpiresIn(90)).toBe(90);
    expect(parseExpiresIn('15m')).toBe(900);
    expect(parseExpiresIn('12h')).toBe(43_200);
    expect(parseExpiresIn('30d')).toBe(2_592_000);
    expect(parseExpiresIn(0)).toHaveProperty('error');
    expect(parseExpiresIn('1y')).toHaveProperty('error');
    expect(parseExpiresIn('100000d')).toHaveProperty('error');
  });
});

describe('OidcVerifier against a local issuer over HTTP', () => {
  const audience = 'rupaya-test';
  let idp: LocalOidcIssuer;
  let verifier: OidcVerifier;

  beforeAll(async () => {
    idp = await startOidcIssuer(audience);
    verifier = new OidcVerifier({
      issuer: idp.issuer,
      audience,
      rules: parseRoleMapping([{ claims: { repository: 'acme/app', environment: 'prod' }, role: 'editor' }]),
    });
  });
  afterAll(() => idp.close());

  async function failure(token: Promise<string> | string): Promise<ApiError> {
    try {
      await verifier.authenticate(await token);
    } catch (error) {
      return error as ApiError;
    }
    throw new Error('expected the token to be refused');
  }

  it('maps a valid token to its role, fetching discovery and JWKS once', async () => {
    const claims = { sub: 'repo:acme/app:environment:prod', repository: 'acme/app', environment: 'prod' };
    expect(await verifier.authenticate(await idp.sign(claims))).toEqual({
      kind: 'oidc',
      subject: 'repo:acme/app:environment:prod',
      role: 'editor',
    });
    await verifier.authenticate(await idp.sign(claims));
    await verifier.authenticate(await idp.sign(claims));
    expect(idp.hits).toEqual({ discovery: 1, jwks: 1 });
  });

  it('accepts the issuer written with a trailing slash', async () => {
    const slashed = new OidcVerifier({
      issuer: `${idp.issuer}/`,
      audience,
      rules: [{ claims: { sub: 's' }, role: 'viewer' }],
    });
    expect(slashed.isIssuer(idp.issuer)).toBe(true);
    expect(slashed.isIssuer(`${idp.issuer}.evil.example`)).toBe(false);
    expect((await slashed.authenticate(await idp.sign({ sub: 's' }))).role).toBe('viewer');
  });

  it('refuses wrong claims (403), wrong audience, wrong issuer, a foreign key, expiry (401)', async () => {
    const good = { sub: 's', repository: 'acme/app', environment: 'prod' };
    const wrongClaims = await failure(idp.sign({ ...good, environment: 'staging' }));
    expect([wrongClaims.statusCode, wrongClaims.code]).toEqual([403, 'FORBIDDEN_ROLE']);
    const wrongAudience = await failure(idp.sign(good, { audience: 'someone-else' }));
    expect([wrongAudience.statusCode, wrongAudience.code]).toEqual([401, 'UNAUTHORIZED']);
    expect(wrongAudience.message).toContain('"aud"');
    const wrongIssuer = await failure(idp.sign(good, { issuer: 'https://evil.example' }));
    expect([wrongIssuer.statusCode, wrongIssuer.message]).toEqual([401, expect.stringContaining('"iss"')]);
    const foreign = await failure(idp.sign(good, { foreignKey: true }));
    expect(foreign.statusCode).toBe(401);
    const expired = await failure(idp.sign(good, { expiresInSec: -120 }));
    expect([expired.statusCode, expired.message]).toEqual([401, 'the OIDC token has expired']);
    const garbage = await failure('a.b.c');
    expect(garbage.statusCode).toBe(401);
  });

  it('answers 503 AUTH_PROVIDER_UNAVAILABLE when the issuer cannot be reached, and retries later', async () => {
    // A port that refuses: bind, note the port, close.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const refused = new OidcVerifier({
      issuer: `http://127.0.0.1:${port}`,
      audience,
      rules: [],
      timeoutMs: 1000,
    });
    const error = (await refused.authenticate(await idp.sign({ sub: 's' })).catch((e) => e)) as ApiError;
    expect([error.statusCode, error.code]).toEqual([503, 'AUTH_PROVIDER_UNAVAILABLE']);

    // An outage during discovery is not remembered: once the issuer is back, the same verifier works.
    // Within retryAfterMs the failure is answered without asking the issuer again.
    const fresh = new OidcVerifier({
      issuer: idp.issuer,
      audience,
      rules: [{ claims: { sub: 's' }, role: 'viewer' }],
      retryAfterMs: 300,
    });
    idp.setDown(true);
    const duringOutage = (await fresh.authenticate(await idp.sign({ sub: 's' })).catch((e) => e)) as ApiError;
    expect([duringOutage.statusCode, duringOutage.code]).toEqual([503, 'AUTH_PROVIDER_UNAVAILABLE']);
    idp.setDown(false);
    const before = idp.hits.discovery;
    const fastFail = (await fresh.authenticate(await idp.sign({ sub: 's' })).catch((e) => e)) as ApiError;
    expect(fastFail.code).toBe('AUTH_PROVIDER_UNAVAILABLE');
    expect(idp.hits.discovery).toBe(before);
    await new Promise((r) => setTimeout(r, 350));
    expect((await fresh.authenticate(await idp.sign({ sub: 's' }))).role).toBe('viewer');
    expect(idp.hits.discovery).toBe(before + 1);
  });
});
