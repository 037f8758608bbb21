import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Prefixes make a leaked secret recognisable (secret scanners, logs) and tell credential kinds apart. */
export const SDK_KEY_PREFIX = 'rpy_sdk_';
export const ADMIN_TOKEN_PREFIX = 'rpy_admin_';

/** 256 bits of randomness, base64url. */
export function randomSecret(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

export function generateSdkKey(): string {
  return SDK_KEY_PREFIX + randomSecret();
}

export function generateAdminToken(): string {
  return ADMIN_TOKEN_PREFIX + randomSecret();
}

/** SHA-256 hex of a credential: what the database stores. */
export function hashCredential(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/**
 * Constant-time check of a presented secret against a stored SHA-256 hex digest. Both sides are
 * hashed to 32 bytes first, so neither the content nor the length of the secret leaks through timing.
 */
export function matchesHash(presented: string, storedHashHex: string): boolean {
  const a = createHash('sha256').update(presented, 'utf8').digest();
  const b = Buffer.from(storedHashHex, 'hex');
  return b.length === a.length && timingSafeEqual(a, b);
}

/** Shown in key lists: the prefix plus the first 6 characters of the random part. */
export function displayPrefix(secret: string): string {
  const cut = secret.startsWith(SDK_KEY_PREFIX) ? SDK_KEY_PREFIX.length + 6 : 6;
  return secret.slice(0, cut);
}

/** `Authorization: Bearer <credential>` → the credential, or undefined when absent or not Bearer. */
export function bearerCredential(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return match?.[1];
}
