// Admin API for flags: list, read, create, partial update, archive, audit.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { errors } from '../errors';
import {
  archiveFlag,
  createFlag,
  etagOf,
  type FlagInEnvironment,
  getFlag,
  listAudit,
  listFlags,
  parseIfMatch,
  updateFlag,
} from '../services/flags';
import {
  actorOf,
  environmentOf,
  environmentQuery,
  flagCreateSchema,
  flagKeyParam,
  flagPatchSchema,
  reasonSchema,
} from './common';
import { ADMIN, BODY, flagResponses, responses } from './responses';

const BASE = '/api/admin/deployment/feature-flags';
const tags = ['flags'];
const envQuery = { type: 'object', properties: { environment: environmentQuery } } as const;

function view(v: FlagInEnvironment) {
  return {
    environment: v.environment,
    flag: v.flag,
    version: v.version,
    updatedAt: v.updatedAt,
    updatedBy: v.updatedBy,
  };
}

/** After a write: make this replica serve the new revision(s) before answering (read your writes). */
async function refreshSnapshots(app: FastifyInstance, revisions: Record<string, number>): Promise<void> {
  await Promise.all(Object.keys(revisions).map((env) => app.snapshots.refresh(env)));
}

function withEtag(reply: FastifyReply, version: number): FastifyReply {
  return reply.header('etag', etagOf(version));
}

