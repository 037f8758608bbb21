import type { EvaluationContext, EvaluationResult } from '@rupaya/flags-core';
import { ABORTED_STATUS, defaultRequestContext, type FlagsClient, RequestFlags } from '@rupaya/flags-node';
import type { ServerResponse } from 'node:http';
import type { FastifyPluginCallback, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';

declare module 'fastify' {
  interface FastifyRequest {
    /** Evaluates a flag for this request's context; the result is a plain object. */
    evaluateFlag(key: string, extra?: EvaluationContext): EvaluationResult;
    /** `isEnabled`, `variant`, `value` for this request, and its context. */
    flags: RequestFlags<FastifyRequest>;
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

/** The request's flags on its response, read by the shared 'close' listener (no closure per request). */
const kFlags = Symbol('rupaya.flags');
type WithFlags = ServerResponse & { [kFlags]?: RequestFlags<FastifyRequest> };

/**
 * 'close' follows 'finish' for a completed response, and comes alone when the client went away
 * first: then the request is recorded as aborted (its latency counts, it is no error).
 */
function onResponseClose(this: WithFlags): void {
  const flags = this[kFlags];
  if (!flags || flags.scope.served.length === 0) return;
  const request = flags.source!;
  flags.record(
    request.routeOptions.url ?? '(unmatched)',
    request.method,
    this.writableEnded ? this.statusCode : ABORTED_STATUS,
  );
}

const plugin: FastifyPluginCallback<FlagsPluginOptions> = (fastify, options, done) => {
  const { client } = options;
  if (!client) {
    done(new Error('@rupaya/flags-fastify: the `client` option is required'));
    return;
  }
  const contextOf: (req: FastifyRequest) => EvaluationContext = options.context ?? defaultRequestContext;
  const record = options.recordRequests !== false;
  const capture = options.captureClientCalls === true;

  fastify.decorateRequest('flags', null as unknown as RequestFlags<FastifyRequest>);
  fastify.decorateRequest(
    'evaluateFlag',
    function (this: FastifyRequest, key: string, extra?: EvaluationContext) {
      return this.flags.evaluate(key, extra);
    },
  );

  // One onRequest hook and one listener per request. Recording does not use onResponse or
  // onRequestAbort hooks: with either, Fastify adds per-request work of its own (an onResponse hook
  // makes it time every reply and add/remove 'finish' and 'error' listeners on the response;
  // onRequestAbort adds a 'close' listener on the request), which cost several times what the
  // plugin itself does. The listener is shared (`onResponseClose`); the flags ride on the response.
  fastify.addHook('onRequest', (request, reply, next) => {
    const flags = new RequestFlags(client, contextOf, request);
    request.flags = flags;
    if (record) {
      const res = reply.raw as WithFlags;
      res[kFlags] = flags;
      res.on('close', onResponseClose);
    }
    if (capture) client.runInRequest(flags.scope, next);
    else next();
  });
  done();
};

/** Fastify plugin: `request.evaluateFlag(key)`, `request.flags`, and automatic request metrics. */
export const flagsPlugin = fp(plugin, { fastify: '5.x', name: '@rupaya/flags-fastify' });
export default flagsPlugin;
export { RequestFlags };
