// JSON Schema (draft-07) of a flag and of a snapshot, as plain objects: usable as Fastify route
// schemas and published as schema/snapshot.schema.json (a test keeps the file equal to this object).
// The schema checks shapes and ranges; the cross-field rules (variant references, weights summing to
// 100,000, increasing stages, one kind per flag, regex and semver syntax, duplicate keys) are
// checked by `parseSnapshot` / `validateFlag`, which the control plane runs as well.
import { FLAG_KEY_PATTERN, MAX_KEY_LENGTH, MAX_VARIANTS, OPERATORS, VALUE_TYPES } from './validate';

// No `multipleOf: 0.001`: floating-point division makes validators reject 0.1; the 0.001
// resolution is checked by the validator instead.
const percentage = { type: 'number', minimum: 0, maximum: 100 } as const;
const nonEmptyString = { type: 'string', minLength: 1 } as const;
const stringList = { type: 'array', items: { type: 'string' } } as const;
const stringOrNull = { anyOf: [{ type: 'string' }, { type: 'null' }] } as const;

const variantSchema = {
  type: 'object',
  required: ['key', 'value'],
  properties: {
    key: nonEmptyString,
    value: {},
    weight: { type: 'integer', minimum: 0, maximum: 100000 },
    description: { type: 'string' },
  },
} as const;

const clauseSchema = {
  type: 'object',
  required: ['attribute', 'op', 'values'],
  properties: {
    attribute: nonEmptyString,
    op: { type: 'string', enum: [...OPERATORS] },
    values: {
      type: 'array',
      minItems: 1,
      items: { anyOf: [{ type: 'string' }, { type: 'number' }, { type: 'boolean' }] },
    },
    negate: { type: 'boolean' },
  },
} as const;

const ruleSchema = {
  type: 'object',
  required: ['clauses', 'variant'],
  properties: {
    id: nonEmptyString,
    description: { type: 'string' },
    clauses: { type: 'array', items: clauseSchema },
    variant: nonEmptyString,
    rolloutPercentage: percentage,
  },
} as const;

const metricSchema = {
  type: 'object',
  required: ['event', 'kind', 'direction'],
  properties: {
    event: nonEmptyString,
    kind: { type: 'string', enum: ['conversion', 'mean', 'count'] },
    direction: { type: 'string', enum: ['increase', 'decrease'] },
    name: nonEmptyString,
  },
} as const;

/** JSON Schema of one flag (admin API bodies and snapshot entries). */
export const flagJsonSchema = {
  type: 'object',
  required: ['key', 'type', 'enabled'],
  properties: {
    key: { type: 'string', pattern: FLAG_KEY_PATTERN, maxLength: MAX_KEY_LENGTH },
    type: { type: 'string', enum: [...VALUE_TYPES] },
    description: { type: 'string' },
    enabled: { type: 'boolean' },
    variants: { type: 'array', minItems: 1, maxItems: MAX_VARIANTS, items: variantSchema },
    defaultVariant: nonEmptyString,
    offVariant: nonEmptyString,
    value: {},
    salt: nonEmptyString,
    bucketBy: nonEmptyString,
    allowList: stringList,
    denyList: stringList,
    rules: { type: 'array', items: ruleSchema },
    rolloutPercentage: percentage,
    coverage: percentage,
    stages: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['percent', 'minDurationSec'],
        properties: {
          percent: { type: 'number', exclusiveMinimum: 0, maximum: 100 },
          minDurationSec: { type: 'number', minimum: 0 },
        },
      },
    },
    canary: {
      type: 'object',
      required: ['stage', 'status', 'stageStartedAt'],
      properties: {
        stage: { type: 'integer', minimum: 0 },
        status: { type: 'string', enum: ['progressing', 'paused', 'completed', 'rolled_back'] },
        stageStartedAt: stringOrNull,
        runId: nonEmptyString,
      },
    },
    policy: {
      type: 'object',
      properties: {
        errorRateThreshold: { type: 'number', minimum: 0, maximum: 100 },
        p99ThresholdMs: { type: 'number', minimum: 0 },
        consecutiveWindows: { type: 'integer', minimum: 1 },
        minRequestsPerWindow: { type: 'integer', minimum: 0 },
        minSampleSize: { type: 'integer', minimum: 0 },
        alpha: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
        windowMs: { type: 'number', exclusiveMinimum: 0 },
        sampleRatioSigmas: { type: 'number', minimum: 0 },
        gauges: {
          type: 'object',
          properties: {
            heapUsedPercent: { type: 'number', minimum: 0 },
            cpuPercent: { type: 'number', minimum: 0 },
            eventLoopDelayP99Ms: { type: 'number', minimum: 0 },
            dbPoolSaturationPercent: { type: 'number', minimum: 0 },
          },
        },
      },
    },
    guard: { type: 'boolean' },
    autoRollback: { type: 'boolean' },
    experiment: {
      type: 'object',
      required: ['primaryMetric'],
      properties: {
        hypothesis: { type: 'string' },
        primaryMetric: metricSchema,
        secondaryMetrics: { type: 'array', items: metricSchema },
        minimumDetectableEffect: { type: 'number', exclusiveMinimum: 0 },
        alpha: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
        power: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
        minUnitsPerVariant: { type: 'integer', minimum: 0 },
        minDurationSec: { type: 'number', minimum: 0 },
        controlVariant: nonEmptyString,
        status: { type: 'string', enum: ['running', 'concluded'] },
        startedAt: stringOrNull,
        concludedVariant: stringOrNull,
      },
    },
    tags: stringList,
    version: { type: 'integer', minimum: 0 },
  },
} as const;

/** JSON Schema of a snapshot (`GET /api/sdk/v1/snapshot`). */
export const snapshotJsonSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'Rupaya Flags snapshot',
  type: 'object',
  required: ['schemaVersion', 'environment', 'revision', 'checksum', 'generatedAt', 'flags'],
  properties: {
    schemaVersion: { const: 1 },
    environment: nonEmptyString,
    revision: { type: 'integer', minimum: 0 },
    checksum: { type: 'string', pattern: '^sha256:[0-9a-f]{64}$' },
    generatedAt: { type: 'string' },
    cacheTtlSec: { type: 'number', minimum: 0 },
    metricsWindowMs: { type: 'number', exclusiveMinimum: 0 },
    metricsFlushMs: { type: 'number', exclusiveMinimum: 0 },
    flags: { type: 'array', items: flagJsonSchema },
  },
} as const;
