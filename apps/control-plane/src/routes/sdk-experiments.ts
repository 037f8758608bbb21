// SDK ingest of experiment data: exposures (first exposure of a unit to a variant) and tracked
// events. 202 { accepted, duplicate, ignored }; a retried batch (same instanceId + batchKey) is
// counted once.
import type { EventBatch, ExposureBatch } from '@rupaya/flags-core';
import type { FastifyInstance } from 'fastify';
import { experimentServiceFor } from '../services/experiments';
import { BODY, responses, SDK, sdkResponses } from './responses';

const MAX_RECORDS = 50_000;
/** An SDK buffers up to 10,000 records by default; a batch of them is ~1–2 MB of JSON. */
const BODY_LIMIT = 16 * 1024 * 1024;
const id = { type: 'string', minLength: 1, maxLength: 200 } as const;
const unitKey = { type: 'string', minLength: 1, maxLength: 512 } as const;
// Epoch milliseconds between 1970 and year 275760 (the Date range).
const timestamp = { type: 'number', minimum: 0, maximum: 8.64e15 } as const;
const sdkInfo = {
  type: 'object',
  additionalProperties: false,
  properties: { name: { type: 'string', maxLength: 100 }, version: { type: 'string', maxLength: 100 } },
} as const;

const exposureBody = {
  type: 'object',
  additionalProperties: false,
  required: ['instanceId', 'batchKey', 'exposures'],
  properties: {
    instanceId: id,
    batchKey: id,
    sdk: sdkInfo,
    exposures: {
      type: 'array',
      maxItems: MAX_RECORDS,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['flag', 'unitKey', 'variant', 'timestamp'],
        properties: {
          flag: id,
          unitKey,
          variant: id,
          timestamp,
          revision: { type: 'integer', minimum: 0 },
        },
      },
    },
  },
} as const;

const eventBody = {
  type: 'object',
  additionalProperties: false,
  required: ['instanceId', 'batchKey', 'events'],
  properties: {
    instanceId: id,
    batchKey: id,
    sdk: sdkInfo,
    events: {
      type: 'array',
      maxItems: MAX_RECORDS,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['event', 'unitKey', 'timestamp'],
        properties: {
          event: id,
          unitKey,
          value: { type: 'number', minimum: -1e15, maximum: 1e15 },
          timestamp,
        },
      },
    },
  },
} as const;

const accepted = responses({ 202: sdkResponses.recordsAccepted }, ...SDK, ...BODY);

export default async function sdkExperimentRoutes(app: FastifyInstance): Promise<void> {
  const service = () => experimentServiceFor(app.db, (env) => app.snapshots.get(env)?.revision);

  app.post(
    '/api/sdk/v1/exposures',
    {
      preHandler: app.requireSdkKey,
      bodyLimit: BODY_LIMIT,
      schema: {
        tags: ['sdk'],
        summary: 'Experiment exposures (unit, variant, time); idempotent per (instanceId, batchKey)',
        body: exposureBody,
        response: accepted,
      },
    },
    async (request, reply) => {
      const out = await service().ingestExposures(request.sdk!.environment, request.body as ExposureBatch);
      return reply.code(202).send(out);
    },
  );

  app.post(
    '/api/sdk/v1/events',
    {
      preHandler: app.requireSdkKey,
      bodyLimit: BODY_LIMIT,
      schema: {
        tags: ['sdk'],
        summary: 'Tracked events (event, unit, value?, time); idempotent per (instanceId, batchKey)',
        body: eventBody,
        response: accepted,
      },
    },
    async (request, reply) => {
      const out = await service().ingestEvents(request.sdk!.environment, request.body as EventBatch);
      return reply.code(202).send(out);
    },
  );
}
