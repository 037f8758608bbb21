// Response schemas of every route, for the OpenAPI document at /docs. They DOCUMENT what a route sends;
// they never shape it: buildApp installs a serializer compiler that ignores them (JSON.stringify, as
// for a route without a response schema), so a property missing here is never dropped from a reply
// and no type is coerced (test/openapi-responses.test.ts checks both, and validates every reply
// against these schemas). Objects are open (no `additionalProperties: false`): replies may gain fields.
// Flag and snapshot bodies are core's published JSON Schemas; errors are one shared schema whose codes
// are the catalogue's (errors.ts).
import { flagJsonSchema, snapshotJsonSchema } from '@rupaya/flags-core';
import { type ErrorCode, errorCatalogue } from '../errors';

type JsonSchema = Record<string, unknown>;

/** `$id`s of the shared schemas (components of the OpenAPI document). */
export const ERROR_RESPONSE = 'ErrorResponse';
export const FLAG = 'Flag';

export const errorResponseSchema = {
  $id: ERROR_RESPONSE,
  type: 'object',
  description: 'Every 4xx/5xx body. `code` is stable (see the catalogue in the description above).',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: { type: 'string', enum: Object.keys(errorCatalogue) },
        message: { type: 'string' },
        field: { type: 'string', description: 'The field (or header, or query parameter) it is about.' },
      },
    },
  },
} as const;

/** The schemas added to the app (app.addSchema) before the routes, referenced as `<$id>#`. */
export const sharedSchemas: JsonSchema[] = [
  errorResponseSchema,
  { ...(flagJsonSchema as unknown as JsonSchema), $id: FLAG, description: "A flag (core's flag schema)" },
];

const ref = (id: string) => ({ $ref: `${id}#` });
export const flagRef = ref(FLAG);

// ------------------------------------------------------------------------------------------------
// Errors per route

/** Any admin route: credentials, role, OIDC issuer, server and database. */
export const ADMIN = [
  'UNAUTHORIZED',
  'FORBIDDEN_ROLE',
  'AUTH_PROVIDER_UNAVAILABLE',
  'INTERNAL',
  'STORAGE_UNAVAILABLE',
] as const satisfies readonly ErrorCode[];
/** Any SDK route. */
export const SDK = [
  'UNAUTHORIZED',
  'INTERNAL',
  'STORAGE_UNAVAILABLE',
] as const satisfies readonly ErrorCode[];
/** A route with a JSON body. */
export const BODY = [
  'VALIDATION_FAILED',
  'MALFORMED_JSON',
  'PAYLOAD_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
] as const satisfies readonly ErrorCode[];

