// Shared route pieces: environment resolution, the actor of a request, and JSON-schema fragments.
import { flagJsonSchema } from '@rupaya/flags-core';
import type { FastifyRequest } from 'fastify';

export const environmentQuery = {
  type: 'string',
  pattern: '^[a-z0-9][a-z0-9_-]{0,62}$',
  description: 'Environment key (default DEFAULT_ENVIRONMENT)',
} as const;

export const flagKeyParam = {
  type: 'object',
  required: ['key'],
  properties: { key: { type: 'string', minLength: 1, maxLength: 200 } },
} as const;

export const reasonSchema = {
  type: 'string',
  maxLength: 2000,
  description: 'Why (kept in the audit trail)',
} as const;

/** The shared error body (routes/responses.ts; prefer its `errorResponses(...codes)`, which names the codes). */
export const errorResponse = { $ref: 'ErrorResponse#' } as const;

/** The environment a request addresses: `?environment=`, else DEFAULT_ENVIRONMENT. */
export function environmentOf(request: FastifyRequest): string {
  const q = request.query as { environment?: string } | undefined;
  return q?.environment ?? request.server.config.defaultEnvironment;
}

/** Who is acting, for audit rows. */
export function actorOf(request: FastifyRequest): string {
  const p = request.principal;
  return p ? `${p.kind}:${p.subject}` : 'anonymous';
}

type JsonSchema = Record<string, unknown>;

/** A property schema that also accepts null (null in a PUT body removes the field). */
function nullable(schema: JsonSchema): JsonSchema {
  const type = schema.type;
  if (type === undefined) return schema; // `{}` accepts null already
  const types = Array.isArray(type) ? [...type] : [type];
  if (!types.includes('null')) types.push('null');
  const out: JsonSchema = { ...schema, type: types };
  if (Array.isArray(schema.enum) && !schema.enum.includes(null)) out.enum = [...schema.enum, null];
  return out;
}

const flagProperties = flagJsonSchema.properties as unknown as Record<string, JsonSchema>;

/** PUT body: every field of core's flag schema (nullable to remove), plus `reason`; unknown fields rejected. */
export const flagPatchSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ...Object.fromEntries(Object.entries(flagProperties).map(([k, v]) => [k, nullable(v)])),
    reason: reasonSchema,
  },
};

/** POST body: core's flag schema plus `reason`; unknown fields rejected. */
export const flagCreateSchema: JsonSchema = {
  ...(flagJsonSchema as unknown as JsonSchema),
  additionalProperties: false,
  properties: { ...flagProperties, reason: reasonSchema },
};
