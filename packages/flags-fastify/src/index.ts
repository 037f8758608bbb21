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

/** The request's flags: a decorated slot on Fastify's request (null until first use). */
const kFlags = Symbol('rupaya.flags');
/** On a raw request that is not its connection's current one: its response. */
const kResponse = Symbol('rupaya.response');
/**
 * `performance.now()` when the server received the request: on the connection for the request
 * whose response is the connection's current one (the usual case), else on the raw request.
 */
const kArrival = Symbol('rupaya.arrival');

type RawResponse = ServerResponse & { req?: unknown };
/** Node's socket of an HTTP/1 connection: `_httpMessage` is the response it is sending now. */
type RawSocket = { _httpMessage?: RawResponse | null; [kArrival]?: number };
type RawRequest = IncomingMessage & { [kResponse]?: RawResponse; [kArrival]?: number };
type WithSlot = FastifyRequest & { [kFlags]: RequestFlags<FastifyRequest> | null };

/**
 * Sees every request before Fastify does: notes when it arrived and which response is its own, so
 * the latency recorded starts where the request did although the request's flags are only
 * created when the request first uses them. Nothing is added to Node's request and response
 * objects in the usual case (each added property costs the object a new hidden class and a larger
 * property store, on every request): an HTTP/1 connection sends one response at a time, so the
 * arrival of the request whose response is the connection's current one is kept on the
 * connection, and the response is found there again (`_httpMessage`). Requests pipelined behind
 * another one, HTTP/2 streams and injected requests keep both on the request itself.
 */
function onServerRequest(req: RawRequest, res: RawResponse): void {
  const arrival = performance.now();
  const socket = req.socket as RawSocket | null;
  if (socket != null && socket._httpMessage === res) socket[kArrival] = arrival;
  else {
    req[kResponse] = res;
    req[kArrival] = arrival;
  }
}

/** The response of `req` as `onServerRequest` left it (none: not seen, or its response has ended). */
function responseOf(req: RawRequest): RawResponse | undefined {
  const own = req[kResponse];
  if (own !== undefined) return own;
  const current = (req.socket as RawSocket | null)?._httpMessage;
  return current != null && current.req === req ? current : undefined;
}

/** When `req` arrived, once `responseOf(req)` found its response (kept where its response was). */
function arrivalOf(req: RawRequest): number | undefined {
  return req[kArrival] ?? (req.socket as RawSocket | null)?.[kArrival];
}

/** Servers whose requests `onServerRequest` already sees. */
const watched = new WeakSet<object>();

type RequestListener = (this: unknown, req: RawRequest, res: RawResponse) => void;
interface RequestEmitter {
  rawListeners?: (event: string) => unknown[];
  removeListener?: (event: string, fn: RequestListener) => unknown;
  prependListener?: (event: string, fn: RequestListener) => unknown;
  on?: (event: string, fn: RequestListener) => unknown;
}

/**
 * Makes `onServerRequest` see every request of `server` before Fastify does. The server's one
 * 'request' listener (Fastify's handler) is replaced by a function that calls `onServerRequest`
 * and then it: a second listener would make Node copy the listener array on every request and call
 * through it. With other listeners present (or a listener added with `once`), `onServerRequest` is
 * prepended as a listener of its own instead.
 */
function watchArrivals(server: unknown): void {
  const emitter = server as RequestEmitter | undefined;
  if (typeof emitter?.prependListener !== 'function' || watched.has(emitter)) return;
  watched.add(emitter);
  const listeners = typeof emitter.rawListeners === 'function' ? emitter.rawListeners('request') : [];
  const handler = listeners.length === 1 ? listeners[0] : undefined;
  if (
    typeof handler === 'function' &&
    typeof emitter.removeListener === 'function' &&
    typeof emitter.on === 'function' &&
    !('listener' in handler) // not a `once` wrapper
  ) {
    const inner = handler as RequestListener;
    emitter.removeListener('request', inner);
    emitter.on('request', function (this: unknown, req: RawRequest, res: RawResponse) {
      onServerRequest(req, res);
      inner.call(this, req, res);
    });
    return;
  }
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
 * Records a request when its response closes. 'close' follows 'finish' for a completed response,
 * and comes alone when the client went away first: then the request is recorded as aborted (its
 * latency counts, it is no error).
 */
function recordClosed(flags: RequestFlags<FastifyRequest>, res: RawResponse): void {
  if (flags.served.length === 0) return;
  const request = flags.source!;
  flags.record(routeOf(request), request.method, res.writableEnded ? res.statusCode : ABORTED_STATUS);
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
  // created on first use instead, through the `flags` getter; a request that uses no flag costs
  // `onServerRequest` and nothing else.
  watchArrivals(fastify.server);
  const createFlags = (request: WithSlot): RequestFlags<FastifyRequest> => {
    const raw = request.raw as RawRequest;
    // Undefined for a request the server did not announce (injected, unless `injectedRequests`),
    // and for one whose response has already ended: evaluated as usual, not recorded.
    const res = responseOf(raw);
    const flags = new RequestFlags<FastifyRequest>(client, contextOf, request, res && arrivalOf(raw));
    request[kFlags] = flags;
    if (record && res !== undefined) {
      // A closure over the flags rather than the flags written on the response: a property added
      // to Node's response after it was built gives it another hidden class, and Node's own code
      // that handles it from then on (writing the head and body, finishing) sees two.
      res.on('close', () => recordClosed(flags, res));
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
      if (injected && responseOf(raw) === undefined) onServerRequest(raw, reply.raw as RawResponse);
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
