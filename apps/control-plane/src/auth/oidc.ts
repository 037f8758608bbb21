import {
  createRemoteJWKSet,
  errors as joseErrors,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
} from 'jose';
import { ApiError, errors } from '../errors';
import type { Principal } from './roles';
import { type RoleMappingRule, roleForClaims } from './role-mapping';

export interface OidcOptions {
  /** OIDC_ISSUER, e.g. https://token.actions.githubusercontent.com */
  issuer: string;
  /** OIDC_AUDIENCE: the `aud` tokens must carry. */
  audience: string;
  rules: readonly RoleMappingRule[];
  /** Discovery and JWKS request timeout. */
  timeoutMs?: number;
  /** After a failed discovery, requests fail fast for this long before the issuer is asked again. */
  retryAfterMs?: number;
}

// Asymmetric algorithms only: a JWKS publishes public keys, and HS* with a public key would be forgeable.
const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

/** Clock skew allowed between this server and the issuer for exp/nbf/iat. */
const CLOCK_TOLERANCE_SEC = 30;

function authProviderUnavailable(message: string): ApiError {
  return new ApiError(503, 'AUTH_PROVIDER_UNAVAILABLE', message, undefined, { 'retry-after': '5' });
}

/**
 * Verifies tokens of one OIDC issuer: discovery document → jwks_uri, fetched on first use and cached
 * (jose keeps the key set, refetches on an unknown `kid` at most every 30 s, and at most every 10 min otherwise).
 */
export class OidcVerifier {
  private keySet: JWTVerifyGetKey | undefined;
  private pending: Promise<JWTVerifyGetKey> | undefined;
  private readonly timeoutMs: number;
  private lastFailure: { at: number; error: unknown } | undefined;

  constructor(private readonly options: OidcOptions) {
    this.timeoutMs = options.timeoutMs ?? 5000;
  }

  get issuer(): string {
    return this.options.issuer;
  }

  /** Whether a token's `iss` names this issuer (a trailing slash on either side is ignored). */
  isIssuer(iss: unknown): iss is string {
    return typeof iss === 'string' && iss.replace(/\/+$/, '') === this.options.issuer.replace(/\/+$/, '');
  }

  private async discover(): Promise<JWTVerifyGetKey> {
    const base = this.options.issuer.replace(/\/+$/, '');
    const url = `${base}/.well-known/openid-configuration`;
    let doc: { issuer?: unknown; jwks_uri?: unknown };
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(this.timeoutMs), redirect: 'error' });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      doc = (await res.json()) as typeof doc;
    } catch (error) {
      throw authProviderUnavailable(
        `could not fetch the OIDC discovery document ${url}: ${(error as Error).message}`,
      );
    }
    if (typeof doc.jwks_uri !== 'string') {
      throw authProviderUnavailable(`the OIDC discovery document ${url} has no jwks_uri`);
    }
    if (typeof doc.issuer === 'string' && doc.issuer.replace(/\/+$/, '') !== base) {
      throw authProviderUnavailable(
        `the OIDC discovery document names issuer ${doc.issuer}, not ${this.options.issuer}`,
      );
    }
    return createRemoteJWKSet(new URL(doc.jwks_uri), {
      timeoutDuration: this.timeoutMs,
      cooldownDuration: 30_000,
      cacheMaxAge: 600_000,
    });
  }

  private async jwks(): Promise<JWTVerifyGetKey> {
    if (this.keySet) return this.keySet;
    // One discovery request at a time. A failure is remembered briefly (so an outage of the issuer is not
    // multiplied by our request rate), then the next request retries.
    const failure = this.lastFailure;
    if (failure && Date.now() - failure.at < (this.options.retryAfterMs ?? 5000)) throw failure.error;
    this.pending ??= this.discover()
      .then((keySet) => {
        this.lastFailure = undefined;
        return keySet;
      })
      .catch((error: unknown) => {
        this.lastFailure = { at: Date.now(), error };
        throw error;
      })
      .finally(() => {
        this.pending = undefined;
      });
    this.keySet = await this.pending;
    return this.keySet;
  }

  /** The verified claims, or an ApiError: 401 for a bad token, 503 when the issuer cannot be reached. */
  async verify(token: string): Promise<JWTPayload> {
    const keySet = await this.jwks();
    try {
      const { payload } = await jwtVerify(token, keySet, {
        // Exact `iss` check, up to a trailing slash (OIDC_ISSUER may be written with or without one).
        issuer: [this.options.issuer.replace(/\/+$/, ''), `${this.options.issuer.replace(/\/+$/, '')}/`],
        audience: this.options.audience,
        algorithms: ALGORITHMS,
        clockTolerance: CLOCK_TOLERANCE_SEC,
        requiredClaims: ['exp'],
      });
      return payload;
    } catch (error) {
      if (error instanceof joseErrors.JWKSTimeout || error instanceof joseErrors.JWKSInvalid) {
        throw authProviderUnavailable(`could not fetch the OIDC signing keys: ${(error as Error).message}`);
      }
      if (error instanceof joseErrors.JWTExpired) throw errors.unauthorized('the OIDC token has expired');
      if (error instanceof joseErrors.JWTClaimValidationFailed) {
        throw errors.unauthorized(
          `the OIDC token's "${error.claim}" claim is not accepted (${error.reason})`,
        );
      }
      if (error instanceof joseErrors.JWKSNoMatchingKey) {
        throw errors.unauthorized('the OIDC token is not signed by a key of the issuer');
      }
      if (error instanceof joseErrors.JOSEError) {
        throw errors.unauthorized(`the OIDC token is not valid: ${error.message}`);
      }
      // A network failure while refreshing the key set.
      throw authProviderUnavailable(`could not verify the OIDC token: ${(error as Error).message}`);
    }
  }

  /** Verifies the token and maps its claims to a role (first matching OIDC_ROLE_MAPPING rule). */
  async authenticate(token: string): Promise<Principal> {
    const claims = await this.verify(token);
    const subject = typeof claims.sub === 'string' ? claims.sub : 'oidc';
    const role = roleForClaims(this.options.rules, claims as Record<string, unknown>);
    if (role === undefined) {
      throw new ApiError(
        403,
        'FORBIDDEN_ROLE',
        `no OIDC_ROLE_MAPPING rule matches the OIDC token of "${subject}", so it has no role`,
      );
    }
    return { kind: 'oidc', subject, role };
  }
}
