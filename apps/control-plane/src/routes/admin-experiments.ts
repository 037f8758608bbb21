// Experiments in the admin API: list, results, statistical significance, conclude, and the cold
// rebuild of the maintained statistics. Every number comes from core's statistics.
import type { FastifyInstance } from 'fastify';
import { experimentServiceFor } from '../services/experiments';
import { actorOf, environmentOf, environmentQuery, flagKeyParam, reasonSchema } from './common';
import { ADMIN, BODY, experimentResponses, responses } from './responses';
import type { ErrorCode } from '../errors';

const BASE = '/api/admin/deployment/experiments';
const tags = ['experiments'];
const REFRESH_INTERVAL_MS = 5000;
const query = {
  type: 'object',
  additionalProperties: false,
  properties: {
    environment: environmentQuery,
    refresh: {
      type: 'string',
      enum: ['true', 'false', '1', '0'],
      description: 'Recompute now instead of the cache',
    },
  },
} as const;

/** Errors of a route about one experiment. */
const EXPERIMENT = [
  'VALIDATION_FAILED',
  'ENVIRONMENT_NOT_FOUND',
  'FLAG_NOT_FOUND',
  'NOT_AN_EXPERIMENT',
] as const satisfies readonly ErrorCode[];

const refreshOf = (q: unknown) => {
  const r = (q as { refresh?: string } | undefined)?.refresh;
  return r === 'true' || r === '1';
};

export default async function adminExperimentRoutes(app: FastifyInstance): Promise<void> {
  const service = () => experimentServiceFor(app.db, (env) => app.snapshots.get(env)?.revision);
  // Cached analyses are refreshed on a schedule (and on demand with ?refresh=true).
  const timer = setInterval(() => {
    service()
      .refreshCached()
      .catch((err) => app.log.warn({ err }, 'experiment analysis refresh failed'));
  }, REFRESH_INTERVAL_MS);
  timer.unref();
  app.addHook('onClose', async () => clearInterval(timer));

  app.get(
    BASE,
    {
      preHandler: app.requireRole('viewer'),
      schema: {
        tags,
        summary: 'Experiments of an environment (flags with weighted variants and an experiment definition)',
        querystring: query,
        response: responses(
          { 200: experimentResponses.list },
          ...ADMIN,
          'VALIDATION_FAILED',
          'ENVIRONMENT_NOT_FOUND',
        ),
      },
    },
    async (request) => {
      const environment = environmentOf(request);
      const all = await service().experiments(environment);
      return {
        environment,
        experiments: [...all.values()].map((e) => ({
          key: e.key,
          status: e.running ? 'running' : 'concluded',
          concludedVariant: e.definition.concludedVariant ?? null,
          hypothesis: e.definition.hypothesis ?? null,
          controlVariant: e.controlVariant,
          variants: e.variants,
          primaryMetric: e.definition.primaryMetric,
          secondaryMetrics: e.definition.secondaryMetrics ?? [],
        })),
      };
    },
  );

  app.get(
    `${BASE}/:key/results`,
    {
      preHandler: app.requireRole('viewer'),
      schema: {
        tags,
        summary: 'Per variant: units, exposures, and per metric the conversion rate or mean, SD and sum',
        params: flagKeyParam,
        querystring: query,
        response: responses({ 200: experimentResponses.results }, ...ADMIN, ...EXPERIMENT),
      },
    },
    async (request) => {
      const { key } = request.params as { key: string };
      return service().results(environmentOf(request), key, { refresh: refreshOf(request.query) });
    },
  );

  app.get(
    `${BASE}/:key/statistical-significance`,
    {
      preHandler: app.requireRole('viewer'),
      schema: {
        tags,
        summary:
          'Per variant vs control and metric: test, statistic, df, p-value, Holm-adjusted p, CIs, SRM, sample size, verdict',
        params: flagKeyParam,
        querystring: query,
        response: responses({ 200: experimentResponses.significance }, ...ADMIN, ...EXPERIMENT),
      },
    },
    async (request) => {
      const { key } = request.params as { key: string };
      const report = await service().analysis(environmentOf(request), key, {
        refresh: refreshOf(request.query),
      });
      const { exposures: _e, excludedByVariant: _x, ...rest } = report;
      return rest;
    },
  );

  app.post(
    `${BASE}/:key/conclude`,
    {
      preHandler: app.requireRole('editor'),
      schema: {
        tags,
        summary: 'Ship the chosen variant to 100% and end the experiment (audited; experiment.concluded)',
        params: flagKeyParam,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { environment: environmentQuery },
        },
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['variant', 'reason'],
          properties: {
            variant: { type: 'string', minLength: 1, maxLength: 200 },
            reason: { ...reasonSchema, minLength: 1 },
          },
        },
        response: responses(
          { 200: experimentResponses.concluded },
          ...ADMIN,
          ...BODY,
          ...EXPERIMENT,
          'EXPERIMENT_CONCLUDED',
        ),
      },
    },
    async (request) => {
      const { key } = request.params as { key: string };
      const { variant, reason } = request.body as { variant: string; reason: string };
      const environment = environmentOf(request);
      const actor = actorOf(request);
      const out = await service().conclude({ environment, key, variant, reason, actor });
      const payload = {
        key,
        environment,
        variant,
        reason,
        actor,
        version: out.version,
        revision: out.revision,
      };
      app.events.emit('experiment.concluded', payload);
      return { ...payload, flag: out.flag };
    },
  );

  app.post(
    `${BASE}/:key/rebuild`,
    {
      preHandler: app.requireRole('editor'),
      schema: {
        tags,
        summary: "Recompute the experiment's sufficient statistics from the per-unit rows",
        params: flagKeyParam,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { environment: environmentQuery },
        },
        response: responses({ 200: experimentResponses.rebuilt }, ...ADMIN, ...EXPERIMENT),
      },
    },
    async (request) => {
      const { key } = request.params as { key: string };
      return service().rebuild(environmentOf(request), key);
    },
  );
}
