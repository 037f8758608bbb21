// A real OIDC issuer on loopback for tests: discovery document + JWKS over HTTP, RS256 keys from jose.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWTPayload, SignJWT } from 'jose';

export interface LocalOidcIssuer {
  /** http://127.0.0.1:<port> */
  issuer: string;
  /** Signs a token with the issuer's published key (or with an unpublished one when `foreignKey`). */
  sign(
    claims: JWTPayload,
    options?: { expiresInSec?: number; issuer?: string; audience?: string; foreignKey?: boolean },
  ): Promise<string>;
  /** How many discovery and JWKS requests were served. */
  hits: { discovery: number; jwks: number };
  /** While down, every request gets a 500 (an issuer outage). */
  setDown(down: boolean): void;
  close(): Promise<void>;
}

export async function startOidcIssuer(defaultAudience: string): Promise<LocalOidcIssuer> {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const foreign = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'test-key-1', alg: 'RS256', use: 'sig' };
  const hits = { discovery: 0, jwks: 0 };
  let issuer = '';
  let down = false;
  const server: Server = createServer((req, res) => {
    if (down) {
      res.statusCode = 500;
      res.end();
    } else if (req.url === '/.well-known/openid-configuration') {
      hits.discovery++;
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          issuer,
          jwks_uri: `${issuer}/.well-known/jwks`,
          id_token_signing_alg_values_supported: ['RS256'],
        }),
      );
    } else if (req.url === '/.well-known/jwks') {
      hits.jwks++;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [jwk] }));
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    issuer,
    hits,
    setDown(value) {
      down = value;
    },
    async sign(claims, options = {}) {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid: 'test-key-1', typ: 'JWT' })
        .setIssuer(options.issuer ?? issuer)
        .setAudience(options.audience ?? defaultAudience)
        .setIssuedAt(now - 5)
        .setExpirationTime(now + (options.expiresInSec ?? 300))
        .sign(options.foreignKey ? foreign.privateKey : privateKey);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
