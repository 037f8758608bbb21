import type { EvaluationContext, EvaluationResult } from '@rupaya/flags-core';
import { ABORTED_STATUS, defaultRequestContext, type FlagsClient, RequestFlags } from '@rupaya/flags-node';
import type { FastifyPluginCallback, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';

declare module 'fastify' {
  interface FastifyRequest {
    /** Evaluates a flag for this request's context; the result is a plain object. */
    evaluateFlag(key: string, extra?: EvaluationContext): EvaluationResult;
    /** `isEnabled`, `variant`, `value` for this request, and its context. */
    flags: RequestFlags;
  }
}

export interface FlagsPluginOptions {
  client: FlagsClient;
  /** Context of a request (default: `request.user.id` as `userId`, plus `x-user-id`, `x-org-id`, `x-session-id`). */
  context?: (request: FastifyRequest) => EvaluationContext;
  /** Record each request's route, status and latency for the cohorts it was served (default true). */
  recordRequests?: boolean;
  /**
   * Also attribute direct `client.*` evaluations made during the request (through an
   * AsyncLocalStorage; best effort across Fastify's body parsing). Default false.
   */
  captureClientCalls?: boolean;
}

const plugin: FastifyPluginCallback<FlagsPluginOptions> = (fastify, options, done) => {
  const { client } = options;
  if (!client) {
    done(new Error('@rupaya/flags-fastify: the `client` option is required'));
    return;
  }
  const contextOf = options.context ?? ((req: FastifyRequest) => defaultRequestContext(req));
  const record = options.recordRequests !== false;
  const capture = options.captureClientCalls === true;

  fastify.decorateRequest('flags', null as unknown as RequestFlags);
  fastify.decorateRequest(
    'evaluateFlag',
    function (this: FastifyRequest, key: string, extra?: EvaluationContext) {
      return this.flags.evaluate(key, extra);
    },
  );

  fastify.addHook('onRequest', (request, _reply, next) => {
    const flags = new RequestFlags(client, () => contextOf(request));
    request.flags = flags;
    if (capture) client.runInRequest(flags.scope, next);
    else next();
  });

  if (record) {
    fastify.addHook('onResponse', (request, reply, next) => {
      // routeOptions.url is the pattern (`/orders/:id`), undefined for a 404.
      const route = request.routeOptions.url ?? '(unmatched)';
      request.flags?.record(route, request.method, reply.statusCode, reply.elapsedTime);
      next();
    });
    // The client went away before the response ended: recorded as aborted (latency counts, no error).
    fastify.addHook('onRequestAbort', (request, done) => {
      const route = request.routeOptions.url ?? '(unmatched)';
      request.flags?.record(route, request.method, ABORTED_STATUS);
      done();
    });
  }
  done();
};

/** Fastify plugin: `request.evaluateFlag(key)`, `request.flags`, and automatic request metrics. */
export const flagsPlugin = fp(plugin, { fastify: '5.x', name: '@rupaya/flags-fastify' });
export default flagsPlugin;
export { RequestFlags };
