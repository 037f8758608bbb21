export const roles = ['viewer', 'editor', 'admin'] as const;
export type Role = (typeof roles)[number];

const rank: Record<Role, number> = { viewer: 0, editor: 1, admin: 2 };

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (roles as readonly string[]).includes(value);
}

/** viewer reads; editor also writes flags and canaries; admin also manages keys, tokens and webhooks. */
export function roleSatisfies(held: Role, required: Role): boolean {
  return rank[held] >= rank[required];
}

/** Who made an admin-API request, set by `app.requireRole(...)`. */
export type Principal = { kind: 'admin-token' | 'jwt' | 'oidc'; subject: string; role: Role };

/** Which environment an SDK request reads, set by `app.requireSdkKey`. */
export type SdkPrincipal = { environment: string; keyId: string };
