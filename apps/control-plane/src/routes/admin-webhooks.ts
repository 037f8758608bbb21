// Webhook subscriptions (admin role): create (the secret is shown once), list, delete, delivery log.
import type { FastifyInstance } from 'fastify';
import { errors } from '../errors';
import {
  createWebhook,
  deleteWebhook,
  listDeliveries,
  listWebhooks,
  rotateWebhookSecret,
  updateWebhook,
  type WebhookPatch,
} from '../services/webhooks';
import { actorOf, environmentQuery } from './common';
import { ADMIN, BODY, responses, webhookResponses } from './responses';

const BASE = '/api/admin/deployment/webhooks';
const tags = ['webhooks'];
const idParam = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', minLength: 1, maxLength: 100 } },
} as const;

const urlSchema = { type: 'string', minLength: 8, maxLength: 2000, pattern: '^https?://' } as const;
const eventsSchema = {
  type: 'array',
  maxItems: 50,
  items: {
    type: 'string',
    minLength: 1,
    maxLength: 100,
    pattern: '^(\\*|[a-z_]+\\.(\\*|[a-z_]+))$',
  },
} as const;
const formatSchema = { type: 'string', enum: ['json', 'slack'] } as const;
const secretSchema = { type: 'string', minLength: 16, maxLength: 200 } as const;

export default async function adminWebhookRoutes(app: FastifyInstance): Promise<void> {
  app.post(
    BASE,
    {
      preHandler: app.requireRole('admin'),
      schema: {
        tags,
        summary:
          'Subscribe a URL to events (json or slack format); the signing secret is returned once (audited)',
        body: {
          type: 'object',
          required: ['url'],
          additionalProperties: false,
          properties: {
            url: urlSchema,
            events: eventsSchema,
            environment: environmentQuery,
            format: formatSchema,
            secret: secretSchema,
          },
        },
        response: responses({ 201: webhookResponses.created }, ...ADMIN, ...BODY),
      },
    },
    async (request, reply) => {
      const body = request.body as {
        url: string;
        events?: string[];
        environment?: string;
        format?: 'json' | 'slack';
        secret?: string;
      };
      const created = await createWebhook(app.db, { ...body, actor: actorOf(request) });
      return reply.code(201).send(created);
    },
  );

  app.get(
    BASE,
    {
      preHandler: app.requireRole('admin'),
      schema: {
        tags,
        summary: 'Active webhooks (without secrets)',
        response: responses({ 200: webhookResponses.list }, ...ADMIN),
      },
    },
    async () => ({ webhooks: await listWebhooks(app.db) }),
  );

  app.patch(
    `${BASE}/:id`,
    {
      preHandler: app.requireRole('admin'),
      schema: {
        tags,
        summary:
          'Change a webhook’s URL, events, environment or format (audited); queued deliveries go to the new URL',
        params: idParam,
        body: {
          type: 'object',
          additionalProperties: false,
          minProperties: 1,
          properties: {
            url: urlSchema,
            events: eventsSchema,
            environment: { ...environmentQuery, nullable: true, description: 'null: every environment' },
            format: formatSchema,
          },
        },
        response: responses({ 200: webhookResponses.updated }, ...ADMIN, ...BODY, 'WEBHOOK_NOT_FOUND'),
      },
    },
    async (request) => {
      const { id } = request.params as { id: string };
      const updated = await updateWebhook(app.db, id, request.body as WebhookPatch, actorOf(request));
      if (!updated) throw errors.webhookNotFound(id);
      return updated;
    },
  );

  app.post(
    `${BASE}/:id/secret`,
    {
      preHandler: app.requireRole('admin'),
      schema: {
        tags,
        summary:
          'Rotate a webhook’s signing secret (audited): every attempt from now on is signed with the new one, returned once',
        params: idParam,
        // The body may be left out (a generated secret), as the canary transitions' may.
        body: {
          anyOf: [
            {
              type: 'object',
              additionalProperties: false,
              properties: { secret: { ...secretSchema, description: 'The new secret (default: generated)' } },
            },
            { type: 'null' },
          ],
        },
        response: responses({ 200: webhookResponses.rotated }, ...ADMIN, ...BODY, 'WEBHOOK_NOT_FOUND'),
      },
    },
    async (request) => {
      const { id } = request.params as { id: string };
      const secret = (request.body as { secret?: string } | null | undefined)?.secret;
      const rotated = await rotateWebhookSecret(app.db, id, secret, actorOf(request));
      if (!rotated) throw errors.webhookNotFound(id);
      return rotated;
    },
  );

  app.delete(
    `${BASE}/:id`,
    {
      preHandler: app.requireRole('admin'),
      schema: {
        tags,
        summary: 'Delete a webhook (pending deliveries are cancelled; audited)',
        params: idParam,
        response: responses(
          { 204: webhookResponses.deleted },
          ...ADMIN,
          'VALIDATION_FAILED',
          'WEBHOOK_NOT_FOUND',
        ),
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      if (!(await deleteWebhook(app.db, id, actorOf(request)))) throw errors.webhookNotFound(id);
      return reply.code(204).send();
    },
  );

  app.get(
    `${BASE}/:id/deliveries`,
    {
      preHandler: app.requireRole('admin'),
      schema: {
        tags,
        summary: 'Delivery log of a webhook, newest first',
        params: idParam,
        response: responses({ 200: webhookResponses.deliveries }, ...ADMIN, 'VALIDATION_FAILED'),
      },
    },
    async (request) => {
      const { id } = request.params as { id: string };
      return { id, deliveries: await listDeliveries(app.db, id) };
    },
  );
}
