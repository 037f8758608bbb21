// Metrics API (viewer role): canary health per environment, range series, flag usage, and the
// rollback decisions of a flag (every evaluation, with checks and statistics).
import type { FastifyInstance } from 'fastify';
import { errors } from '../errors';
import { CanaryScheduler } from '../services/canary-scheduler';
import { requireEnvironment } from '../services/environments';
import { getFlag } from '../services/flags';
import { environmentHealth, flagUsageRange, metricsRange } from '../services/metrics-queries';
import { environmentOf, environmentQuery, flagKeyParam } from './common';
import { ADMIN, metricsResponses, responses } from './responses';

const BASE = '/api/admin/deployment/metrics';
const tags = ['metrics'];
const label = { type: 'string', minLength: 1, maxLength: 256 } as const;
/** Epoch ms, or an ISO-8601 time. */
const time = { type: 'string', minLength: 1, maxLength: 40 } as const;

function parseTime(field: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = /^\d+$/.test(raw) ? Number(raw) : Date.parse(raw);
  if (!Number.isFinite(n))
    throw errors.validation(field, `${field} must be epoch milliseconds or an ISO-8601 time`);
  return n;
}

/** `from`/`to` of a range query: `to` defaults to now, `from` to `spanMs` before `to`; from ≤ to. */
function rangeOf(q: { from?: string; to?: string }, spanMs: number): { from: number; to: number } {
  const to = parseTime('to', q.to, Date.now());
  const from = parseTime('from', q.from, to - spanMs);
  if (from > to) throw errors.validation('from', 'from must not be after to');
  return { from, to };
}

export default async function adminMetricsRoutes(app: FastifyInstance): Promise<void> {
  app.get(
    `${BASE}/health`,
    {
      preHandler: app.requireRole('viewer'),
      schema: {
        tags,
        summary:
          'Canary health: each active canary and guarded rollout with cohort stats and its last decision',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { environment: environmentQuery },
        },
        response: responses(
          { 200: metricsResponses.health },
          ...ADMIN,
          'VALIDATION_FAILED',
          'ENVIRONMENT_NOT_FOUND',
        ),
      },
    },
    async (request) => {
      const environment = environmentOf(request);
      await requireEnvironment(app.db, environment);
      return environmentHealth(app.db, app.config, environment, Date.now());
    },
  );

  app.get(
    `${BASE}/range`,
    {
      preHandler: app.requireRole('viewer'),
      schema: {
        tags,
        summary: 'Series of requests, error rate, P50/P95/P99, RPS and top errors per window',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            environment: environmentQuery,
            from: time,
            to: time,
            flag: label,
            stage: { type: 'string', pattern: '^\\d{1,3}$' },
            variant: label,
            cohort: { type: 'string', enum: ['treatment', 'control', 'none'] },
            endpoint: label,
            granularity: { type: 'string', enum: ['raw', '1m', 'auto'] },
          },
        },
        response: responses(
          { 200: metricsResponses.range },
          ...ADMIN,
          'VALIDATION_FAILED',
          'ENVIRONMENT_NOT_FOUND',
        ),
      },
    },
    async (request) => {
      const q = request.query as Record<string, string | undefined>;
      const environment = environmentOf(request);
      await requireEnvironment(app.db, environment);
      const { from, to } = rangeOf(q, 3_600_000);
      return metricsRange(app.db, {
        environment,
        from,
        to,
        flag: q.flag,
        stage: q.stage === undefined ? undefined : Number(q.stage),
        variant: q.variant,
        cohort: q.cohort,
        endpoint: q.endpoint,
        granularity: (q.granularity as 'raw' | '1m' | 'auto' | undefined) ?? 'auto',
      });
    },
  );

  app.get(
    `${BASE}/flag-usage`,
    {
      preHandler: app.requireRole('viewer'),
      schema: {
        tags,
        summary: 'Evaluations per flag and variant over time (SDK-reported)',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { environment: environmentQuery, from: time, to: time, flag: label },
        },
        response: responses(
          { 200: metricsResponses.flagUsage },
          ...ADMIN,
          'VALIDATION_FAILED',
          'ENVIRONMENT_NOT_FOUND',
        ),
      },
    },
    async (request) => {
      const q = request.query as Record<string, string | undefined>;
      const environment = environmentOf(request);
      await requireEnvironment(app.db, environment);
      const { from, to } = rangeOf(q, 86_400_000);
      return flagUsageRange(app.db, { environment, from, to, flag: q.flag });
    },
  );

  app.get(
    '/api/admin/deployment/feature-flags/:key/rollback-decisions',
    {
      preHandler: app.requireRole('viewer'),
      schema: {
        tags,
        summary: 'Every automatic evaluation of a canary or guarded rollout, newest first',
        params: flagKeyParam,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { environment: environmentQuery, limit: { type: 'string', pattern: '^\\d{1,4}$' } },
        },
        response: responses(
          { 200: metricsResponses.decisions },
          ...ADMIN,
          'VALIDATION_FAILED',
          'FLAG_NOT_FOUND',
          'ENVIRONMENT_NOT_FOUND',
        ),
      },
    },
    async (request) => {
      const { key } = request.params as { key: string };
      const environment = environmentOf(request);
      await getFlag(app.db, environment, key);
      const limit = Math.min(1000, Number((request.query as { limit?: string }).limit ?? 100)) || 100;
      const rows = await CanaryScheduler.latestDecisions(app.db, environment, key, limit);
      return {
        key,
        environment,
        decisions: rows.map((r) => ({ ...r, createdAt: r.createdAt.toISOString() })),
      };
    },
  );
}
