import { performance } from 'node:perf_hooks';
import type { EvaluationContext, EvaluationResult, FlagValue, Widen } from '@rupaya/flags-core';
import { type FlagsClient, RequestScope } from './client';
import { wallClockAt } from './wall-clock';

/**
 * Headers read by the default context of the Express and Fastify integrations
 * (only when the request has no `req.user.id`): header → context attribute.
 */
export const CONTEXT_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'x-user-id': 'userId',
  'x-org-id': 'orgId',
  'x-session-id': 'sessionId',
});

type HeaderBag = Record<string, string | string[] | undefined>;

/** A header's value as a context attribute: the first of repeated values; empty is none. */
function headerValue(raw: string | string[] | undefined): string | undefined {
  const value = Array.isArray(raw) ? raw[0] : raw;
  return value === '' ? undefined : value;
}

/**
 * Default context of a request: `req.user.id` as `userId`, plus the headers of `CONTEXT_HEADERS`.
 * Written out attribute by attribute (a test holds it to the table): named stores into a fresh
 * object cost a fraction of a loop of computed-key reads and writes, on every request.
 */
export function defaultRequestContext(req: { user?: unknown; headers: HeaderBag }): EvaluationContext {
  const headers = req.headers;
  const ctx: EvaluationContext = {};
  const userId = headerValue(headers['x-user-id']);
  if (userId !== undefined) ctx.userId = userId;
  const orgId = headerValue(headers['x-org-id']);
  if (orgId !== undefined) ctx.orgId = orgId;
  const sessionId = headerValue(headers['x-session-id']);
  if (sessionId !== undefined) ctx.sessionId = sessionId;
  const user = req.user as { id?: unknown } | undefined;
  if (user && user.id !== undefined && user.id !== null) ctx.userId = String(user.id);
  return ctx;
}

/** Status recorded for a request the client aborted before the response ended (nginx's convention). */
export const ABORTED_STATUS = 499;

/**
 * Per-request flag access for middleware: evaluates with the request's context (computed once, on
 * first use, so auth middleware that runs later still counts), remembers which cohorts and
 * variants the request was served, and records the request when it ends.
 */
export class RequestFlags<S = undefined> extends RequestScope {
  /** What this request was served: the flags object is its own scope (one allocation less per request). */
  get scope(): RequestScope {
    return this;
  }
  /** When the request started (`performance.now()` clock): `startedAt` if given, else construction. */
  readonly startedAt: number;
  private ctx: EvaluationContext | undefined;
  private recorded = false;

  /**
   * `contextOf(source)` gives the request's context on first use (`source` is the framework's
   * request, so the integrations need no closure per request); `contextOf()` when no source is
   * given. `startedAt` (a `performance.now()` reading) is when the request arrived, for
   * integrations that create the object later than that (on first use).
   */
  constructor(
    readonly client: FlagsClient,
    private readonly contextOf: (source: S) => EvaluationContext,
    readonly source?: S,
    startedAt?: number,
  ) {
    super();
    this.startedAt = startedAt ?? performance.now();
  }

  get context(): EvaluationContext {
    if (this.ctx === undefined) {
      try {
        this.ctx = this.contextOf(this.source as S) ?? {};
      } catch {
        this.ctx = {};
      }
    }
    return this.ctx;
  }

  /** Full result (a plain object: `await` on it works too). `extra` adds to the request's context. */
  evaluate(key: string, extra?: EvaluationContext): EvaluationResult {
    const ctx = extra ? { ...this.context, ...extra } : this.context;
    return this.client.evaluateInScope(this.scope, key, ctx);
  }

  isEnabled(key: string, extra?: EvaluationContext): boolean {
    return this.evaluate(key, extra).enabled;
  }

  variant(key: string, extra?: EvaluationContext): string | null {
    return this.evaluate(key, extra).variant;
  }

  /** The served value, or `fallback` (also when the served value's type differs from the fallback's). */
  value<T extends FlagValue>(key: string, fallback: T, extra?: EvaluationContext): Widen<T> {
    const ctx = extra ? { ...this.context, ...extra } : this.context;
    return this.client.valueInScope(this.scope, key, ctx, fallback);
  }

  /**
   * Records the finished request (no-op when it was served no cohort or variant, and after the first
   * call: an integration may see both the end and an abort of one request). A request the client
   * aborted is recorded with `ABORTED_STATUS`: its latency counts, it is not an error.
   */
  record(route: string, method: string, status: number, durationMs?: number): void {
    if (this.recorded) return;
    this.recorded = true;
    if (this.served.length === 0) return;
    const end = performance.now();
    this.client.recordServed(
      route,
      method,
      status,
      durationMs ?? end - this.startedAt,
      this.served,
      wallClockAt(end),
    );
  }
}
