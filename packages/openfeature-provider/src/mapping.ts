import type { EvaluationContext as OfContext, ResolutionReason } from '@openfeature/server-sdk';
import { StandardResolutionReasons } from '@openfeature/server-sdk';
import type { EvaluationContext, Reason } from '@rupaya/flags-core';

/**
 * Rupaya reason → OpenFeature reason. `DEFAULT` is `STATIC` for a flag without targeting and
 * `DEFAULT` for one whose targeting ran and matched nothing (OpenFeature's own meaning of DEFAULT,
 * and what the provider TCK's @targeting scenarios expect).
 */
export function mapReason(reason: Reason, targeted: boolean): ResolutionReason {
  switch (reason) {
    case 'DEFAULT':
      return targeted ? StandardResolutionReasons.DEFAULT : StandardResolutionReasons.STATIC;
    case 'OFF':
    case 'TARGET_DENY':
      return StandardResolutionReasons.DISABLED;
    case 'TARGET_ALLOW':
    case 'RULE_MATCH':
      return StandardResolutionReasons.TARGETING_MATCH;
    case 'ROLLOUT':
    case 'CANARY':
    case 'EXPERIMENT':
      return StandardResolutionReasons.SPLIT;
    case 'STALE':
      return StandardResolutionReasons.CACHED;
    case 'NOT_FOUND':
    case 'NOT_READY':
    case 'ERROR':
      return StandardResolutionReasons.ERROR;
  }
}

/**
 * OpenFeature context → Rupaya context. `targetingKey` is the unit key: it becomes `userId` (the
 * default `bucketBy`) unless the context sets `userId` itself; it stays available as `targetingKey`
 * for rules. Dates become ISO strings (what the `before`/`after` operators compare).
 */
export function toRupayaContext(context: OfContext | undefined): EvaluationContext {
  const out: EvaluationContext = {};
  if (!context) return out;
  for (const [name, value] of Object.entries(context)) {
    if (value === undefined) continue;
    out[name] = value instanceof Date ? value.toISOString() : value;
  }
  if (typeof context.targetingKey === 'string' && context.targetingKey !== '' && out.userId === undefined) {
    out.userId = context.targetingKey;
  }
  return out;
}
