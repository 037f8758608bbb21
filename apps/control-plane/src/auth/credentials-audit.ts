import { and, desc, eq, lt } from 'drizzle-orm';
import type { Db } from '../db/client';
import { type CredentialAction, credentialsAudit } from '../db/schema/index';

/** One row of the credentials audit, as the admin API shows it (never a secret or its hash). */
export interface CredentialAuditEntry {
  id: number;
  action: CredentialAction;
  credentialId: string;
  environment: string | null;
  keyPrefix: string | null;
  subject: string | null;
  role: string | null;
  actor: string;
  createdAt: string;
}

/** The credentials audit, newest first: `before` is the id to page below, the filters are optional. */
export async function listCredentialsAudit(
  db: Db,
  query: { credentialId?: string; action?: CredentialAction; limit: number; before?: number },
): Promise<CredentialAuditEntry[]> {
  const rows = await db
    .select()
    .from(credentialsAudit)
    .where(
      and(
        query.credentialId === undefined ? undefined : eq(credentialsAudit.credentialId, query.credentialId),
        query.action === undefined ? undefined : eq(credentialsAudit.action, query.action),
        query.before === undefined ? undefined : lt(credentialsAudit.id, query.before),
      ),
    )
    .orderBy(desc(credentialsAudit.id))
    .limit(query.limit);
  return rows.map((r) => ({
    id: r.id,
    action: r.action as CredentialAction,
    credentialId: r.credentialId,
    environment: r.environment,
    keyPrefix: r.keyPrefix,
    subject: r.subject,
    role: r.role,
    actor: r.actor,
    createdAt: r.createdAt.toISOString(),
  }));
}
