// Key management: SDK keys (per environment) and admin-API tokens (JWTs with a role), admin only;
// and whoami, for any role.
// Secrets are returned once, at creation; the database keeps only their SHA-256.
import type { FastifyInstance } from 'fastify';
import {
  createSdkKey,
  listCredentialsAudit,
  listSdkKeys,
  listTokens,
  mintToken,
  parseExpiresIn,
  revokeSdkKey,
  revokeToken,
} from '../auth/index';
import { CREDENTIAL_ACTIONS, type CredentialAction } from '../db/schema/index';
import { ApiError, errors } from '../errors';
import { ADMIN, BODY, errorResponses } from './responses';

const BASE = '/api/admin/deployment';

const sdkKeyInfo = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    environment: { type: 'string' },
    keyPrefix: { type: 'string', description: 'The first characters of the key, to tell keys apart.' },
    createdBy: { type: 'string' },
    createdAt: { type: 'string', format: 'date-time' },
    revokedAt: { type: 'string', format: 'date-time', nullable: true },
    revokedBy: {
      type: 'string',
      nullable: true,
      description: 'Who revoked the key (null: not revoked, or unknown).',
    },
  },
  required: ['id', 'environment', 'keyPrefix', 'createdBy', 'createdAt', 'revokedAt', 'revokedBy'],
} as const;

const tokenInfo = {
  type: 'object',
  properties: {
    id: { type: 'string', description: 'The JWT id (jti).' },
    subject: { type: 'string' },
    role: { type: 'string', enum: ['viewer', 'editor', 'admin'] },
    createdBy: { type: 'string' },
    createdAt: { type: 'string', format: 'date-time' },
    expiresAt: { type: 'string', format: 'date-time', nullable: true },
    revokedAt: { type: 'string', format: 'date-time', nullable: true },
    revokedBy: {
      type: 'string',
      nullable: true,
      description: 'Who revoked the token (null: not revoked, or unknown).',
    },
  },
  required: ['id', 'subject', 'role', 'createdBy', 'createdAt', 'expiresAt', 'revokedAt', 'revokedBy'],
} as const;

const idParams = {
  type: 'object',
  properties: { id: { type: 'string', minLength: 1, maxLength: 100 } },
  required: ['id'],
} as const;

const credentialAuditEntry = {
  type: 'object',
  properties: {
    id: { type: 'integer', description: 'Position in the audit (page with `before`).' },
    action: { type: 'string', enum: [...CREDENTIAL_ACTIONS] },
    credentialId: { type: 'string', description: "The SDK key's id or the token's id (jti)." },
    environment: { type: 'string', nullable: true, description: 'SDK keys: the environment the key reads.' },
    keyPrefix: { type: 'string', nullable: true, description: "SDK keys: the key's first characters." },
    subject: { type: 'string', nullable: true, description: "Tokens: the token's subject." },
    role: { type: 'string', nullable: true, description: "Tokens: the token's role." },
    actor: { type: 'string', description: 'Who did it (`kind:subject`).' },
    createdAt: { type: 'string', format: 'date-time' },
  },
  required: [
    'id',
    'action',
    'credentialId',
    'environment',
    'keyPrefix',
    'subject',
    'role',
    'actor',
    'createdAt',
  ],
} as const;

function sdkKeyNotFound(id: string): ApiError {
  return new ApiError(404, 'SDK_KEY_NOT_FOUND', `SDK key "${id}" does not exist or is already revoked`, 'id');
}

function tokenNotFound(id: string): ApiError {
  return new ApiError(404, 'TOKEN_NOT_FOUND', `token "${id}" does not exist or is already revoked`, 'id');
}

