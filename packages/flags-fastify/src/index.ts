import type { EvaluationContext, EvaluationResult } from '@rupaya/flags-core';
import { ABORTED_STATUS, defaultRequestContext, type FlagsClient, RequestFlags } from '@rupaya/flags-node';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify';
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

/**
 * On an HTTP/1 connection: the flags of the request it is answering, while they wait to be recorded
 * by `reply.send` (null once recorded; absent until the connection's first request).
 */
const kPending = Symbol('rupaya.pending');

type RawResponse = ServerResponse & { req?: unknown };
/** Node's socket of an HTTP/1 connection: `_httpMessage` is the response it is sending now. */
type RawSocket = {
  _httpMessage?: RawResponse | null;
  [kArrival]?: number;
  [kPending]?: RequestFlags<FastifyRequest> | null;
  on(event: 'close', listener: (this: RawSocket) => void): unknown;
};
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
  const socket = req.socket as unknown as RawSocket | null;
  if (socket != null && socket._httpMessage === res) {
    // A connection's first request: the connection is watched for closing (a client that leaves
    // before its response was sent), once, and gets its two slots in one go.
    if (socket[kArrival] === undefined) {
      socket[kPending] = null;
      socket.on('close', onConnectionClose);
    }
    socket[kArrival] = arrival;
  } else {
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

/**
 * A connection closed while a request on it was still pending: its response was neither sent nor
 * ended (the client left first). Recorded as `recordClosed` records it: aborted.
 */
function onConnectionClose(this: RawSocket): void {
  const flags = this[kPending];
  if (flags == null) return;
  this[kPending] = null;
  const res = this._httpMessage;
  if (res != null && res.req === flags.source!.raw) recordClosed(flags, res);
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

/**
 * Records the request when `res` closes. A closure over the flags rather than the flags written on
 * the response: a property added to Node's response after it was built gives it another hidden
 * class, and Node's own code that handles it from then on (writing the head and body, finishing)
 * sees two.
 */
function recordOnClose(flags: RequestFlags<FastifyRequest>, res: RawResponse): void {
  res.on('close', () => recordClosed(flags, res));
}

/** A reply's request's flags (null: none used yet): the plugin's reply decorator. */
const kReplyFlags = Symbol('rupaya.replyFlags');

type Reply = FastifyReply & { raw: RawResponse; [kReplyFlags](): RequestFlags<FastifyRequest> | null };
type ReplyMethod = (this: Reply, payload?: unknown) => unknown;

function replyFlags(this: FastifyReply): RequestFlags<FastifyRequest> | null {
  return (this.request as WithSlot)[kFlags];
}

/**
 * The prototype of the replies of `fastify`'s routes (its own context and the contexts below), or
 * undefined when Fastify's Reply class is not where Fastify 5 keeps it.
 */
function replyPrototypeOf(fastify: object): Record<'send' | 'hijack', ReplyMethod> | undefined {
  const key = Object.getOwnPropertySymbols(fastify).find((s) => s.description === 'fastify.Reply');
  const Reply = key === undefined ? undefined : (fastify as Record<symbol, unknown>)[key];
  const proto = typeof Reply === 'function' ? (Reply.prototype as Record<string, unknown>) : undefined;
  return proto && typeof proto.send === 'function' && typeof proto.hijack === 'function'
    ? (proto as Record<'send' | 'hijack', ReplyMethod>)
    : undefined;
}

/**
 * The flags of `reply`'s request when they are pending on its connection (taken off it), else null.
 * Only the connection's current request is ever pending there: pipelined requests behind it, HTTP/2
 * streams and injected requests are recorded by a listener on their response.
 */
function takePending(reply: Reply): RequestFlags<FastifyRequest> | null {
  const flags = reply[kReplyFlags]();
  if (flags === null) return null;
  const socket = reply.request.raw.socket as unknown as RawSocket | null;
  if (socket == null || socket[kPending] !== flags) return null;
  socket[kPending] = null;
  return flags;
}

/**
 * A reply was sent: a request pending on its connection is recorded now, when the response ended
 * within `send` (the usual case: Fastify serializes and ends the response synchronously), else
 * when its response closes (a stream, or an `onSend` hook that went async).
 */
function afterSend(reply: Reply): void {
  const flags = takePending(reply);
  if (flags === null) return;
  const res = reply.raw;
  if (res.writableEnded) recordClosed(flags, res);
  else recordOnClose(flags, res);
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
  // and a callback chain; an empty hook measured 0.4–0.7 µs of CPU per request). A request's flags are
  // created on first use instead, through the `flags` getter; a request that uses no flag costs
  // `onServerRequest` and nothing else. Arrivals only matter to the latency recorded: without
  // recording, the server is left as it is.
  if (record) watchArrivals(fastify.server);
  // A request's flags are recorded where its reply is sent (`reply.send`, wrapped on the prototype
  // of this context's replies), not by a listener on each response: a 'close' listener per request
  // cost more than the recording itself. Without Fastify's Reply class to wrap, by a listener.
  // Decorated first: Fastify gives a context's routes the replies of the nearest context whose
  // Reply class was decorated, so an undecorated one would leave Fastify's shared base class (every
  // instance's) as the one to wrap.
  if (record) fastify.decorateReply(kReplyFlags, replyFlags);
  const replies = record ? replyPrototypeOf(fastify) : undefined;
  if (replies !== undefined) {
    const { send, hijack } = replies;
    // One parameter, as Fastify's `send` has: no arguments array per reply.
    replies.send = function sendAndRecord(this: Reply, payload?: unknown) {
      const result = send.call(this, payload);
      afterSend(this);
      return result;
    };
    // A hijacked reply is answered on `reply.raw`: recorded when that response closes.
    replies.hijack = function hijackAndRecord(this: Reply) {
      const flags = takePending(this);
      if (flags !== null) recordOnClose(flags, this.raw);
      return hijack.call(this);
    };
  }
  const createFlags = (request: WithSlot): RequestFlags<FastifyRequest> => {
    if (!record) return (request[kFlags] = new RequestFlags<FastifyRequest>(client, contextOf, request));
    const raw = request.raw as RawRequest;
    // Undefined for a request the server did not announce (injected, unless `injectedRequests`),
    // and for one whose response has already ended: evaluated as usual, not recorded.
    const res = responseOf(raw);
    const flags = new RequestFlags<FastifyRequest>(client, contextOf, request, res && arrivalOf(raw));
    request[kFlags] = flags;
    // A response already ended (flags first used after `reply.send`) is not recorded either.
    if (res !== undefined && !res.writableEnded) {
      const socket = raw.socket as unknown as RawSocket;
      if (replies !== undefined && raw[kResponse] === undefined && socket[kPending] !== undefined) {
        // The connection's current request: recorded by `reply.send`, or as the connection closes.
        socket[kPending] = flags;
      } else recordOnClose(flags, res);
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