export default async function adminFlagRoutes(app: FastifyInstance): Promise<void> {
  app.get(
    BASE,
    {
      preHandler: app.requireRole('viewer'),
      schema: {
        tags,
        summary: 'List the flags of an environment',
        querystring: {
          type: 'object',
          properties: {
            environment: environmentQuery,
            includeArchived: { type: 'string', enum: ['true', 'false'] },
          },
        },
        response: responses(
          { 200: flagResponses.list },
          ...ADMIN,
          'VALIDATION_FAILED',
          'ENVIRONMENT_NOT_FOUND',
        ),
      },
    },
    async (request) => {
      const environment = environmentOf(request);
      const includeArchived = (request.query as { includeArchived?: string }).includeArchived === 'true';
      const flags = await listFlags(app.db, environment, { includeArchived });
      return {
        environment,
        revision: app.snapshots.get(environment)?.revision ?? null,
        flags: flags.map((f) => f.flag),
      };
    },
  );

  app.get(
    `${BASE}/:key`,
    {
      preHandler: app.requireRole('viewer'),
      schema: {
        tags,
        summary: 'Read a flag in an environment (ETag = version)',
        params: flagKeyParam,
        querystring: envQuery,
        response: responses(
          { 200: flagResponses.read },
          ...ADMIN,
          'VALIDATION_FAILED',
          'FLAG_NOT_FOUND',
          'ENVIRONMENT_NOT_FOUND',
        ),
      },
    },
    async (request, reply) => {
      const { key } = request.params as { key: string };
      const v = await getFlag(app.db, environmentOf(request), key);
      return withEtag(reply, v.version).send(view(v));
    },
  );

  app.post(
    BASE,
    {
      preHandler: app.requireRole('editor'),
      schema: {
        tags,
        summary: 'Create a flag (same configuration in every environment)',
        querystring: envQuery,
        body: flagCreateSchema,
        response: responses(
          { 201: flagResponses.created },
          ...ADMIN,
          ...BODY,
          'ENVIRONMENT_NOT_FOUND',
          'FLAG_EXISTS',
        ),
      },
    },
    async (request, reply) => {
      const { reason, ...body } = request.body as Record<string, unknown> & { reason?: string };
      const result = await createFlag(
        app.db,
        { body, actor: actorOf(request), reason },
        environmentOf(request),
      );
      await refreshSnapshots(app, result.revisions);
      // Created in every environment: named, like the outbox event, so listeners can scope by environment.
      app.events.emit('flag.created', {
        key: result.flag.key,
        environments: Object.keys(result.revisions),
        version: 1,
        actor: actorOf(request),
        revisions: result.revisions,
      });
      return withEtag(reply, result.version)
        .code(201)
        .header('location', `${BASE}/${encodeURIComponent(result.flag.key)}`)
        .send({ ...view(result), revisions: result.revisions });
    },
  );

  app.put(
    `${BASE}/:key`,
    {
      preHandler: app.requireRole('editor'),
      schema: {
        tags,
        summary:
          'Change a flag in one environment (partial body; null removes a field; If-Match for concurrency)',
        params: flagKeyParam,
        querystring: envQuery,
        body: flagPatchSchema,
        headers: { type: 'object', properties: { 'if-match': { type: 'string' } } },
        response: responses(
          { 200: flagResponses.updated },
          ...ADMIN,
          ...BODY,
          'FLAG_NOT_FOUND',
          'ENVIRONMENT_NOT_FOUND',
          'VERSION_CONFLICT',
        ),
      },
    },
    async (request, reply) => {
      const { key } = request.params as { key: string };
      const { reason, ...patch } = request.body as Record<string, unknown> & { reason?: string };
      let ifMatch = parseIfMatch(request.headers['if-match']);
      // A body echoed from GET may carry key/type/version: accepted when they match (version = If-Match).
      const environment = environmentOf(request);
      if ('key' in patch) {
        if (patch.key !== key)
          throw errors.validation('key', `key ${String(patch.key)} does not match the URL (${key})`);
        delete patch.key;
      }
      if ('version' in patch) {
        if (typeof patch.version === 'number' && ifMatch === undefined) ifMatch = [patch.version];
        delete patch.version;
      }
      if ('type' in patch || 'canary' in patch) {
        const current = await getFlag(app.db, environment, key);
        if ('type' in patch && patch.type === current.flag.type) delete patch.type;
        if ('canary' in patch && JSON.stringify(patch.canary) === JSON.stringify(current.flag.canary))
          delete patch.canary;
      }
      const result = await updateFlag(app.db, {
        environment,
        key,
        patch,
        ifMatch,
        actor: actorOf(request),
        reason,
      });
      await refreshSnapshots(app, result.revisions);
      app.events.emit('flag.updated', {
        key,
        environment,
        version: result.version,
        actor: actorOf(request),
        revisions: result.revisions,
      });
      return withEtag(reply, result.version).send({ ...view(result), revisions: result.revisions });
    },
  );

  app.delete(
    `${BASE}/:key`,
    {
      preHandler: app.requireRole('editor'),
      schema: {
        tags,
        summary: 'Archive a flag (removed from every snapshot; its key and history stay)',
        params: flagKeyParam,
        querystring: { type: 'object', properties: { reason: reasonSchema, environment: environmentQuery } },
        response: responses({ 200: flagResponses.archived }, ...ADMIN, 'VALIDATION_FAILED', 'FLAG_NOT_FOUND'),
      },
    },
    async (request) => {
      const { key } = request.params as { key: string };
      const { reason } = request.query as { reason?: string };
      const result = await archiveFlag(app.db, { key, actor: actorOf(request), reason });
      await refreshSnapshots(app, result.revisions);
      app.events.emit('flag.archived', {
        key,
        environments: Object.keys(result.revisions),
        actor: actorOf(request),
        revisions: result.revisions,
      });
      return { key, archived: true, archivedAt: result.archivedAt, revisions: result.revisions };
    },
  );

  app.get(
    `${BASE}/:key/audit`,
    {
      preHandler: app.requireRole('viewer'),
      schema: {
        tags,
        summary: "A flag's audit trail in an environment, newest first",
        params: flagKeyParam,
        querystring: {
          type: 'object',
          properties: {
            environment: environmentQuery,
            limit: { type: 'string', pattern: '^[0-9]{1,4}$' },
            before: { type: 'string', pattern: '^[0-9]{1,15}$' },
          },
        },
        response: responses(
          { 200: flagResponses.audit },
          ...ADMIN,
          'VALIDATION_FAILED',
          'FLAG_NOT_FOUND',
          'ENVIRONMENT_NOT_FOUND',
        ),
      },
    },
    async (request) => {
      const { key } = request.params as { key: string };
      const q = request.query as { limit?: string; before?: string };
      const limit = q.limit === undefined ? 100 : Number(q.limit);
      if (limit < 1 || limit > 1000) throw errors.validation('limit', 'limit must be between 1 and 1000');
      const environment = environmentOf(request);
      const entries = await listAudit(app.db, {
        key,
        environment,
        limit,
        before: q.before === undefined ? undefined : Number(q.before),
      });
      return { key, environment, entries };
    },
  );
}
