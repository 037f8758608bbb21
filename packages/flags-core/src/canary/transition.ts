// Manual and automatic canary transitions as a pure function: the control plane applies the result
// and records it. Time and the new run id are parameters (core reads no clock, makes no randomness).
import type { CanaryState, CanaryStatus, Flag } from '../snapshot/types';

export type CanaryTransitionAction = 'advance' | 'rollback' | 'pause' | 'resume' | 'complete' | 'restart';

export const CANARY_TRANSITION_ACTIONS: readonly CanaryTransitionAction[] = [
  'advance',
  'rollback',
  'pause',
  'resume',
  'complete',
  'restart',
];

export type CanaryTransitionResult =
  | {
      ok: true;
      canary: CanaryState;
      fromStage: number;
      toStage: number;
      /** Share of units in treatment before / after (0 when rolled back, 100 when completed). */
      fromPercent: number;
      toPercent: number;
      fromStatus: CanaryStatus;
      toStatus: CanaryStatus;
    }
  | { ok: false; code: 'NOT_A_CANARY' | 'INVALID_TRANSITION'; message: string };

/** Treatment share of a canary state: the current stage's percent, 0 if rolled back, 100 if completed. */
export function canaryPercent(stages: Flag['stages'], state: CanaryState): number {
  if (state.status === 'rolled_back') return 0;
  if (state.status === 'completed') return 100;
  const list = stages ?? [];
  const i = Math.min(Math.max(state.stage, 0), list.length - 1);
  return list[i]?.percent ?? 0;
}

/** The state of a canary that has never been touched: first stage, paused, not started. */
export function initialCanaryState(): CanaryState {
  return { stage: 0, status: 'paused', stageStartedAt: null };
}

/**
 * Applies `action` to the flag's canary.
 * - advance: next stage (status kept: a paused canary stays paused); from the last stage → completed.
 * - rollback: status rolled_back, treatment 0% (the stage index is kept for the record).
 * - pause: progressing → paused. resume: paused → progressing, the stage timer restarts now.
 * - complete: → completed at the last stage (100%).
 * - restart: from rolled_back or completed → stage 0, progressing, a new run (`runId`).
 * advance, rollback and complete work from progressing and paused alike; nothing but restart
 * leaves rolled_back or completed.
 */
export function transitionCanary(
  flag: Pick<Flag, 'key' | 'stages' | 'canary'>,
  action: CanaryTransitionAction,
  nowIso: string,
  runId?: string,
): CanaryTransitionResult {
  const stages = flag.stages;
  if (!stages || stages.length === 0) {
    return { ok: false, code: 'NOT_A_CANARY', message: `flag "${flag.key}" has no canary stages` };
  }
  const from: CanaryState = flag.canary ?? initialCanaryState();
  const last = stages.length - 1;
  const active = from.status === 'progressing' || from.status === 'paused';
  const invalid = (why: string): CanaryTransitionResult => ({
    ok: false,
    code: 'INVALID_TRANSITION',
    message: `cannot ${action} canary "${flag.key}": ${why}`,
  });
  let to: CanaryState;
  switch (action) {
    case 'advance':
      if (!active) return invalid(`it is ${from.status} (restart it first)`);
      to =
        from.stage >= last
          ? { ...from, stage: last, status: 'completed', stageStartedAt: nowIso }
          : { ...from, stage: from.stage + 1, stageStartedAt: nowIso };
      break;
    case 'rollback':
      if (!active) return invalid(`it is ${from.status}`);
      to = { ...from, status: 'rolled_back', stageStartedAt: nowIso };
      break;
    case 'pause':
      if (from.status !== 'progressing') return invalid(`it is ${from.status}, not progressing`);
      to = { ...from, status: 'paused' };
      break;
    case 'resume':
      if (from.status !== 'paused') return invalid(`it is ${from.status}, not paused`);
      to = { ...from, status: 'progressing', stageStartedAt: nowIso };
      break;
    case 'complete':
      if (!active) return invalid(`it is ${from.status}`);
      to = { ...from, stage: last, status: 'completed', stageStartedAt: nowIso };
      break;
    case 'restart':
      if (active) return invalid(`it is ${from.status}; only a rolled back or completed canary restarts`);
      to = { stage: 0, status: 'progressing', stageStartedAt: nowIso };
      if (runId !== undefined) to.runId = runId;
      break;
    default:
      return invalid('unknown action');
  }
  if (to.runId === undefined) delete to.runId;
  return {
    ok: true,
    canary: to,
    fromStage: from.stage,
    toStage: to.stage,
    fromPercent: canaryPercent(stages, from),
    toPercent: canaryPercent(stages, to),
    fromStatus: from.status,
    toStatus: to.status,
  };
}