/** `{ <status>: ErrorResponse }` for the statuses of `codes`, each described by its codes. */
export function errorResponses(...codes: readonly ErrorCode[]): Record<string, JsonSchema> {
  const byStatus = new Map<number, string[]>();
  for (const code of new Set(codes)) {
    const { status } = errorCatalogue[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const out: Record<string, JsonSchema> = {};
  for (const [status, list] of [...byStatus].sort((a, b) => a[0] - b[0])) {
    out[status] = {
      description: list.map((c) => `\`${c}\`: ${errorCatalogue[c as ErrorCode].description}`).join(' '),
      ...ref(ERROR_RESPONSE),
    };
  }
  return out;
}

/** A route's responses: its successes, then its errors. */
export function responses(
  success: Record<string | number, JsonSchema>,
  ...codes: readonly ErrorCode[]
): Record<string, JsonSchema> {
  return { ...success, ...errorResponses(...codes) };
}

// ------------------------------------------------------------------------------------------------
// Building blocks

const str = { type: 'string' } as const;
const int = { type: 'integer' } as const;
const num = { type: 'number' } as const;
const bool = { type: 'boolean' } as const;
const time = { type: 'string', format: 'date-time' } as const;
const nullable = <T extends JsonSchema>(s: T) => ({ ...s, nullable: true }) as T & { nullable: true };
/** Any JSON value (stored JSON: metrics, statistics, before/after of an audit row). */
const anyJson = {} as const;
const revisions = {
  type: 'object',
  description: 'Snapshot revision written per environment',
  additionalProperties: int,
} as const;

export function object(
  properties: Record<string, JsonSchema>,
  options: { required?: string[]; description?: string } = {},
): JsonSchema {
  return {
    type: 'object',
    ...(options.description ? { description: options.description } : {}),
    required: options.required ?? Object.keys(properties),
    properties,
  };
}

const etagHeader = { etag: { type: 'string', description: 'The configuration version, `"<version>"`' } };

// ------------------------------------------------------------------------------------------------
// Flags

const flagView = {
  environment: str,
  flag: flagRef,
  version: int,
  updatedAt: time,
  updatedBy: str,
};

export const flagResponses = {
  list: object(
    { environment: str, revision: nullable(int), flags: { type: 'array', items: flagRef } },
    { description: "The environment's flags, by key" },
  ),
  read: { ...object(flagView, { description: 'The flag in the environment' }), headers: etagHeader },
  created: {
    ...object({ ...flagView, revisions }, { description: 'Created (in every environment)' }),
    headers: { ...etagHeader, location: str },
  },
  updated: {
    ...object({ ...flagView, revisions }, { description: 'The flag as written' }),
    headers: etagHeader,
  },
  archived: object(
    { key: str, archived: { type: 'boolean', enum: [true] }, archivedAt: time, revisions },
    { description: 'Archived' },
  ),
  audit: object(
    {
      key: str,
      environment: str,
      entries: {
        type: 'array',
        items: object({
          id: int,
          flagKey: str,
          environment: nullable(str),
          action: str,
          actor: str,
          reason: nullable(str),
          before: anyJson,
          after: anyJson,
          version: nullable(int),
          revision: nullable(int),
          createdAt: time,
        }),
      },
    },
    { description: 'Audit entries, newest first' },
  ),
  import: object(
    {
      applied: bool,
      dryRun: bool,
      changes: {
        type: 'array',
        items: object({
          environment: str,
          key: str,
          action: { type: 'string', enum: ['create', 'update', 'unchanged'] },
          fields: { type: 'array', items: str },
        }),
      },
      revisions,
    },
    { description: 'What was (dryRun: would be) done' },
  ),
};

// ------------------------------------------------------------------------------------------------
// Canary

const canaryState = (flagJsonSchema.properties as unknown as Record<string, JsonSchema>).canary!;

export const canaryResponses = {
  transition: {
    ...object(
      {
        environment: str,
        key: str,
        action: { type: 'string', enum: ['advance', 'rollback', 'pause', 'resume', 'restart'] },
        fromStage: int,
        toStage: int,
        fromPercent: num,
        toPercent: num,
        fromStatus: str,
        status: str,
        canary: canaryState,
        version: int,
        revision: int,
        flag: flagRef,
      },
      { description: 'The transition applied' },
    ),
    headers: etagHeader,
  },
  logs: object(
    {
      key: str,
      environment: str,
      logs: {
        type: 'array',
        items: object({
          id: int,
          flagKey: str,
          environment: str,
          runId: nullable(str),
          action: str,
          fromStage: int,
          toStage: int,
          fromPercent: num,
          toPercent: num,
          fromStatus: str,
          toStatus: str,
          automatic: bool,
          actor: str,
          reason: nullable(str),
          metrics: anyJson,
          revision: nullable(int),
          createdAt: time,
        }),
      },
    },
    { description: 'Transitions, newest first' },
  ),
};

// ------------------------------------------------------------------------------------------------
// Environments

const environmentInfo = object({ key: str, name: str, revision: int, createdAt: time });

export const environmentResponses = {
  list: object({ environments: { type: 'array', items: environmentInfo } }, { description: 'Environments' }),
  created: { ...environmentInfo, description: 'Created, with every flag copied' },
};

// ------------------------------------------------------------------------------------------------
// Metrics

/** The figures of a cohort summary, also the figures of a range point. */
const windowFigures = {
  requests: num,
  errors: num,
  errorRate: nullable({ type: 'number', description: 'Percent' }),
  p50: nullable(num),
  p95: nullable(num),
  p99: nullable(num),
  rps: num,
};

const cohortSummary = object(windowFigures);

export const metricsResponses = {
  health: object(
    {
      environment: str,
      status: { type: 'string', enum: ['healthy', 'degraded', 'rolling_back'] },
      windowSizeSec: num,
      canaries: {
        type: 'array',
        items: object({
          key: str,
          kind: { type: 'string', enum: ['canary', 'guard'] },
          stage: nullable(int),
          percent: num,
          status: str,
          runId: nullable(str),
          stageStartedAt: nullable(str),
          cohorts: object({ treatment: cohortSummary, control: cohortSummary }),
          latestWindow: object({
            windowStart: nullable(num),
            treatment: cohortSummary,
            control: cohortSummary,
          }),
          // Open: the traffic check gains fields.
          traffic: {
            type: 'object',
            additionalProperties: true,
            required: ['configuredPercent', 'observedPercent', 'requests', 'gap', 'ok'],
            properties: {
              configuredPercent: num,
              observedPercent: nullable({ type: 'number', description: 'Treatment requests / all, percent' }),
              requests: num,
              gap: nullable(num),
              allowedGap: nullable(num),
              units: nullable({
                type: 'number',
                description:
                  'Distinct units of the flag (HyperLogLog estimate); null when no SDK reported units',
              }),
              observedUnitPercent: nullable({
                type: 'number',
                description: 'Treatment units / all, percent',
              }),
              unitGap: nullable(num),
              allowedUnitGap: nullable(num),
              ok: bool,
            },
          },
          lastDecision: nullable(
            object({
              action: str,
              outcome: str,
              reasons: { type: 'array', items: str },
              at: str,
              z: nullable(num),
              pValue: nullable(num),
            }),
          ),
          health: { type: 'string', enum: ['healthy', 'degraded', 'rolling_back'] },
        }),
      },
    },
    { description: 'Each active canary and guarded rollout' },
  ),
  range: object(
    {
      environment: str,
      from: num,
      to: num,
      granularity: str,
      series: {
        type: 'array',
        items: object({
          flag: str,
          cohort: nullable(str),
          variant: nullable(str),
          points: {
            type: 'array',
            items: object({
              windowStart: num,
              durationMs: num,
              ...windowFigures,
              topErrors: {
                type: 'array',
                items: object({ endpoint: str, status: num, count: num }),
              },
              units: nullable({
                type: 'number',
                description:
                  'Distinct units (estimate); null when none were reported or with an endpoint filter',
              }),
            }),
          },
        }),
      },
    },
    { description: 'Series per (flag, cohort, variant)' },
  ),
  flagUsage: object(
    {
      environment: str,
      from: num,
      to: num,
      points: {
        type: 'array',
        items: object({ flag: str, variant: nullable(str), windowStart: num, count: num }),
      },
      totals: {
        type: 'object',
        description: 'Evaluations per flag, then per variant (`(none)` without one)',
        additionalProperties: { type: 'object', additionalProperties: num },
      },
    },
    { description: 'Evaluations per window, and totals' },
  ),
  decisions: object(
    {
      key: str,
      environment: str,
      decisions: {
        type: 'array',
        items: object(
          {
            id: int,
            environment: str,
            flagKey: str,
            kind: { type: 'string', enum: ['canary', 'guard'] },
            runId: nullable(str),
            stage: int,
            percent: num,
            action: str,
            outcome: str,
            applied: bool,
            reasons: { type: 'array', items: str },
            checks: anyJson,
            stats: anyJson,
            policy: anyJson,
            treatmentRequests: num,
            controlRequests: num,
            z: nullable(num),
            pValue: nullable(num),
            latestWindowStartMs: nullable(num),
            trigger: str,
            createdAt: time,
          },
          {
            required: [
              'id',
              'environment',
              'flagKey',
              'kind',
              'stage',
              'percent',
              'action',
              'outcome',
              'applied',
              'reasons',
              'createdAt',
            ],
          },
        ),
      },
    },
    { description: 'Decisions, newest first' },
  ),
};

// ------------------------------------------------------------------------------------------------
// Webhooks

const webhookInfo = {
  id: str,
  url: str,
  events: { type: 'array', items: str },
  environment: nullable(str),
  format: { type: 'string', enum: ['json', 'slack'] },
  active: bool,
  createdAt: time,
  createdBy: str,
};

export const webhookResponses = {
  created: object(
    { ...webhookInfo, secret: { type: 'string', description: 'The signing secret; shown only here.' } },
    { description: 'The webhook, with its signing secret' },
  ),
  updated: object(webhookInfo, { description: 'The webhook as changed' }),
  rotated: object(
    { ...webhookInfo, secret: { type: 'string', description: 'The new signing secret; shown only here.' } },
    { description: 'The webhook, with its new signing secret' },
  ),
  list: object(
    { webhooks: { type: 'array', items: object(webhookInfo) } },
    { description: 'Active webhooks' },
  ),
  deleted: { type: 'null', description: 'Deleted (pending deliveries cancelled)' },
  deliveries: object(
    {
      id: str,
      deliveries: {
        type: 'array',
        items: object({
          id: int,
          eventId: int,
          event: str,
          status: { type: 'string', enum: ['pending', 'delivered', 'failed', 'cancelled'] },
          attempts: int,
          nextAttemptAt: nullable(time),
          lastStatusCode: nullable(int),
          lastError: nullable(str),
          deliveredAt: nullable(time),
          log: {
            type: 'array',
            items: object(
              { at: time, durationMs: num, statusCode: int, error: str },
              { required: ['at', 'durationMs'] },
            ),
          },
        }),
      },
    },
    { description: 'Deliveries, newest first' },
  ),
};

// ------------------------------------------------------------------------------------------------
// Experiments

const experimentProperties = (flagJsonSchema.properties as unknown as Record<string, JsonSchema>).experiment!
  .properties as Record<string, JsonSchema>;

export const experimentResponses = {
  list: object(
    {
      environment: str,
      experiments: {
        type: 'array',
        items: object({
          key: str,
          status: { type: 'string', enum: ['running', 'concluded'] },
          concludedVariant: nullable(str),
          hypothesis: nullable(str),
          controlVariant: str,
          variants: { type: 'array', items: object({ key: str, weight: num }) },
          primaryMetric: experimentProperties.primaryMetric!,
          secondaryMetrics: experimentProperties.secondaryMetrics!,
        }),
      },
    },
    { description: 'Experiments' },
  ),
  results: object(
    {
      experiment: str,
      environment: str,
      status: { type: 'string', enum: ['running', 'concluded'] },
      concludedVariant: nullable(str),
      startedAt: nullable(str),
      computedAt: str,
      elapsedSec: num,
      controlVariant: str,
      excludedUnits: num,
      variants: {
        type: 'array',
        items: object({
          key: str,
          isControl: bool,
          weight: num,
          units: num,
          exposures: num,
          excludedUnits: num,
          metrics: {
            type: 'array',
            items: object(
              {
                event: str,
                kind: { type: 'string', enum: ['conversion', 'mean', 'count'] },
                role: { type: 'string', enum: ['primary', 'secondary'] },
                conversionRate: nullable(num),
                mean: nullable(num),
                sd: nullable(num),
                sum: num,
              },
              { required: ['event', 'kind', 'role', 'sd', 'sum'] },
            ),
          },
          guardrails: anyJson,
        }),
      },
    },
    { description: 'Per variant: units, exposures and metric estimates' },
  ),
  significance: object(
    {
      experiment: str,
      environment: str,
      status: { type: 'string', enum: ['running', 'concluded'] },
      concludedVariant: nullable(str),
      hypothesis: nullable(str),
      startedAt: nullable(str),
      computedAt: str,
      cached: bool,
      excludedUnits: num,
      analysis: {
        type: 'object',
        description:
          "core's analyzeExperiment: per variant vs control and metric the test, statistic, df, p-values, CIs, verdict; SRM; sample size",
        required: ['controlVariant', 'alpha', 'variants'],
        properties: {
          controlVariant: str,
          alpha: num,
          confidenceLevel: num,
          power: num,
          variants: { type: 'array', items: { type: 'object' } },
        },
      },
    },
    { description: 'The statistical analysis' },
  ),
  concluded: object(
    {
      key: str,
      environment: str,
      variant: str,
      reason: str,
      actor: str,
      version: int,
      revision: int,
      flag: flagRef,
    },
    { description: 'Concluded: the variant ships to 100%' },
  ),
  rebuilt: object(
    { variants: int, metrics: int, ms: num },
    { description: 'Rows rebuilt and the time it took' },
  ),
};

// ------------------------------------------------------------------------------------------------
// SDK

export const sdkResponses = {
  snapshot: {
    description:
      'The snapshot: prebuilt bytes, gzip or br by Accept-Encoding (Content-Encoding says which), never re-serialised',
    headers: {
      etag: str,
      'x-rupaya-revision': str,
      'x-rupaya-stale': { type: 'string', description: '`true` while the database is unreachable' },
    },
    content: { 'application/json': { schema: snapshotJsonSchema } },
  },
  notModified: { type: 'null', description: 'If-None-Match matches the current ETag' },
  stream: {
    description:
      'Server-sent events: `retry`, then an `event: snapshot` (id = revision, data = the snapshot JSON) per new revision, and `: heartbeat` comments',
    content: { 'text/event-stream': { schema: { type: 'string' } } },
  },
  metricsAccepted: object(
    { accepted: int, duplicate: bool },
    { description: 'Accepted (duplicate: a retried batch, counted once)' },
  ),
  recordsAccepted: object(
    { accepted: int, duplicate: bool, ignored: int },
    { description: 'Accepted (duplicate: a retried batch, counted once; ignored: records of unknown flags)' },
  ),
};

// ------------------------------------------------------------------------------------------------
// Health

export const healthResponse = object(
  {
    status: { type: 'string', enum: ['OK', 'DEGRADED'] },
    database: { type: 'string', enum: ['ok', 'unavailable'] },
    storage: { type: 'string', enum: ['pglite', 'postgres'] },
    deployment: {
      type: 'object',
      additionalProperties: true,
      required: ['status', 'errorRate', 'p99ResponseTime', 'activeCanaries'],
      properties: {
        status: { type: 'string', enum: ['healthy', 'degraded', 'rolling_back'] },
        errorRate: { type: 'number', description: 'Percent' },
        p99ResponseTime: { type: 'number', description: 'ms' },
        activeCanaries: int,
      },
    },
    featureFlags: {
      type: 'object',
      additionalProperties: true,
      required: ['checksTotal', 'checksPerFlag'],
      properties: {
        checksTotal: num,
        checksPerFlag: { type: 'object', additionalProperties: num },
      },
    },
    snapshots: { type: 'object', description: 'Revision served per environment', additionalProperties: int },
  },
  { description: 'Health (also when DEGRADED: 200)' },
);
