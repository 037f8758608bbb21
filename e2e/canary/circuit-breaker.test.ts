// Circuit breaker off, end to end: a control plane started with ROLLBACK_CIRCUIT_BREAKER_ENABLED=false
// (its own plane, service and SDK client; windows shortened to 1 s by configuration). A treatment
// failing at 10% keeps being served: every evaluation is logged as "would roll back", with the checks
// that breached, and a rollback.triggered event with applied: false; a manual rollback still works.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../sdk/plane';
import { CanaryRig, stagesHeldAt10 } from './harness';

let rig: CanaryRig;

beforeAll(async () => {
  rig = await CanaryRig.start({ ROLLBACK_CIRCUIT_BREAKER_ENABLED: 'false' });
});

afterAll(async () => {
  await rig?.close();
});

describe('circuit breaker off (ROLLBACK_CIRCUIT_BREAKER_ENABLED=false)', () => {
  it('a failing treatment at 10% is not rolled back; the decisions say it would have been', async () => {
    const key = 'canary.e2e-breaker';
    await rig.createCanary(key, {}, stagesHeldAt10);
    await rig.canaryAction(key, 'advance');
    await rig.canaryAction(key, 'resume');
    const triggered: { key: string; applied?: boolean; reasons: string[] }[] = [];
    const onTriggered = (e: { key: string; applied?: boolean; reasons: string[] }) => {
      if (e.key === key) triggered.push(e);
    };
    rig.plane.app.events.on('rollback.triggered', onTriggered);
    const gen = rig.load(key);
    const treated = gen.users.treatment[0]!;
    try {
      await waitFor(() => rig.client.isEnabled(key, { userId: treated }), 10_000, 'SDK serves the canary');
      await rig.waitForHealthyDecision(key, 1);
      // 20% of treatment requests fail, well over the 5% threshold.
      rig.failEvery[key] = 5;
      const failingFrom = Date.now();
      // "Would roll back" on at least three different latest windows: the breach lasts, nothing acts.
      await waitFor(
        async () =>
          new Set(
            (await rig.decisions(key, 200))
              .filter((d) => d.outcome === 'would_roll_back')
              .map((d) => d.latestWindowStartMs),
          ).size >= 3,
        60_000,
        'three windows judged "would roll back"',
      );
      // Still at 10%, still progressing, and the SDK still serves the treatment.
      expect(await rig.canaryOf(key)).toMatchObject({ stage: 1, status: 'progressing' });
      expect(rig.client.isEnabled(key, { userId: treated })).toBe(true);
      const res = await fetch(`${rig.base}/checkout?flag=${key}`, { headers: { 'x-user-id': treated } });
      expect([200, 500]).toContain(res.status);
      if (res.status === 200) expect(await res.json()).toEqual({ newPath: true });
      // No transition but the manual ones.
      const logs = await rig.canaryLogs(key);
      expect(logs.filter((l) => l.automatic)).toEqual([]);
      expect(logs.map((l) => l.action).sort()).toEqual(['advance', 'resume']);

      const decisions = await rig.decisions(key);
      const would = decisions.filter((d) => d.outcome === 'would_roll_back');
      for (const d of would) {
        expect(d).toMatchObject({ action: 'rollback', applied: false, stage: 1, percent: 10 });
        expect(d.reasons).toContain('would roll back: ROLLBACK_CIRCUIT_BREAKER_ENABLED=false');
        expect(d.reasons[0]).toMatch(/^(fast path|comparative path): treatment error rate/);
      }
      expect(decisions.some((d) => d.outcome === 'rolled_back' || d.applied)).toBe(false);
      // A fast-path verdict names the breached check with what it saw and its threshold.
      const fast = would.find((d) => d.reasons[0]!.startsWith('fast path'));
      if (fast) {
        const check = fast.checks.find((c) => c.name === 'fast.errorRate')!;
        expect(check).toMatchObject({ passed: false, threshold: 5, unit: 'percent' });
        expect(check.observed).toBeGreaterThan(5);
      }
      console.log(
        `[canary e2e] breaker off: ${would.length} "would roll back" decisions on ` +
          `${new Set(would.map((d) => d.latestWindowStartMs)).size} windows in ${Date.now() - failingFrom} ms; ` +
          `first: ${would[would.length - 1]!.reasons.join('; ')}`,
      );
      // The in-process event stream says the same, never applied.
      expect(triggered.length).toBeGreaterThan(0);
      expect(triggered.every((e) => e.applied === false)).toBe(true);
      console.log(`[canary e2e] breaker off: ${triggered.length} rollback.triggered (applied: false) events`);

      // The breaker only stops automatic rollback: an operator can still roll back by hand.
      await rig.canaryAction(key, 'rollback', 'operator saw the decisions');
      await waitFor(
        () => !rig.client.isEnabled(key, { userId: treated }),
        10_000,
        'SDK serves the old behaviour after the manual rollback',
      );
      expect((await rig.canaryLogs(key))[0]).toMatchObject({ action: 'rollback', automatic: false });
      // Every evaluation was logged, but each window was announced once (rollback.triggered with
      // applied: false): as many events as windows judged "would roll back".
      const windows = new Set(
        (await rig.decisions(key))
          .filter((d) => d.outcome === 'would_roll_back')
          .map((d) => d.latestWindowStartMs),
      );
      await waitFor(() => triggered.length >= windows.size, 5_000, 'one event per window');
      expect(triggered).toHaveLength(windows.size);
    } finally {
      rig.plane.app.events.off('rollback.triggered', onTriggered);
      await gen.stop();
      rig.failEvery[key] = 0;
    }
  });
});
