import type { EvaluationContext, EvaluationResult } from '@rupaya/flags-core';
import { ABORTED_STATUS, defaultRequestContext, type FlagsClient, RequestFlags } from '@rupaya/flags-node';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
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
  /**
   * Also record requests that do not come through the server's 'request' event: `fastify.inject`,
   * and serverless adapters built on it (`@fastify/aws-lambda`). Adds an `onRequest` hook, which
   * costs every request a little (Fastify's hook runner). Default false: such requests are
   * evaluated as usual but not recorded.
   */
  injectedRequests?: boolean;
}

/** The request's flags: a decorated slot on Fastify's request (null until first use), and on its response. */
const kFlags = Symbol('rupaya.flags');
/** On the raw request: its response (set when the server received it). */
const kResponse = Symbol('rupaya.response');
/** On the raw response: `performance.now()` when the server received the request. */
const kArrival = Symbol('rupaya.arrival');

type RawResponse = ServerResponse & { [kFlags]?: RequestFlags<FastifyRequest>; [kArrival]?: number };
type RawRequest = IncomingMessage & { [kResponse]?: RawResponse };
type WithSlot = FastifyRequest & { [kFlags]: RequestFlags<FastifyRequest> | null };

/**
 * First listener of the server's 'request' event: notes when the request arrived and which response
 * is its own, so the latency recorded starts where the request did although the request's flags
 * are only created when the request first uses them.
 */
function onServerRequest(req: RawRequest, res: RawResponse): void {
  req[kResponse] = res;
  res[kArrival] = performance.now();
}

/** Servers whose 'request' event `onServerRequest` already listens to. */
const watched = new WeakSet<object>();

function watchArrivals(server: unknown): void {
  const emitter = server as { prependListener?: (event: string, fn: typeof onServerRequest) => unknown };
  if (typeof emitter?.prependListener !== 'function' || watched.has(emitter)) return;
  watched.add(emitter);
  emitter.prependListener('request', onServerRequest);
}

/**
 * Fastify's symbol for a request's route context, found once on the first request recorded (null:
 * not found). `request.routeOptions` builds a twelve-field object on every read; the pattern is
 * that context's `config.url`, which is what `routeOptions.url` reads too.
 */
let routeContextKey: symbol | null | undefined;

/** Route pattern of a request (`/orders/:id`), or `(unmatched)` (404). */
function routeOf(request: FastifyRequest): string {
  if (routeContextKey === undefined) {
    routeContextKey =
      Object.getOwnPropertySymbols(request).find((s) => s.description === 'fastify.context') ?? null;
  }
  const url =
    routeContextKey === null
      ? request.routeOptions.url
      : (request as unknown as Record<symbol, { config?: { url?: unknown } } | undefined>)[routeContextKey]
          ?.config?.url;
  return typeof url === 'string' ? url : '(unmatched)';
}

/**
 * 'close' follows 'finish' for a completed response, and comes alone when the client went away
 * first: then the request is recorded as aborted (its latency counts, it is no error).
 */
function onResponseClose(this: RawResponse): void {
  const flags = this[kFlags];
  if (!flags || flags.scope.served.length === 0) return;
  const request = flags.source!;
  flags.record(routeOf(request), request.method, this.writableEnded ? this.statusCode : ABORTED_STATUS);
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
  const injected = record && options.injectedRequests === true;

  // No onRequest hook: with any hook, Fastify runs its hook runner on every request (three closures
  // and a callback chain), which cost more than everything the plugin does. A request's flags are
  // created on first use instead, through the `flags` getter; a request that uses no flag costs the
  // 'request' listener above and nothing else.
  watchArrivals(fastify.server);
  const createFlags = (request: WithSlot): RequestFlags<FastifyRequest> => {
    const raw = request.raw as RawRequest;
    // Undefined for a request the server did not announce (injected, unless `injectedRequests`):
    // evaluated as usual, not recorded.
    const res = raw[kResponse];
    const flags = new RequestFlags<FastifyRequest>(client, contextOf, request, res?.[kArrival]);
    request[kFlags] = flags;
    if (record && res !== undefined) {
      res[kFlags] = flags;
      res.on('close', onResponseClose);
    }
    return flags;
  };
  fastify.decorateRequest(kFlags, null);
  fastify.decorateRequest('flags', {
    getter(this: FastifyRequest) {
      return (this as WithSlot)[kFlags] ?? createFlags(this as WithSlot);
    },
  });
  fastify.decorateRequest(
    'evaluateFlag',
    function (this: FastifyRequest, key: string, extra?: EvaluationContext) {
      return ((this as WithSlot)[kFlags] ?? createFlags(this as WithSlot)).evaluate(key, extra);
    },
  );
  // Injected requests are linked to their response, and direct client calls attributed through an
  // AsyncLocalStorage entered before the request's other hooks: both need a hook.
  if (injected || capture) {
    fastify.addHook('onRequest', (request, reply, next) => {
      const raw = request.raw as RawRequest;
      if (injected && raw[kResponse] === undefined) onServerRequest(raw, reply.raw as RawResponse);
      if (capture) client.runInRequest(request.flags.scope, next);
      else next();
    });
  }
  done();
};

/** Fastify plugin: `request.evaluateFlag(key)`, `request.flags`, and automatic request metrics. */
export const flagsPlugin = fp(plugin, { fastify: '5.x', name: '@rupaya/flags-fastify' });
export default flagsPlugin;
export { RequestFlags };
