// POST /api/sdk/v1/metrics: window payloads from SDK instances (SDK key → environment). Idempotent on
// (instanceId, batchKey): a retried batch answers 202 with duplicate: true and changes nothing.
import type { MetricsBatch } from '@rupaya/flags-core';
import type { FastifyInstance } from 'fastify';
import { ingestMetricsBatch, metricsBatchSchema } from '../services/metrics-ingest';
import { BODY, responses, SDK, sdkResponses } from './responses';

export default async function sdkMetricsRoutes(app: FastifyInstance): Promise<void> {
  app.post(
    '/api/sdk/v1/metrics',
    {
      preHandler: app.requireSdkKey,
      bodyLimit: 4 * 1024 * 1024,
      schema: {
        tags: ['sdk'],
        summary: 'Report metric windows (counts, errors, latency sketch), gauges and evaluation counts',
        body: metricsBatchSchema,
        response: responses({ 202: sdkResponses.metricsAccepted }, ...SDK, ...BODY),
      },
    },
    async (request, reply) => {
      const environment = request.sdk!.environment;
      const result = await ingestMetricsBatch(app.db, environment, request.body as MetricsBatch, {
        usageWindowMs: app.config.metricsAggregationIntervalMs,
      });
      return reply.code(202).send({ accepted: result.accepted, duplicate: result.duplicate });
    },
  );
}
