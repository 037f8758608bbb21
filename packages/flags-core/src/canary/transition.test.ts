import { describe, expect, it } from 'vitest';
import type { CanaryState, Flag } from '../snapshot/types';
import { canaryPercent, transitionCanary } from './transition';

const stages = [
  { percent: 1, minDurationSec: 1800 },
  { percent: 10, minDurationSec: 1800 },
  { percent: 100, minDurationSec: 0 },
];
const now = '2026-01-01T00:00:00.000Z';
const flag = (canary?: CanaryState): Pick<Flag, 'key' | 'stages' | 'canary'> => ({
  key: 'canary.x',
  stages,
  canary,
});

describe('transitionCanary', () => {
  it('refuses flags without stages', () => {
    const r = transitionCanary({ key: 'a.b' }, 'advance', now);
    expect(r).toMatchObject({ ok: false, code: 'NOT_A_CANARY' });
  });

  it('advances stage by stage, keeping the status, and completes past the last stage', () => {
    let state: CanaryState = { stage: 0, status: 'paused', stageStartedAt: null };
    const seen: number[] = [];
    for (let i = 0; i < 3; i++) {
      const r = transitionCanary(flag(state), 'advance', now);
      if (!r.ok) throw new Error(r.message);
      seen.push(r.toPercent);
      state = r.canary;
    }
    expect(seen).toEqual([10, 100, 100]);
    expect(state).toEqual({ stage: 2, status: 'completed', stageStartedAt: now });
    expect(transitionCanary(flag(state), 'advance', now)).toMatchObject({
      ok: false,
      code: 'INVALID_TRANSITION',
    });
  });

  it('rolls back to 0% from progressing and paused alike, and restarts with a new run', () => {
    for (const status of ['progressing', 'paused'] as const) {
      const r = transitionCanary(flag({ stage: 1, status, stageStartedAt: now }), 'rollback', now);
      expect(r).toMatchObject({
        ok: true,
        fromPercent: 10,
        toPercent: 0,
        toStatus: 'rolled_back',
        toStage: 1,
      });
      if (!r.ok) continue;
      expect(transitionCanary(flag(r.canary), 'resume', now)).toMatchObject({ ok: false });
      const again = transitionCanary(flag(r.canary), 'restart', now, 'run-2');
      expect(again).toMatchObject({ ok: true, toStage: 0, toPercent: 1, toStatus: 'progressing' });
      if (again.ok) expect(again.canary.runId).toBe('run-2');
    }
  });

  it('pauses only progressing canaries and resumes only paused ones, restarting the stage timer', () => {
    const p = transitionCanary(flag({ stage: 0, status: 'progressing', stageStartedAt: null }), 'pause', now);
    expect(p).toMatchObject({ ok: true, toStatus: 'paused' });
    expect(
      transitionCanary(flag({ stage: 0, status: 'paused', stageStartedAt: null }), 'pause', now),
    ).toMatchObject({
      ok: false,
      code: 'INVALID_TRANSITION',
    });
    const r = transitionCanary(flag({ stage: 1, status: 'paused', stageStartedAt: null }), 'resume', now);
    expect(r).toMatchObject({ ok: true, toStatus: 'progressing', canary: { stageStartedAt: now, stage: 1 } });
  });

  it('complete jumps to the last stage at 100%', () => {
    const r = transitionCanary(
      flag({ stage: 0, status: 'progressing', stageStartedAt: now }),
      'complete',
      now,
    );
    expect(r).toMatchObject({ ok: true, toStage: 2, toPercent: 100, toStatus: 'completed' });
  });

  it('canaryPercent follows the status', () => {
    expect(canaryPercent(stages, { stage: 1, status: 'paused', stageStartedAt: null })).toBe(10);
    expect(canaryPercent(stages, { stage: 1, status: 'rolled_back', stageStartedAt: null })).toBe(0);
    expect(canaryPercent(stages, { stage: 0, status: 'completed', stageStartedAt: null })).toBe(100);
  });
});
