// The one error catalogue of the control plane. Every 4xx/5xx body is `{ error: { code, message, field? } }`.
// Codes are stable (clients and docs rely on them); messages name the field they are about.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

export const errorCatalogue = {
  VALIDATION_FAILED: {
    status: 400,
    description: 'A field of the request is missing, of the wrong type or out of range; `field` names it.',
  },
  MALFORMED_JSON: { status: 400, description: 'The request body is not valid JSON.' },
  UNAUTHORIZED: {
    status: 401,
    description: 'No credentials, or credentials that are not valid for this API.',
  },
  FORBIDDEN_ROLE: {
    status: 403,
    description: 'The credentials are valid but their role does not allow this call.',
  },
  NOT_FOUND: { status: 404, description: 'No such route.' },
  FLAG_NOT_FOUND: { status: 404, description: 'No (unarchived) flag with this key.' },
  ENVIRONMENT_NOT_FOUND: { status: 404, description: 'No environment with this key.' },
  EXPERIMENT_NOT_FOUND: { status: 404, description: 'No experiment with this key.' },
  WEBHOOK_NOT_FOUND: { status: 404, description: 'No active webhook with this id.' },
  SDK_KEY_NOT_FOUND: { status: 404, description: 'No unrevoked SDK key with this id.' },
  TOKEN_NOT_FOUND: { status: 404, description: 'No unrevoked minted token with this id.' },
  FLAG_EXISTS: {
    status: 409,
    description: 'A flag with this key already exists (archived flags keep their key).',
  },
  ENVIRONMENT_EXISTS: { status: 409, description: 'An environment with this key already exists.' },
  NOT_A_CANARY: { status: 409, description: 'The flag has no canary stages in this environment.' },
  NOT_AN_EXPERIMENT: { status: 409, description: 'The flag is not an experiment.' },
  EXPERIMENT_CONCLUDED: {
    status: 409,
    description:
      'The experiment is already concluded (its variant ships to 100%); it cannot be concluded again.',
  },
  INVALID_TRANSITION: {
    status: 409,
    description: 'The canary cannot take this action from its current status.',
  },
  VERSION_CONFLICT: {
    status: 412,
    description: 'If-Match does not match the current version (ETag) of the flag.',
  },
  PAYLOAD_TOO_LARGE: { status: 413, description: 'The request body exceeds the size limit.' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, description: 'The request body must be application/json.' },
  RATE_LIMITED: { status: 429, description: 'Too many requests; retry after the time in Retry-After.' },
  INTERNAL: {
    status: 500,
    description: 'An unexpected error; details are in the server log, never in the response.',
  },
  STORAGE_UNAVAILABLE: {
    status: 503,
    description: 'The database is unreachable; reads of snapshots keep working, writes fail.',
  },
  AUTH_PROVIDER_UNAVAILABLE: {
    status: 503,
    description: 'The OIDC issuer (discovery document or JWKS) cannot be reached; retry.',
  },
  SNAPSHOT_NOT_READY: { status: 503, description: 'No snapshot has been built yet for this environment.' },
} as const satisfies Record<string, { status: number; description: string }>;

export type ErrorCode = keyof typeof errorCatalogue;

export interface ErrorBody {
  error: { code: string; message: string; field?: string };
}

export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  toBody(): ErrorBody {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.field !== undefined ? { field: this.field } : {}),
      },
    };
  }
}

function make(code: ErrorCode, message: string, field?: string, headers?: Record<string, string>): ApiError {
  return new ApiError(errorCatalogue[code].status, code, message, field, headers);
}

