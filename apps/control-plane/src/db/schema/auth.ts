import { sql } from 'drizzle-orm';
import { bigserial, check, index, pgTable, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';
import { environments } from './core';

// Credentials never sit in the database in plain text: tokens and keys are stored as the SHA-256 hex
// digest of a 256-bit random secret (a slow password hash adds nothing for secrets of that entropy).

/** Admin-API tokens minted by POST /api/admin/deployment/tokens (JWTs; `id` is the JWT's `jti`). */
export const apiTokens = pgTable(
  'api_tokens',
  {
    id: text('id').primaryKey(),
    subject: text('subject').notNull(),
    role: text('role').notNull(),
    tokenHash: text('token_hash').notNull(),
    createdBy: text('created_by').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }),
    revokedAt: timestamp('revoked_at', { withTimezone: true, mode: 'date' }),
    /** Who revoked it (`kind:subject`, as `createdBy`); null while it is not revoked. */
    revokedBy: text('revoked_by'),
  },
  (t) => [
    // Auth checks a presented JWT by primary key (jti); the hash is unique so a token is recorded once.
    uniqueIndex('api_tokens_token_hash_uq').on(t.tokenHash),
    // GET /tokens lists newest first.
    index('api_tokens_created_at_idx').on(t.createdAt),
    check('api_tokens_role_ck', sql`${t.role} in ('viewer', 'editor', 'admin')`),
  ],
);

/** SDK keys: each belongs to one environment and only opens /api/sdk/v1/*. */
export const sdkKeys = pgTable(
  'sdk_keys',
  {
    id: text('id').primaryKey(),
    environment: text('environment')
      .notNull()
      .references(() => environments.key, { onDelete: 'cascade' }),
    keyHash: text('key_hash').notNull(),
    /** The first characters of the key, safe to show in lists so a person can tell keys apart. */
    keyPrefix: text('key_prefix').notNull(),
    createdBy: text('created_by').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    revokedAt: timestamp('revoked_at', { withTimezone: true, mode: 'date' }),
    /** Who revoked it (`kind:subject`, as `createdBy`); null while it is not revoked. */
    revokedBy: text('revoked_by'),
  },
  (t) => [
    // Every SDK request resolves its key by hash (then cached in memory).
    uniqueIndex('sdk_keys_key_hash_uq').on(t.keyHash),
    // GET /sdk-keys?environment= lists one environment's keys.
    index('sdk_keys_environment_idx').on(t.environment, t.createdAt),
  ],
);

/** What the credentials audit records. */
export const CREDENTIAL_ACTIONS = [
  'sdk_key.created',
  'sdk_key.revoked',
  'token.minted',
  'token.revoked',
  'webhook.created',
  'webhook.updated',
  'webhook.secret_rotated',
  'webhook.deleted',
] as const;
export type CredentialAction = (typeof CREDENTIAL_ACTIONS)[number];

/**
 * Every creation and revocation of an SDK key or a minted token, and every creation, change, secret
 * rotation and deletion of a webhook (it holds a signing secret and sends events out): who, what, when. Written in the
 * transaction that makes the change, so there is no change without its row. Rows outlive their
 * credential (no foreign key: deleting an environment deletes its keys, not their history). Never
 * holds a secret or its hash, nor a webhook's URL (an incoming-webhook URL is itself a secret).
 */
export const credentialsAudit = pgTable(
  'credentials_audit',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    action: text('action').notNull(),
    /** The SDK key's id, the token's id (its `jti`), or the webhook's id. */
    credentialId: text('credential_id').notNull(),
    /** SDK keys: the environment the key reads; webhooks: the environment it is limited to. */
    environment: text('environment'),
    /** SDK keys: the key's display prefix. */
    keyPrefix: text('key_prefix'),
    /** Tokens: who or what uses the token, and its role. */
    subject: text('subject'),
    role: text('role'),
    actor: text('actor').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [
    // GET /audit/credentials?credentialId=: one credential's history, newest first.
    index('credentials_audit_credential_idx').on(t.credentialId, t.id),
    check(
      'credentials_audit_action_ck',
      sql`${t.action} in ('sdk_key.created', 'sdk_key.revoked', 'token.minted', 'token.revoked', 'webhook.created', 'webhook.updated', 'webhook.secret_rotated', 'webhook.deleted')`,
    ),
  ],
);

/**
 * Server-wide secrets shared by every replica: `jwt_secret` (when JWT_SECRET is not set) and
 * `admin_token_hash` (the generated admin token, hashed). Looked up by primary key.
 */
export const authSecrets = pgTable('auth_secrets', {
  name: text('name').primaryKey(),
  value: text('value').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
});
