// Admin API for environments: list and create (custom environments copy another's configuration).
import type { FastifyInstance } from 'fastify';
import { createEnvironment, listEnvironments } from '../services/environments';
import { actorOf } from './common';
import { ADMIN, BODY, environmentResponses, responses } from './responses';

const BASE = '/api/admin/deployment/environments';

export default async function adminEnvironmentRoutes(app: FastifyInstance): Promise<void> {
  app.get(
    BASE,
    {
      preHandler: app.requireRole('viewer'),
      schema: {
        tags: ['environments'],
        summary: 'List environments',
        response: responses({ 200: environmentResponses.list }, ...ADMIN),
      },
    },
    async () => ({ environments: await listEnvironments(app.db) }),
  );

  app.post(
    BASE,
    {
      preHandler: app.requireRole('admin'),
      schema: {
        tags: ['environments'],
        summary: 'Create an environment (flags copied from copyFrom, default DEFAULT_ENVIRONMENT)',
        body: {
          type: 'object',
          required: ['key'],
          additionalProperties: false,
          properties: {
            key: { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]{0,62}$' },
            name: { type: 'string', minLength: 1, maxLength: 200 },
            copyFrom: { type: 'string', minLength: 1, maxLength: 63 },
          },
        },
        response: responses(
          { 201: environmentResponses.created },
          ...ADMIN,
          ...BODY,
          'ENVIRONMENT_NOT_FOUND',
          'ENVIRONMENT_EXISTS',
        ),
      },
    },
    async (request, reply) => {
      const body = request.body as { key: string; name?: string; copyFrom?: string };
      const env = await createEnvironment(app.db, {
        key: body.key,
        name: body.name,
        copyFrom: body.copyFrom ?? app.config.defaultEnvironment,
        actor: actorOf(request),
      });
      await app.snapshots.refresh(env.key);
      return reply.code(201).send(env);
    },
  );
}
