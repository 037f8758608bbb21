import fastifyJwt from '@fastify/jwt';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { type Config, ConfigError } from '../config';
import type { Db } from '../db/client';
import { ApiError, errors } from '../errors';
import { findActiveToken, TOKEN_ISSUER, type TokenClaims } from './api-tokens';
import {
  ADMIN_TOKEN_PREFIX,
  bearerCredential,
  hashCredential,
  matchesHash,
  SDK_KEY_PREFIX,
} from './credentials';
import { OidcVerifier } from './oidc';
import { parseRoleMapping, RoleMappingError } from './role-mapping';
import { isRole, type Principal, type Role, roleSatisfies, type SdkPrincipal } from './roles';
import { ensureJwtSecret, loadAdminTokenHash } from './secrets';
import { SdkKeyResolver } from './sdk-keys';

declare module 'fastify' {
  interface FastifyInstance {
    /** preHandler: the caller must hold `role` (or a higher one); sets `request.principal`. */
    requireRole(role: Role): (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
    /** preHandler for /api/sdk/v1/*: the caller must present an SDK key; sets `request.sdk`. */
    requireSdkKey: (request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void) => void;
    /**
     * The SDK principal of a request whose key was resolved recently (memory only, no database);
     * undefined otherwise — then `requireSdkKey` decides. For routes that authenticate inline.
     */
    knownSdkKey: (request: FastifyRequest) => SdkPrincipal | undefined;
    /** Auth services shared with the key/token routes. */
    auth: AuthServices;
  }
  interface FastifyRequest {
    principal?: Principal;
    sdk?: SdkPrincipal;
  }
}

export interface AuthServices {
  /** Signs the claims of a token minted by POST /tokens. */
  signToken(claims: TokenClaims): string;
  sdkKeys: SdkKeyResolver;
  /** Resolves the admin-API principal of a request, or throws 401/403/503 ApiErrors. */
  authenticate(request: FastifyRequest): Promise<Principal>;
}

export interface AuthPluginOptions {
  db: Db;
  config: Pick<
    Config,
    'adminApiToken' | 'jwtSecret' | 'oidcIssuer' | 'oidcAudience' | 'oidcRoleMapping' | 'env'
  >;
  /**
   * An admin token to accept (what `ensureAdminToken` returned). Optional: ADMIN_API_TOKEN and the
   * generated token's hash in the database are accepted without it.
   */
  adminToken?: string | undefined;
  /** How long a resolved SDK key is trusted before the database is asked again (default SDK_KEY_CACHE_TTL_MS or 60 s). */
  sdkKeyCacheTtlMs?: number;
}

const WWW_AUTHENTICATE = { 'www-authenticate': 'Bearer realm="rupaya"' };

/** The SDK key of a `Bearer <sdk key>` header; undefined for anything else. */
function sdkKeyOf(header: string): string | undefined {
  const credential = bearerCredential(header);
  return credential?.startsWith(SDK_KEY_PREFIX) ? credential : undefined;
}

function unauthorized(message: string): ApiError {
  return new ApiError(401, 'UNAUTHORIZED', message, undefined, WWW_AUTHENTICATE);
}

/** The payload of a JWT-shaped string, without verifying it (only to route it to the right verifier). */
function peekClaims(token: string): Record<string, unknown> | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const payload = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as unknown;
    return typeof payload === 'object' && payload !== null ? (payload as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function oidcRules(config: AuthPluginOptions['config']) {
  try {
    // The raw variable when present (the full format); otherwise what loadConfig parsed.
    return parseRoleMapping(config.env?.OIDC_ROLE_MAPPING ?? config.oidcRoleMapping);
  } catch (error) {
    if (error instanceof RoleMappingError) throw new ConfigError('OIDC_ROLE_MAPPING', error.message);
    throw error;
  }
}

/** SDK_KEY_CACHE_TTL_MS: how long a replica trusts an SDK key it has seen (default 60000). */
function sdkKeyCacheTtl(config: AuthPluginOptions['config']): number {
  const raw = config.env?.SDK_KEY_CACHE_TTL_MS?.trim();
  if (raw === undefined || raw === '') return 60_000;
  const ms = Number(raw);
  if (!Number.isInteger(ms) || ms < 0 || ms > 3_600_000) {
    throw new ConfigError('SDK_KEY_CACHE_TTL_MS', `must be an integer between 0 and 3600000, got "${raw}"`);
  }
  return ms;
}

async function auth(app: FastifyInstance, options: AuthPluginOptions): Promise<void> {
  const { db, config } = options;

  const secret = await ensureJwtSecret(db, config);
  await app.register(fastifyJwt, {
    secret,
    sign: { algorithm: 'HS256' },
    verify: { algorithms: ['HS256'], allowedIss: TOKEN_ISSUER, requiredClaims: ['exp', 'jti', 'sub'] },
  });

  let oidc: OidcVerifier | undefined;
  if (config.oidcIssuer !== undefined) {
    if (config.oidcAudience === undefined) {
      throw new ConfigError(
        'OIDC_AUDIENCE',
        'is required when OIDC_ISSUER is set (the audience tokens must carry)',
      );
    }
    oidc = new OidcVerifier({
      issuer: config.oidcIssuer,
      audience: config.oidcAudience,
      rules: oidcRules(config),
    });
  }

  // ADMIN_API_TOKEN when set; otherwise the hash of the generated token (read again if it appears later,
  // e.g. when ensureAdminToken runs after this plugin was registered).
  const givenAdminToken = config.adminApiToken ?? options.adminToken;
  const envAdminHash = givenAdminToken !== undefined ? hashCredential(givenAdminToken) : undefined;
  let storedAdminHash = envAdminHash === undefined ? await loadAdminTokenHash(db) : undefined;
  let lastAdminHashLoad = Date.now();

  async function isAdminToken(credential: string): Promise<boolean> {
    if (envAdminHash !== undefined) return matchesHash(credential, envAdminHash);
    if (storedAdminHash === undefined && credential.startsWith(ADMIN_TOKEN_PREFIX)) {
      if (Date.now() - lastAdminHashLoad > 250) {
        lastAdminHashLoad = Date.now();
        storedAdminHash = await loadAdminTokenHash(db);
      }
    }
    return storedAdminHash !== undefined && matchesHash(credential, storedAdminHash);
  }

  async function verifyMintedToken(credential: string): Promise<Principal> {
    let claims: Partial<TokenClaims>;
    try {
      claims = app.jwt.verify<Partial<TokenClaims>>(credential);
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === 'FAST_JWT_EXPIRED') throw unauthorized('the token has expired; mint a new one');
      throw unauthorized('the bearer token is not valid (unknown issuer, bad signature or claims)');
    }
    if (!isRole(claims.role) || typeof claims.jti !== 'string') {
      throw unauthorized('the bearer token has no valid role claim');
    }
    const recorded = await findActiveToken(db, claims.jti, credential);
    if (!recorded) throw unauthorized('the token has been revoked or was not issued by this control plane');
    return { kind: 'jwt', subject: recorded.subject, role: recorded.role };
  }

  async function authenticate(request: FastifyRequest): Promise<Principal> {
    const header = request.headers.authorization;
    if (header === undefined || header === '') {
      throw unauthorized('missing Authorization header: send "Authorization: Bearer <token>"');
    }
    const credential = bearerCredential(header);
    if (credential === undefined) throw unauthorized('the Authorization header must be "Bearer <token>"');
    if (await isAdminToken(credential)) return { kind: 'admin-token', subject: 'admin', role: 'admin' };
    if (credential.startsWith(SDK_KEY_PREFIX)) {
      throw unauthorized(
        'SDK keys only work on /api/sdk/v1/*; the admin API needs an admin, JWT or OIDC token',
      );
    }
    const claims = peekClaims(credential);
    if (claims === undefined) throw unauthorized('the bearer token is not valid');
    if (oidc?.isIssuer(claims.iss)) return oidc.authenticate(credential);
    return verifyMintedToken(credential);
  }

  const sdkKeys = new SdkKeyResolver(db, options.sdkKeyCacheTtlMs ?? sdkKeyCacheTtl(config));

  app.decorateRequest('principal', undefined);
  app.decorateRequest('sdk', undefined);
  app.decorate('auth', {
    signToken: (claims: TokenClaims) => app.jwt.sign(claims),
    sdkKeys,
    authenticate,
  } satisfies AuthServices);

  app.decorate('requireRole', (role: Role) => {
    return async function requireRole(request: FastifyRequest): Promise<void> {
      const principal = await authenticate(request);
      if (!roleSatisfies(principal.role, role)) throw errors.forbiddenRole(role, principal.role);
      request.principal = principal;
    };
  });

  app.decorate('knownSdkKey', function knownSdkKey(request: FastifyRequest): SdkPrincipal | undefined {
    const header = request.headers.authorization;
    return header === undefined || header === '' ? undefined : sdkKeys.cachedHeader(header, sdkKeyOf);
  });

  // Callback style, not async: a key resolved recently (the snapshot poll of every SDK) is answered
  // from memory in the same tick — no promise, no microtask hop; only a cache miss awaits the database.
  app.decorate(
    'requireSdkKey',
    function requireSdkKey(request: FastifyRequest, _reply: FastifyReply, done: (err?: Error) => void): void {
      const header = request.headers.authorization;
      if (header === undefined || header === '') {
        done(unauthorized('missing Authorization header: send "Authorization: Bearer <sdk key>"'));
        return;
      }
      const known = sdkKeys.cachedHeader(header, sdkKeyOf);
      if (known !== undefined) {
        request.sdk = known;
        done();
        return;
      }
      const credential = bearerCredential(header);
      if (credential === undefined) {
        done(unauthorized('the Authorization header must be "Bearer <sdk key>"'));
        return;
      }
      if (!credential.startsWith(SDK_KEY_PREFIX)) {
        done(unauthorized(`the SDK API needs an SDK key (${SDK_KEY_PREFIX}…) of the environment to read`));
        return;
      }
      sdkKeys.resolve(credential).then(
        (sdk) => {
          if (sdk === undefined) done(unauthorized('unknown or revoked SDK key'));
          else {
            request.sdk = sdk;
            done();
          }
        },
        (err: Error) => done(err),
      );
    },
  );
}

/**
 * Authentication and roles for the whole app (not encapsulated): `app.requireRole(role)` for the admin
 * API, `app.requireSdkKey` for /api/sdk/v1/*. Register it before the routes that use them.
 */
export const authPlugin = fp(auth, { name: 'rupaya-auth', fastify: '5.x' });