export const errors = {
  validation: (field: string, message: string) => make('VALIDATION_FAILED', message, field),
  malformedJson: (detail = 'request body is not valid JSON') => make('MALFORMED_JSON', detail, 'body'),
  unauthorized: (message = 'missing or invalid credentials') => make('UNAUTHORIZED', message),
  forbiddenRole: (needed: string, actual: string) =>
    make('FORBIDDEN_ROLE', `this call needs role ${needed}; the credentials have role ${actual}`),
  notFound: (method: string, url: string) => make('NOT_FOUND', `route ${method} ${url} does not exist`),
  flagNotFound: (key: string) => make('FLAG_NOT_FOUND', `no flag with key "${key}"`, 'key'),
  environmentNotFound: (env: string) =>
    make('ENVIRONMENT_NOT_FOUND', `environment "${env}" does not exist`, 'environment'),
  experimentNotFound: (key: string) => make('EXPERIMENT_NOT_FOUND', `no experiment with key "${key}"`, 'key'),
  webhookNotFound: (id: string) =>
    make('WEBHOOK_NOT_FOUND', `no webhook with id "${id}" (it does not exist or was deleted)`, 'id'),
  flagExists: (key: string) => make('FLAG_EXISTS', `a flag with key "${key}" already exists`, 'key'),
  environmentExists: (env: string) =>
    make('ENVIRONMENT_EXISTS', `an environment with key "${env}" already exists`, 'key'),
  notACanary: (key: string, env: string) =>
    make(
      'NOT_A_CANARY',
      `flag with key "${key}" is not a canary in environment "${env}" (it has no stages)`,
      'key',
    ),
  notAnExperiment: (key: string) =>
    make('NOT_AN_EXPERIMENT', `flag with key "${key}" is not an experiment`, 'key'),
  experimentConcluded: (key: string, variant: string | null) =>
    make(
      'EXPERIMENT_CONCLUDED',
      `experiment with key "${key}" is already concluded (variant ${variant ?? 'unknown'}) and cannot be concluded again`,
      'key',
    ),
  invalidTransition: (message: string) => make('INVALID_TRANSITION', message, 'canary.status'),
  versionConflict: (expected: string, current: string) =>
    make(
      'VERSION_CONFLICT',
      `If-Match ${expected} does not match the current version ${current}; reload the flag and retry`,
      'If-Match',
    ),
  rateLimited: (retryAfterSec: number) =>
    make('RATE_LIMITED', `too many requests; retry after ${retryAfterSec} s`, undefined, {
      'retry-after': String(retryAfterSec),
    }),
  internal: () => make('INTERNAL', 'internal error'),
  storageUnavailable: () =>
    make(
      'STORAGE_UNAVAILABLE',
      'the database is unavailable; writes are refused until it returns',
      undefined,
      {
        'retry-after': '1',
      },
    ),
  snapshotNotReady: (env: string) =>
    make('SNAPSHOT_NOT_READY', `no snapshot has been built yet for environment "${env}"`, 'environment'),
};

// Connection-level failures of Postgres/PGlite: SQLSTATE classes 08 (connection), 53 (resources),
// 57P (operator intervention, e.g. terminated connections), 3D000 (database gone), 55000 (database
// not accepting connections), plus socket errors and the postgres.js connection codes.
const CONNECTION_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'CONNECTION_CLOSED',
  'CONNECTION_DESTROYED',
  'CONNECTION_ENDED',
  'CONNECT_TIMEOUT',
  '3D000',
  '55000',
  '28000',
  '28P01',
]);

