import { randomUUID } from 'node:crypto';
import { and, desc, eq, isNull } from 'drizzle-orm';
import type { Db } from '../db/client';
import { writeTransaction } from '../db/retry';
import { apiTokens, credentialsAudit } from '../db/schema/index';
import { hashCredential } from './credentials';
import type { Role } from './roles';

/** `iss` of the JWTs this control plane mints; OIDC tokens are told apart by their issuer. */
export const TOKEN_ISSUER = 'rupaya-flags';

/** Default and maximum lifetime of a minted token, in seconds. */
export const DEFAULT_TOKEN_TTL_SEC = 30 * 24 * 3600;
export const MAX_TOKEN_TTL_SEC = 5 * 365 * 24 * 3600;

const UNIT_SEC = { s: 1, m: 60, h: 3600, d: 86_400 } as const;

/** `expiresIn`: seconds as a number, or a string such as "90s", "15m", "12h", "30d". */
export function parseExpiresIn(value: number | string | undefined): number | { error: string } {
  if (value === undefined) return DEFAULT_TOKEN_TTL_SEC;
  let seconds: number;
  if (typeof value === 'number') seconds = value;
  else {
    const match = /^(\d+)\s*([smhd])$/.exec(value.trim());
    if (!match)
      return { error: 'expiresIn must be seconds, or a number followed by s, m, h or d (e.g. "30d")' };
    seconds = Number(match[1]) * UNIT_SEC[match[2] as keyof typeof UNIT_SEC];
  }
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > MAX_TOKEN_TTL_SEC) {
    return { error: `expiresIn must be between 1 second and ${MAX_TOKEN_TTL_SEC / 86_400} days` };
  }
  return seconds;
}

export interface TokenClaims {
  iss: string;
  sub: string;
  role: Role;
  jti: string;
  iat: number;
  exp: number;
}

export interface ApiTokenInfo {
  id: string;
  subject: string;
  role: Role;
  createdBy: string;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  revokedBy: string | null;
}

function info(row: typeof apiTokens.$inferSelect): ApiTokenInfo {
  return {
    id: row.id,
    subject: row.subject,
    role: row.role as Role,
    createdBy: row.createdBy,
    createdAt: row.createdAt.toISOString(),
    expiresAt: row.expiresAt ? row.expiresAt.toISOString() : null,
    revokedAt: row.revokedAt ? row.revokedAt.toISOString() : null,
    revokedBy: row.revokedBy,
  };
}

/** Signs a token with `sign` (the app's JWT signer) and records it, hashed, so it can be listed and revoked. */
export async function mintToken(
  db: Db,
  sign: (claims: TokenClaims) => string,
  request: { role: Role; subject: string; expiresInSec: number; createdBy: string },
): Promise<ApiTokenInfo & { token: string }> {
  const iat = Math.floor(Date.now() / 1000);
  const claims: TokenClaims = {
    iss: TOKEN_ISSUER,
    sub: request.subject,
    role: request.role,
    jti: randomUUID(),
    iat,
    exp: iat + request.expiresInSec,
  };
  const token = sign(claims);
  const row = await writeTransaction(db, async (tx) => {
    const [minted] = await tx
      .insert(apiTokens)
      .values({
        id: claims.jti,
        subject: claims.sub,
        role: claims.role,
        tokenHash: hashCredential(token),
        createdBy: request.createdBy,
        createdAt: new Date(iat * 1000),
        expiresAt: new Date(claims.exp * 1000),
      })
      .returning();
    await tx.insert(credentialsAudit).values({
      action: 'token.minted',
      credentialId: minted!.id,
      subject: minted!.subject,
      role: minted!.role,
      actor: request.createdBy,
      createdAt: minted!.createdAt,
    });
    return minted!;
  });
  return { token, ...info(row) };
}

/** The recorded, unrevoked token with this id and exact value, if any. */
export async function findActiveToken(
  db: Db,
  id: string,
  token: string,
): Promise<{ subject: string; role: Role } | undefined> {
  const rows = await db
    .select({ subject: apiTokens.subject, role: apiTokens.role })
    .from(apiTokens)
    .where(
      and(eq(apiTokens.id, id), eq(apiTokens.tokenHash, hashCredential(token)), isNull(apiTokens.revokedAt)),
    );
  const row = rows[0];
  return row ? { subject: row.subject, role: row.role as Role } : undefined;
}

export async function listTokens(db: Db): Promise<ApiTokenInfo[]> {
  const rows = await db.select().from(apiTokens).orderBy(desc(apiTokens.createdAt));
  return rows.map(info);
}

/** Marks a minted token revoked by `actor`, audited; undefined when no such (unrevoked) token exists. */
export async function revokeToken(db: Db, id: string, actor: string): Promise<ApiTokenInfo | undefined> {
  const row = await writeTransaction(db, async (tx) => {
    const [revoked] = await tx
      .update(apiTokens)
      .set({ revokedAt: new Date(), revokedBy: actor })
      .where(and(eq(apiTokens.id, id), isNull(apiTokens.revokedAt)))
      .returning();
    if (!revoked) return undefined;
    await tx.insert(credentialsAudit).values({
      action: 'token.revoked',
      credentialId: revoked.id,
      subject: revoked.subject,
      role: revoked.role,
      actor,
      createdAt: revoked.revokedAt!,
    });
    return revoked;
  });
  return row ? info(row) : undefined;
}
