export { createClient, FlagsClient, RequestScope } from './client';
export { consoleLogger, silentLogger, type Logger } from './logger';
export type {
  ChangeEvent,
  ClientEvents,
  ClientOptions,
  DbPoolSaturation,
  MetricsOptions,
  ReadyState,
  RequestRecord,
  ServedFlag,
  SnapshotSource,
} from './types';
export { Backoff, type BackoffOptions } from './sync/backoff';
export { SseParser, type SseEvent } from './sync/sse-parser';
export { snapshotChecksum, verifySnapshot, type RejectReason, type Verdict } from './snapshot/verify';
export {
  keyFingerprint,
  readCacheFile,
  writeCacheFile,
  type CacheFileContent,
} from './snapshot/cache-file';
export { Outbox, type Batch } from './metrics/outbox';
export { SDK_NAME, SDK_VERSION } from './version';
export type { EvaluationContext, EvaluationResult, FlagValue, Snapshot } from '@rupaya/flags-core';
export { ABORTED_STATUS, CONTEXT_HEADERS, defaultRequestContext, RequestFlags } from './request';
