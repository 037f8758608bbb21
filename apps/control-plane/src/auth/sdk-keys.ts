import { randomUUID } from 'node:crypto';
import { and, desc, eq, isNull } from 'drizzle-orm';
import type { Db } from '../db/client';
import { writeTransaction } from '../db/retry';
import { credentialsAudit, environments, sdkKeys } from '../db/schema/index';
import { errors } from '../errors';
import { displayPrefix, generateSdkKey, hashCredential } from './credentials';
import type { SdkPrincipal } from './roles';

export interface SdkKeyInfo {
  id: string;
  environment: string;
  keyPrefix: string;
  createdBy: string;
  createdAt: string;
  revokedAt: string | null;
  revokedBy: string | null;
}

function info(row: typeof sdkKeys.$inferSelect): SdkKeyInfo {
  return {
    id: row.id,
    environment: row.environment,
    keyPrefix: row.keyPrefix,
    createdBy: row.createdBy,
    createdAt: row.createdAt.toISOString(),
    revokedAt: row.revokedAt ? row.revokedAt.toISOString() : null,
    revokedBy: row.revokedBy,
  };
}

/** Creates a key for one environment, audited; the plain key is returned here and never again. */
export async function createSdkKey(
  db: Db,
  environment: string,
  createdBy: string,
): Promise<SdkKeyInfo & { key: string }> {
  const key = generateSdkKey();
  const row = await writeTransaction(db, async (tx) => {
    const env = await tx
      .select({ key: environments.key })
      .from(environments)
      .where(eq(environments.key, environment));
    if (env.length === 0) throw errors.environmentNotFound(environment);
    const [created] = await tx
      .insert(sdkKeys)
      .values({
        id: randomUUID(),
        environment,
        keyHash: hashCredential(key),
        keyPrefix: displayPrefix(key),
        createdBy,
      })
      .returning();
    await tx.insert(credentialsAudit).values({
      action: 'sdk_key.created',
      credentialId: created!.id,
      environment,
      keyPrefix: created!.keyPrefix,
      actor: createdBy,
      createdAt: created!.createdAt,
    });
    return created!;
  });
  return { key, ...info(row) };
}

export async function listSdkKeys(db: Db, environment?: string): Promise<SdkKeyInfo[]> {
  const rows = await db
    .select()
    .from(sdkKeys)
    .where(environment === undefined ? undefined : eq(sdkKeys.environment, environment))
    .orderBy(desc(sdkKeys.createdAt));
  return rows.map(info);
}

/** Marks a key revoked by `actor`, audited; returns it, or undefined when no such (unrevoked) key exists. */
export async function revokeSdkKey(db: Db, id: string, actor: string): Promise<SdkKeyInfo | undefined> {
  const row = await writeTransaction(db, async (tx) => {
    const [revoked] = await tx
      .update(sdkKeys)
      .set({ revokedAt: new Date(), revokedBy: actor })
      .where(and(eq(sdkKeys.id, id), isNull(sdkKeys.revokedAt)))
      .returning();
    if (!revoked) return undefined;
    await tx.insert(credentialsAudit).values({
      action: 'sdk_key.revoked',
      credentialId: revoked.id,
      environment: revoked.environment,
      keyPrefix: revoked.keyPrefix,
      actor,
      createdAt: revoked.revokedAt!,
    });
    return revoked;
  });
  return row ? info(row) : undefined;
}

interface CacheEntry {
  principal: SdkPrincipal;
  checkedAt: number;
}

/**
 * Resolves SDK keys to their environment. Hits are cached in memory (keyed by the key itself, so the
 * snapshot hot path costs one Map lookup, not a SHA-256) and re-checked against the database after
 * `ttlMs`, so a revocation on another replica takes effect within that time. When the database is
 * unreachable a known key keeps working, so snapshots keep serving.
 */
export class SdkKeyResolver {
  private readonly cache = new Map<string, CacheEntry>();

  constructor(
    private readonly db: Db,
    private readonly ttlMs = 60_000,
    private readonly maxEntries = 10_000,
  ) {}

  /**
   * The last `Authorization` header answered by `cachedHeader`, and its cache entry: an SDK polls with
   * the same header every time, so the snapshot hot path compares one string instead of parsing the
   * header and hashing the key for the Map.
   */
  private lastHeader: string | undefined;
  private lastEntry: CacheEntry | undefined;

  /**
   * The principal of the key in an `Authorization` header (`keyOf` extracts it; undefined: not a
   * usable credential) when it was resolved less than `ttlMs` ago, without touching the database;
   * else undefined. A one-entry memo of the last header skips the parsing and the Map.
   */
  cachedHeader(
    header: string,
    keyOf: (header: string) => string | undefined,
    now = Date.now(),
  ): SdkPrincipal | undefined {
    let entry = header === this.lastHeader ? this.lastEntry : undefined;
    // Past its ttl the memo may hold an entry that resolve() has since replaced: ask the Map.
    if (entry === undefined || now - entry.checkedAt >= this.ttlMs) {
      const key = keyOf(header);
      entry = key === undefined ? undefined : this.cache.get(key);
      if (entry !== undefined) {
        this.lastHeader = header;
        this.lastEntry = entry;
      }
    }
    return entry !== undefined && now - entry.checkedAt < this.ttlMs ? entry.principal : undefined;
  }

  async resolve(key: string): Promise<SdkPrincipal | undefined> {
    const cached = this.cache.get(key);
    const now = Date.now();
    if (cached && now - cached.checkedAt < this.ttlMs) return cached.principal;
    let rows: { id: string; environment: string }[];
    try {
      rows = await this.db
        .select({ id: sdkKeys.id, environment: sdkKeys.environment })
        .from(sdkKeys)
        .where(and(eq(sdkKeys.keyHash, hashCredential(key)), isNull(sdkKeys.revokedAt)));
    } catch (error) {
      if (cached) return cached.principal;
      throw error;
    }
    const row = rows[0];
    if (!row) {
      this.cache.delete(key);
      if (this.lastEntry === cached) {
        this.lastHeader = undefined;
        this.lastEntry = undefined;
      }
      return undefined;
    }
    if (this.cache.size >= this.maxEntries) {
      this.cache.clear();
      this.lastHeader = undefined;
      this.lastEntry = undefined;
    }
    const principal: SdkPrincipal = { environment: row.environment, keyId: row.id };
    this.cache.set(key, { principal, checkedAt: now });
    return principal;
  }

  /** Drops a revoked key from this process's cache at once. */
  forget(keyId: string): void {
    for (const [key, entry] of this.cache) if (entry.principal.keyId === keyId) this.cache.delete(key);
    if (this.lastEntry?.principal.keyId === keyId) {
      this.lastHeader = undefined;
      this.lastEntry = undefined;
    }
  }
}
