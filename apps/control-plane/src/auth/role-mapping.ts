import { isRole, type Role } from './roles';

/**
 * OIDC_ROLE_MAPPING: a JSON array of rules, tried in order; the first rule whose every claim matches
 * the token gives the role. A claim condition is a string: an exact match, where `*` matches any run
 * of characters (e.g. "refs/heads/*"). A token claim that is an array matches when one of its elements
 * matches. A single rule object is accepted in place of an array. A rule must name at least one claim: an issuer
 * such as GitHub Actions signs tokens for every repository in the world, so a rule without conditions
 * would let all of them in.
 *
 *   [{ "claims": { "repository": "acme/app", "environment": "prod" }, "role": "editor" }]
 */
export interface RoleMappingRule {
  claims: Record<string, string>;
  role: Role;
}

export class RoleMappingError extends Error {
  constructor(
    message: string,
    readonly path: string,
  ) {
    super(message);
    this.name = 'RoleMappingError';
  }
}

const VAR = 'OIDC_ROLE_MAPPING';

/** Parses and validates OIDC_ROLE_MAPPING (JSON text or an already-parsed value); errors name the path. */
export function parseRoleMapping(input: unknown): RoleMappingRule[] {
  let value = input;
  if (typeof input === 'string') {
    if (input.trim() === '') return [];
    try {
      value = JSON.parse(input);
    } catch (error) {
      throw new RoleMappingError(`${VAR} is not valid JSON: ${(error as Error).message}`, VAR);
    }
  }
  if (value === undefined || value === null) return [];
  const list = Array.isArray(value) ? value : [value];
  return list.map((rule, i) => parseRule(rule, `${VAR}[${i}]`));
}

function parseRule(rule: unknown, path: string): RoleMappingRule {
  if (typeof rule !== 'object' || rule === null || Array.isArray(rule)) {
    throw new RoleMappingError(`${path} must be an object { "claims": {...}, "role": "..." }`, path);
  }
  const { claims, role, ...rest } = rule as Record<string, unknown>;
  const extra = Object.keys(rest);
  if (extra.length > 0)
    throw new RoleMappingError(`${path}.${extra[0]} is not a known field`, `${path}.${extra[0]}`);
  if (!isRole(role)) {
    throw new RoleMappingError(`${path}.role must be "viewer", "editor" or "admin"`, `${path}.role`);
  }
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) {
    throw new RoleMappingError(`${path}.claims must be an object of claim conditions`, `${path}.claims`);
  }
  const entries = Object.entries(claims as Record<string, unknown>);
  if (entries.length === 0) {
    throw new RoleMappingError(
      `${path}.claims must name at least one claim (e.g. "repository")`,
      `${path}.claims`,
    );
  }
  const parsed: Record<string, string> = {};
  for (const [name, condition] of entries) {
    const at = `${path}.claims.${name}`;
    if (typeof condition !== 'string') throw new RoleMappingError(`${at} must be a string`, at);
    parsed[name] = condition;
  }
  return { claims: parsed, role };
}

function patternMatches(pattern: string, value: string): boolean {
  if (!pattern.includes('*')) return pattern === value;
  const parts = pattern.split('*');
  const first = parts[0]!;
  const last = parts[parts.length - 1]!;
  if (!value.startsWith(first)) return false;
  let at = first.length;
  for (let i = 1; i < parts.length - 1; i++) {
    const found = value.indexOf(parts[i]!, at);
    if (found < 0) return false;
    at = found + parts[i]!.length;
  }
  return value.length - last.length >= at && value.endsWith(last);
}

function claimMatches(condition: string, claim: unknown): boolean {
  const values = Array.isArray(claim) ? claim : [claim];
  return values.some(
    (v) =>
      (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') &&
      patternMatches(condition, String(v)),
  );
}

/** The role of the first rule whose every claim condition matches, or undefined. */
export function roleForClaims(
  rules: readonly RoleMappingRule[],
  claims: Record<string, unknown>,
): Role | undefined {
  for (const rule of rules) {
    if (Object.entries(rule.claims).every(([name, condition]) => claimMatches(condition, claims[name]))) {
      return rule.role;
    }
  }
  return undefined;
}
