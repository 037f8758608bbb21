// Manual canary actions: advance, rollback (to 0%), pause, resume, restart; and the canary history.
import type { CanaryTransitionAction } from '@rupaya/flags-core';
import type { FastifyInstance } from 'fastify';
import { applyCanaryTransition, listCanaryLogs } from '../services/canary';
import { etagOf, parseIfMatch } from '../services/flags';
import { actorOf, environmentOf, environmentQuery, flagKeyParam, reasonSchema } from './common';
import { ADMIN, BODY, canaryResponses, responses } from './responses';

const BASE = '/api/admin/deployment/feature-flags';
const tags = ['canary'];

const ACTIONS: { path: string; action: CanaryTransitionAction; summary: string }[] = [
  {
    path: 'advance-canary',
    action: 'advance',
    summary: 'Move a canary to its next stage (from the last: completed)',
  },
  { path: 'rollback-canary', action: 'rollback', summary: 'Roll a canary back to 0% (status rolled_back)' },
  { path: 'pause-canary', action: 'pause', summary: 'Pause automatic progression' },
  {
    path: 'resume-canary',
    action: 'resume',
    summary: 'Resume automatic progression (the stage timer restarts)',
  },
  {
    path: 'restart-canary',
    action: 'restart',
    summary: 'Start a rolled back or completed canary again at stage 0',
  },
];

export default async function adminCanaryRoutes(app: FastifyInstance): Promise<void> {
  for (const { path, action, summary } of ACTIONS) {
    app.post(
      `${BASE}/:key/${path}`,
      {
        preHandler: app.requireRole('editor'),
        schema: {
          tags,
          summary,
          params: flagKeyParam,
          querystring: { type: 'object', properties: { environment: environmentQuery } },
          body: {
            anyOf: [
              { type: 'object', additionalProperties: false, properties: { reason: reasonSchema } },
              { type: 'null' },
            ],
          },
          response: responses(
            { 200: canaryResponses.transition },
            ...ADMIN,
            ...BODY,
            'FLAG_NOT_FOUND',
            'ENVIRONMENT_NOT_FOUND',
            'NOT_A_CANARY',
            'INVALID_TRANSITION',
            'VERSION_CONFLICT',
          ),
        },
      },
      async (request, reply) => {
        const { key } = request.params as { key: string };
        const environment = environmentOf(request);
        const reason = (request.body as { reason?: string } | null | undefined)?.reason;
        const actor = actorOf(request);
        const out = await applyCanaryTransition(app.db, {
          environment,
          key,
          action,
          actor,
          reason,
          automatic: false,
          ifMatch: parseIfMatch(request.headers['if-match']),
        });
        await app.snapshots.refresh(environment);
        app.events.emit('canary.transition', { ...out, actor, automatic: false });
        return reply.header('etag', etagOf(out.version)).send({
          environment,
          key,
          action,
          fromStage: out.fromStage,
          toStage: out.toStage,
          fromPercent: out.fromPercent,
          toPercent: out.toPercent,
          fromStatus: out.fromStatus,
          status: out.toStatus,
          canary: out.canary,
          version: out.version,
          revision: out.revision,
          flag: out.flag,
        });
      },
    );
  }

  app.get(
    `${BASE}/:key/canary-logs`,
    {
      preHandler: app.requireRole('viewer'),
      schema: {
        tags,
        summary: 'Canary transitions of a flag in an environment, newest first',
        params: flagKeyParam,
        querystring: { type: 'object', properties: { environment: environmentQuery } },
        response: responses({ 200: canaryResponses.logs }, ...ADMIN, 'VALIDATION_FAILED'),
      },
    },
    async (request) => {
      const { key } = request.params as { key: string };
      const environment = environmentOf(request);
      return { key, environment, logs: await listCanaryLogs(app.db, key, environment) };
    },
  );
}