/** True when `err` (or its cause chain) is the database being unreachable, not a bad query. */
export function isStorageUnavailable(err: unknown): boolean {
  let e: unknown = err;
  for (let depth = 0; e && depth < 6; depth++) {
    if (e instanceof ApiError) return e.code === 'STORAGE_UNAVAILABLE';
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') {
      if (CONNECTION_ERROR_CODES.has(code)) return true;
      if (code.startsWith('08') || code.startsWith('53') || code.startsWith('57P')) return true;
    }
    const msg = (e as { message?: unknown }).message;
    if (
      typeof msg === 'string' &&
      /PGlite is closed|write CONNECTION|connection (terminated|ended)/i.test(msg)
    ) {
      return true;
    }
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** `/rules/0/clauses/1/op` → `rules[0].clauses[1].op` (core's path style). */
export function jsonPointerToPath(pointer: string, extra?: string): string {
  const parts = pointer.split('/').filter((p) => p !== '');
  if (extra !== undefined) parts.push(extra);
  let out = '';
  for (const raw of parts) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (/^\d+$/.test(part)) out += `[${part}]`;
    else out += out === '' ? part : `.${part}`;
  }
  return out;
}

interface AjvErrorLike {
  instancePath?: string;
  keyword?: string;
  message?: string;
  params?: Record<string, unknown>;
}

/** Turns the first Ajv error of a Fastify validation failure into our VALIDATION_FAILED error. */
export function fromValidation(validation: AjvErrorLike[], context: string | undefined): ApiError {
  const first = validation[0] ?? {};
  const params = first.params ?? {};
  const extra =
    typeof params.missingProperty === 'string'
      ? params.missingProperty
      : typeof params.additionalProperty === 'string'
        ? params.additionalProperty
        : undefined;
  const path = jsonPointerToPath(first.instancePath ?? '', extra);
  const field =
    path === ''
      ? (context ?? 'body')
      : context === 'body' || context === undefined
        ? path
        : `${context}.${path}`;
  let message: string;
  if (first.keyword === 'additionalProperties') message = `${field} is not a known field`;
  else if (first.keyword === 'required') message = `${field} is required`;
  else message = `${field} ${first.message ?? 'is invalid'}`;
  if (first.keyword === 'enum' && Array.isArray(params.allowedValues)) {
    message = `${field} must be one of ${params.allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
  }
  return make('VALIDATION_FAILED', message, field);
}

/**
 * The longest path parameter the router accepts: above core's longest flag key (MAX_KEY_LENGTH, 200)
 * so every valid key is reachable; Fastify's default, 100, made keys of 101–200 characters
 * unaddressable with Fastify's own 414 body.
 */
export const MAX_PATH_PARAM_LENGTH = 512;

/**
 * Errors Fastify raises before routing (a path that is not valid URL encoding, a path parameter over
 * the router's limit), answered from the same catalogue instead of Fastify's own body.
 */
export function frameworkErrors(
  err: FastifyError,
  _request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  let apiError: ApiError;
  if (err.code === 'FST_ERR_MAX_PARAM_LENGTH')
    apiError = errors.validation(
      'params',
      `params: a path parameter must be at most ${MAX_PATH_PARAM_LENGTH} characters (flag keys have at most 200)`,
    );
  else if (err.code === 'FST_ERR_BAD_URL')
    apiError = errors.validation('url', 'url: the request path is not valid percent-encoding');
  else {
    reply.log.error({ err }, 'framework error');
    apiError = errors.internal();
  }
  return reply.code(apiError.statusCode).type('application/json; charset=utf-8').send(apiError.toBody());
}

/** Maps every error a route can throw to the catalogue; unknown errors become a 500 without details. */
export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | ApiError | Error, request, reply) => {
    let apiError: ApiError;
    const fe = err as FastifyError & { validationContext?: string };
    if (err instanceof ApiError) apiError = err;
    else if (Array.isArray(fe.validation)) apiError = fromValidation(fe.validation, fe.validationContext);
    else if (
      fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY' ||
      (err instanceof SyntaxError && fe.statusCode === 400)
    )
      apiError = errors.malformedJson();
    else if (fe.code === 'FST_ERR_CTP_EMPTY_JSON_BODY')
      apiError = errors.malformedJson('request body is empty but Content-Type is application/json');
    else if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
      apiError = make('PAYLOAD_TOO_LARGE', 'request body is too large', 'body');
    else if (fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
      apiError = make('UNSUPPORTED_MEDIA_TYPE', 'request body must be application/json', 'content-type');
    else if (isStorageUnavailable(err)) apiError = errors.storageUnavailable();
    else if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
      // Other client errors raised by Fastify or plugins (e.g. 429 from a limiter): keep status, stable code.
      const code =
        fe.statusCode === 429 ? 'RATE_LIMITED' : fe.statusCode === 401 ? 'UNAUTHORIZED' : 'VALIDATION_FAILED';
      apiError = new ApiError(fe.statusCode, code, err.message);
    } else {
      request.log.error({ err }, 'unhandled error');
      apiError = errors.internal();
    }
    if (apiError.statusCode >= 500 && apiError.code === 'STORAGE_UNAVAILABLE') {
      request.log.warn({ err: err.message }, 'storage unavailable');
      request.server.storage?.markUnavailable?.(err);
    }
    if (apiError.headers) reply.headers(apiError.headers);
    reply.code(apiError.statusCode).type('application/json; charset=utf-8').send(apiError.toBody());
  });
  app.setNotFoundHandler((request, reply) => {
    const e = errors.notFound(request.method, request.url.split('?')[0] ?? request.url);
    reply.code(404).send(e.toBody());
  });
}
