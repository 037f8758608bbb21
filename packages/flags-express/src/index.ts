import type { EvaluationContext, EvaluationResult } from '@rupaya/flags-core';
import { ABORTED_STATUS, defaultRequestContext, type FlagsClient, RequestFlags } from '@rupaya/flags-node';
import type { NextFunction, Request, RequestHandler, Response } from 'express';

declare global {
  namespace Express {
    interface Request {
      /** Evaluates a flag for this request's context; the result is a plain object. */
      evaluateFlag(key: string, extra?: EvaluationContext): EvaluationResult;
      /** `isEnabled`, `variant`, `value` for this request, and its context. */
      flags: RequestFlags;
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

export function flagsMiddleware(options: FlagsMiddlewareOptions): RequestHandler {
  const { client } = options;
  const contextOf = options.context ?? defaultRequestContext;
  const record = options.recordRequests !== false;
  const capture = options.captureClientCalls === true;

  return function rupayaFlags(req: Request, res: Response, next: NextFunction): void {
    const flags = new RequestFlags(client, () => contextOf(req));
    req.flags = flags;
    req.evaluateFlag = (key, extra) => flags.evaluate(key, extra);
    if (record) {
      // Express sets req.route when a route matches, while req.baseUrl is that router's mount path;
      // by the time the response ends (an error handler, say) baseUrl has been unwound. Capture both
      // at the moment of the match.
      let matched: string | undefined;
      let current: unknown;
      Object.defineProperty(req, 'route', {
        configurable: true,
        enumerable: true,
        get: () => current,
        set: (value: unknown) => {
          current = value;
          const path = (value as { path?: unknown } | undefined)?.path;
          if (typeof path === 'string') matched = (req.baseUrl || '') + path;
        },
      });
      // 'close' follows 'finish' for a completed response, and also comes alone when the client went
      // away first: then the request is recorded as aborted (its latency counts, it is no error).
      res.once('close', () =>
        flags.record(
          matched ?? '(unmatched)',
          req.method,
          res.writableFinished ? res.statusCode : ABORTED_STATUS,
        ),
      );
    }
    if (capture) client.runInRequest(flags.scope, next);
    else next();
  };
}

export { RequestFlags };