export async function adminKeysRoutes(app: FastifyInstance): Promise<void> {
  const admin = { preHandler: app.requireRole('admin') };
  const actor = (principal: { kind: string; subject: string } | undefined) =>
    principal ? `${principal.kind}:${principal.subject}` : 'unknown';

  app.get(
    `${BASE}/whoami`,
    {
      preHandler: app.requireRole('viewer'),
      schema: {
        tags: ['keys'],
        summary: 'Who the credentials are: kind, subject and role (checks a token or an OIDC role mapping)',
        response: {
          200: {
            type: 'object',
            properties: {
              kind: { type: 'string', enum: ['admin-token', 'jwt', 'oidc'] },
              subject: { type: 'string' },
              role: { type: 'string', enum: ['viewer', 'editor', 'admin'] },
            },
            required: ['kind', 'subject', 'role'],
          },
          ...errorResponses(...ADMIN),
        },
      },
    },
    async (request) => request.principal!,
  );

  app.post<{ Body: { environment?: string } }>(
    `${BASE}/sdk-keys`,
    {
      ...admin,
      schema: {
        tags: ['keys'],
        summary: 'Create an SDK key for one environment (the key is shown only in this response)',
        body: {
          type: 'object',
          properties: {
            environment: {
              type: 'string',
              minLength: 1,
              maxLength: 63,
              description: 'The environment the key reads; DEFAULT_ENVIRONMENT when omitted.',
            },
          },
          additionalProperties: false,
        },
        response: {
          201: {
            ...sdkKeyInfo,
            properties: {
              key: { type: 'string', description: 'The SDK key; store it now.' },
              ...sdkKeyInfo.properties,
            },
            required: ['key', ...sdkKeyInfo.required],
          },
          ...errorResponses(...ADMIN, ...BODY, 'ENVIRONMENT_NOT_FOUND'),
        },
      },
    },
    async (request, reply) => {
      const environment = request.body?.environment ?? app.config.defaultEnvironment;
      const created = await createSdkKey(app.db, environment, actor(request.principal));
      request.log.info(
        { actor: actor(request.principal), keyId: created.id, environment },
        'SDK key created',
      );
      reply.code(201).header('cache-control', 'no-store');
      return created;
    },
  );

  app.get<{ Querystring: { environment?: string } }>(
    `${BASE}/sdk-keys`,
    {
      ...admin,
      schema: {
        tags: ['keys'],
        summary: 'List SDK keys (never the keys themselves)',
        querystring: {
          type: 'object',
          properties: { environment: { type: 'string', minLength: 1, maxLength: 63 } },
          additionalProperties: false,
        },
        response: {
          200: {
            type: 'object',
            properties: { keys: { type: 'array', items: sdkKeyInfo } },
            required: ['keys'],
          },
          ...errorResponses(...ADMIN, 'VALIDATION_FAILED'),
        },
      },
    },
    async (request) => ({ keys: await listSdkKeys(app.db, request.query.environment) }),
  );

  app.delete<{ Params: { id: string } }>(
    `${BASE}/sdk-keys/:id`,
    {
      ...admin,
      schema: {
        tags: ['keys'],
        summary: 'Revoke an SDK key (other replicas stop accepting it within 60 s)',
        params: idParams,
        response: { 200: sdkKeyInfo, ...errorResponses(...ADMIN, 'VALIDATION_FAILED', 'SDK_KEY_NOT_FOUND') },
      },
    },
    async (request) => {
      const revoked = await revokeSdkKey(app.db, request.params.id, actor(request.principal));
      if (!revoked) throw sdkKeyNotFound(request.params.id);
      app.auth.sdkKeys.forget(revoked.id);
      request.log.info({ actor: actor(request.principal), keyId: revoked.id }, 'SDK key revoked');
      return revoked;
    },
  );

  app.post<{ Body: { role: 'viewer' | 'editor' | 'admin'; subject: string; expiresIn?: number | string } }>(
    `${BASE}/tokens`,
    {
      ...admin,
      schema: {
        tags: ['keys'],
        summary: 'Mint an admin-API token (a JWT with a role; shown only in this response)',
        body: {
          type: 'object',
          properties: {
            role: { type: 'string', enum: ['viewer', 'editor', 'admin'] },
            subject: {
              type: 'string',
              minLength: 1,
              maxLength: 200,
              description: 'Who or what uses the token (recorded as the actor of its changes).',
            },
            expiresIn: {
              description: 'Lifetime: seconds, or a string like "15m", "12h", "30d". Default 30 days.',
              anyOf: [
                { type: 'integer', minimum: 1 },
                { type: 'string', pattern: '^\\s*\\d+\\s*[smhd]\\s*$' },
              ],
            },
          },
          required: ['role', 'subject'],
          additionalProperties: false,
        },
        response: {
          201: {
            ...tokenInfo,
            properties: {
              token: { type: 'string', description: 'The JWT; store it now.' },
              ...tokenInfo.properties,
            },
            required: ['token', ...tokenInfo.required],
          },
          ...errorResponses(...ADMIN, ...BODY),
        },
      },
    },
    async (request, reply) => {
      const { role, subject, expiresIn } = request.body;
      const expiresInSec = parseExpiresIn(expiresIn);
      if (typeof expiresInSec !== 'number') throw errors.validation('expiresIn', expiresInSec.error);
      const minted = await mintToken(app.db, app.auth.signToken, {
        role,
        subject,
        expiresInSec,
        createdBy: actor(request.principal),
      });
      request.log.info(
        { actor: actor(request.principal), tokenId: minted.id, role, subject },
        'token minted',
      );
      reply.code(201).header('cache-control', 'no-store');
      return minted;
    },
  );

  app.get(
    `${BASE}/tokens`,
    {
      ...admin,
      schema: {
        tags: ['keys'],
        summary: 'List minted tokens (never the tokens themselves)',
        response: {
          200: {
            type: 'object',
            properties: { tokens: { type: 'array', items: tokenInfo } },
            required: ['tokens'],
          },
          ...errorResponses(...ADMIN),
        },
      },
    },
    async () => ({ tokens: await listTokens(app.db) }),
  );

  app.delete<{ Params: { id: string } }>(
    `${BASE}/tokens/:id`,
    {
      ...admin,
      schema: {
        tags: ['keys'],
        summary: 'Revoke a minted token (effective at once on every replica)',
        params: idParams,
        response: { 200: tokenInfo, ...errorResponses(...ADMIN, 'VALIDATION_FAILED', 'TOKEN_NOT_FOUND') },
      },
    },
    async (request) => {
      const revoked = await revokeToken(app.db, request.params.id, actor(request.principal));
      if (!revoked) throw tokenNotFound(request.params.id);
      request.log.info({ actor: actor(request.principal), tokenId: revoked.id }, 'token revoked');
      return revoked;
    },
  );

  app.get<{
    Querystring: { credentialId?: string; action?: CredentialAction; limit?: string; before?: string };
  }>(
    `${BASE}/audit/credentials`,
    {
      ...admin,
      schema: {
        tags: ['keys'],
        summary:
          'The credentials audit, newest first: every SDK key created or revoked and every token minted or revoked, with who did it',
        querystring: {
          type: 'object',
          properties: {
            credentialId: { type: 'string', minLength: 1, maxLength: 100 },
            action: { type: 'string', enum: [...CREDENTIAL_ACTIONS] },
            limit: { type: 'string', pattern: '^[0-9]{1,4}$', description: '1 to 1000 (default 100).' },
            before: {
              type: 'string',
              pattern: '^[0-9]{1,15}$',
              description: 'Only entries with a lower id.',
            },
          },
          additionalProperties: false,
        },
        response: {
          200: {
            type: 'object',
            properties: { entries: { type: 'array', items: credentialAuditEntry } },
            required: ['entries'],
          },
          ...errorResponses(...ADMIN, 'VALIDATION_FAILED'),
        },
      },
    },
    async (request) => {
      const q = request.query;
      const limit = q.limit === undefined ? 100 : Number(q.limit);
      if (limit < 1 || limit > 1000) {
        throw errors.validation('querystring.limit', 'limit must be between 1 and 1000');
      }
      const entries = await listCredentialsAudit(app.db, {
        limit,
        ...(q.credentialId === undefined ? {} : { credentialId: q.credentialId }),
        ...(q.action === undefined ? {} : { action: q.action }),
        ...(q.before === undefined ? {} : { before: Number(q.before) }),
      });
      return { entries };
    },
  );
}
