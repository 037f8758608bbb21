import type { EvaluationContext, EvaluationResult } from '@rupaya/flags-core';
import { ABORTED_STATUS, defaultRequestContext, type FlagsClient, RequestFlags } from '@rupaya/flags-node';
import { EventEmitter } from 'node:events';
import { OutgoingMessage } from 'node:http';
import type { NextFunction, Request, RequestHandler, Response } from 'express';

declare global {
  namespace Express {
    interface Request {
      /** Evaluates a flag for this request's context; the result is a plain object. */
      evaluateFlag(key: string, extra?: EvaluationContext): EvaluationResult;
      /** `isEnabled`, `variant`, `value` for this request, and its context. */
      flags: RequestFlags<Request>;
    }
  }
}

export interface FlagsMiddlewareOptions {
  client: FlagsClient;
  /** Context of a request (default: `req.user.id` as `userId`, plus `x-user-id`, `x-org-id`, `x-session-id`). */
  context?: (req: Request) => EvaluationContext;
  /** Record each request's route, status and latency for the cohorts it was served (default true). */
  recordRequests?: boolean;
  /**
   * Also attribute direct `client.*` evaluations made during the request (not only `req.evaluateFlag`
   * and `req.flags`), through an AsyncLocalStorage. Default false: on Node 20 it costs a little on
   * every promise.
   */
  captureClientCalls?: boolean;
}

/** Route pattern of a matched request (`/orders/:id` under its router's mount path), else `(unmatched)`. */
export function routeOf(req: Request): string {
  const path = (req.route as { path?: unknown } | undefined)?.path;
  if (typeof path === 'string') return (req.baseUrl || '') + path;
  return '(unmatched)';
}

/** What the middleware keeps for one request (outside the request object: see `install`). */
class RequestState {
  /** Express's `req.route`, held here while the setter below intercepts it. */
  route: unknown = undefined;
  /** Route pattern under its mount path, captured when the route matched. */
  matched: string | undefined = undefined;
  constructor(readonly flags: RequestFlags<Request>) {}
}

/**
 * The requests in flight, keyed by request, each removed when its response closes. Not a property
 * on `req`: every Express request has a hidden class of its own (see `install`), so adding one
 * property costs a new map with a copy of all of req's descriptors (~1 µs per request); not a
 * WeakMap: ephemeron tables made every scavenge slower.
 */
const states = new Map<object, RequestState>();

/**
 * `res.on` and `res.writableEnded` are found by walking res's prototype chain; with a hidden class
 * per response that walk is redone on every request. The functions themselves, taken once:
 */
const addListener = EventEmitter.prototype.on;
const writableEndedOf =
  Object.getOwnPropertyDescriptor(OutgoingMessage.prototype, 'writableEnded')?.get ??
  function (this: Response): boolean {
    return this.writableEnded;
  };
const stateOf = (req: object): RequestState | undefined => states.get(req);
const installed = new WeakSet<object>();
let lastProto: object | undefined;

/** A plain own data property, as an assignment would have made without the accessor. */
function defineOwn(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
}

/** `req.evaluateFlag(key, extra?)`: the request's flags evaluate `key`. */
function evaluateFlag(this: Request, key: string, extra?: EvaluationContext): EvaluationResult {
  const state = stateOf(this);
  if (state === undefined) throw new Error(NOT_SEEN);
  return state.flags.evaluate(key, extra);
}

const NOT_SEEN =
  '@rupaya/flags-express: req.evaluateFlag was called on a request the flags middleware has not seen ' +
  '(a route or middleware registered before app.use(flagsMiddleware(...)), or after the response closed)';

/**
 * Express gives every request a hidden class of its own (`Object.setPrototypeOf(req, app.request)`
 * per request), so each property a middleware adds to `req` costs a fresh map with a copy of all
 * of req's property descriptors, plus old-space garbage, and an accessor defined per request (with
 * its own getter/setter closures) costs more. No property is added: the state lives in `states`;
 * `flags` and `route` are accessors on the app's request prototype (mounted sub-apps inherit from
 * it) that read it, and `evaluateFlag` is a method there. An assignment to any of them defines an
 * own property, as it would without them.
 */
function install(proto: object): void {
  installed.add(proto);
  Object.defineProperties(proto, {
    flags: {
      configurable: true,
      get(this: Request) {
        return stateOf(this)?.flags;
      },
      set(this: Request, value: unknown) {
        defineOwn(this, 'flags', value);
      },
    },
    // A method, not an accessor: an accessor found on the prototype of a request with a hidden
    // class of its own costs a full lookup on every request, and its closure an allocation (the
    // accessor measured 1.8–3.5 points of the hello-world app's rps over HTTP). Like Fastify's
    // `request.evaluateFlag`, it is called on the request (`req.evaluateFlag(key)`).
    evaluateFlag: {
      configurable: true,
      writable: true,
      value: evaluateFlag,
    },
    // Express sets req.route when a route matches, while req.baseUrl is that router's mount path; by
    // the time the response ends (an error handler, say) baseUrl has been unwound. Capture both at
    // the moment of the match.
    route: {
      configurable: true,
      get(this: Request) {
        return stateOf(this)?.route;
      },
      set(this: Request, value: unknown) {
        const state = stateOf(this);
        if (!state) {
          defineOwn(this, 'route', value);
          return;
        }
        state.route = value;
        const path = (value as { path?: unknown } | undefined)?.path;
        if (typeof path === 'string') state.matched = (this.baseUrl || '') + path;
      },
    },
  });
}

export function flagsMiddleware(options: FlagsMiddlewareOptions): RequestHandler {
  const { client } = options;
  const contextOf = options.context ?? defaultRequestContext;
  const record = options.recordRequests !== false;
  const capture = options.captureClientCalls === true;

  return function rupayaFlags(req: Request, res: Response, next: NextFunction): void {
    const flags = new RequestFlags(client, contextOf, req);
    const proto = Object.getPrototypeOf(req) as object;
    if (proto !== lastProto) {
      if (!installed.has(proto)) install(proto);
      lastProto = proto;
    }
    const state = new RequestState(flags);
    states.set(req, state);
    // 'close' follows 'finish' for a completed response, and also comes alone when the client went
    // away first: then the request is recorded as aborted (its latency counts, it is no error). A
    // closure (one allocation) reads less of req/res than a shared listener would: each property
    // read on them is a megamorphic lookup (every request has a hidden class of its own), so a
    // request served nothing reads none of them.
    addListener.call(res, 'close', () => {
      states.delete(req);
      if (record && flags.served.length > 0) {
        flags.record(
          state.matched ?? routeOf(req),
          req.method,
          writableEndedOf.call(res) ? res.statusCode : ABORTED_STATUS,
        );
      }
    });
    if (capture) client.runInRequest(flags.scope, next);
    else next();
  };
}

export { RequestFlags };
