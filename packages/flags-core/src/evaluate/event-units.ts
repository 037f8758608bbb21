// Which units an experiment event counts for. An experiment joins events to its exposures by the
// unit it buckets by (`bucketBy`, default `userId`), so one event from a context naming several
// units (a user in an organisation) must reach the experiments of each: LaunchDarkly's multi-kind
// contexts and GrowthBook's identifier types work the same way.
import { isExperimentFlag } from '../snapshot/normalize';
import type { Flag } from '../snapshot/types';
import { unitKeyOf } from './compile';

/**
 * The attributes the experiments among `flags` bucket by, distinct, in the order first seen;
 * `['userId']` when there is no experiment.
 */
export function experimentUnitAttributes(
  flags: Iterable<Pick<Flag, 'variants' | 'bucketBy'>>,
): readonly string[] {
  const attributes: string[] = [];
  for (const flag of flags) {
    if (!isExperimentFlag(flag)) continue;
    const attribute = flag.bucketBy ?? 'userId';
    if (!attributes.includes(attribute)) attributes.push(attribute);
  }
  return attributes.length > 0 ? attributes : ['userId'];
}

/**
 * The unit keys an event tracked with `ctx` counts for: `ctx.unitKey` alone when the caller names
 * it, else the context's unit for each of `attributes` (as bucketing reads it: a non-empty string
 * or a finite number), distinct. Empty: the context names no unit, and the event counts for none.
 */
export function eventUnitKeys(ctx: Record<string, unknown>, attributes: readonly string[]): string[] {
  const named = unitKeyOf(ctx, 'unitKey');
  if (named !== undefined) return [named];
  const units: string[] = [];
  for (const attribute of attributes) {
    const unit = unitKeyOf(ctx, attribute);
    if (unit !== undefined && !units.includes(unit)) units.push(unit);
  }
  return units;
}
