// Canary automation end to end: the real control plane (PGlite, windows shortened to 1 s by
// configuration), a real Fastify service using @rupaya/flags-node + @rupaya/flags-fastify, driven by
// a bounded load generator on loopback, with switches that make the treatment cohort fail or answer
// slowly. The SDK aggregates windows and reports them; the scheduler decides with core; the SDK
// receives the new snapshot over SSE. No fake timers. (Circuit breaker off and webhooks: their own
// files, each with its own control plane.)
import { alignWindow } from '@rupaya/flags-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../sdk/plane';
import { CanaryRig, ENV, population, stagesHeldAt10, W } from './harness';

let rig: CanaryRig;

beforeAll(async () => {
  rig = await CanaryRig.start();
});

afterAll(async () => {
  await rig?.close();
});

describe('canary automation end to end', () => {
  it('a healthy treatment advances through every stage to 100% and completes, logging each transition', async () => {
    const key = 'canary.e2e-healthy';
    await rig.createCanary(key);
    await rig.canaryAction(key, 'resume', 'e2e');
    const gen = rig.load(key);
    const started = Date.now();
    try {
      await rig.waitForStatus(key, (st) => st !== 'progressing', 'canary completed');
    } finally {
      await gen.stop();
    }
    const [last] = await rig.decisions(key, 1);
    expect(last).toMatchObject({ outcome: 'completed' });
    const took = Date.now() - started;
    const auto = (await rig.canaryLogs(key)).filter((l) => l.automatic).reverse();
    expect(auto.map((l) => `${l.action} ${l.fromPercent}→${l.toPercent}`)).toEqual([
      'advance 1→10',
      'advance 10→25',
      'advance 25→50',
      'advance 50→100',
      'complete 100→100',
    ]);
    console.log(`[canary e2e] 5 stages completed in ${took} ms with ${gen.sent} requests (W = ${W} ms)`);
    // The SDK serves the completed canary to everyone.
    await waitFor(
      () => rig.client.isEnabled(key, { userId: gen.users.other[0]! }),
      10_000,
      'SDK serves 100%',
    );
  });

  it('a failing treatment at 10% is rolled back; the SDK serves the old behaviour right after (SSE)', async () => {
    const key = 'canary.e2e-failing';
    await rig.createCanary(key);
    await rig.canaryAction(key, 'advance');
    await rig.canaryAction(key, 'resume');
    const gen = rig.load(key);
    const treated = gen.users.treatment[0]!;
    try {
      await waitFor(() => rig.client.isEnabled(key, { userId: treated }), 10_000, 'SDK serves the canary');
      // Healthy for a while, then 20% of treatment requests fail.
      await new Promise((r) => setTimeout(r, 2 * W));
      const firstFailure = Date.now();
      rig.failEvery[key] = 5;
      await waitFor(
        () => !rig.client.isEnabled(key, { userId: treated }),
        60_000,
        'SDK serves the old behaviour',
      );
      const reaction = Date.now() - firstFailure;
      expect((await rig.canaryOf(key)).status).toBe('rolled_back');
      const rollback = (await rig.decisions(key)).find((d) => d.outcome === 'rolled_back')!;
      console.log(`[canary e2e] rollback: ${rollback.reasons.join('; ')}`);
      expect(rollback.reasons[0]).toMatch(
        /^(fast path: treatment error rate|comparative path: treatment error rate)/,
      );
      // Measured, not asserted (speed belongs to benchmarks): windows from the first failing one to the
      // latest window the rollback decision saw, and the wall-clock reaction.
      const windowsUsed = (rollback.latestWindowStartMs! - alignWindow(firstFailure, W)) / W + 1;
      console.log(
        `[canary e2e] reaction (first failing request → SDK serves old behaviour): ${reaction} ms at W = ${W} ms; ` +
          `rollback decided on window ${windowsUsed} counting the first failing one`,
      );
      // After the rollback, requests of the treatment users succeed again (old path).
      const res = await fetch(`${rig.base}/checkout?flag=${key}`, { headers: { 'x-user-id': treated } });
      expect(await res.json()).toEqual({ newPath: false });
    } finally {
      await gen.stop();
      rig.failEvery[key] = 0;
    }
  });

  it('a treatment slower than its P99 threshold at 10% is rolled back by the fast path within consecutiveWindows + 1 windows', async () => {
    const key = 'canary.e2e-slow';
    const DELAY = 800;
    const P99 = 400;
    // The flag's policy sets the P99 threshold; the comparative latency test only counts requests
    // slower than control's P95 by more than latencyToleranceMs, set out of reach here so the fast
    // path alone decides (the comparative path has its own test above).
    await rig.createCanary(key, { p99ThresholdMs: P99, latencyToleranceMs: 60_000 }, stagesHeldAt10);
    await rig.canaryAction(key, 'advance');
    await rig.canaryAction(key, 'resume');
    const gen = rig.load(key, 12);
    const treated = gen.users.treatment[0]!;
    try {
      await waitFor(() => rig.client.isEnabled(key, { userId: treated }), 10_000, 'SDK serves the canary');
      // The scheduler has seen healthy treatment windows at 10% before the treatment turns slow.
      await rig.waitForHealthyDecision(key, 1);
      expect(await rig.canaryOf(key)).toMatchObject({ stage: 1, status: 'progressing' });
      rig.delayMs[key] = DELAY;
      await waitFor(
        () => !rig.client.isEnabled(key, { userId: treated }),
        60_000,
        'SDK serves the old behaviour',
      );
      const reaction = Date.now() - rig.firstSlowAt[key]!;
      expect((await rig.canaryOf(key)).status).toBe('rolled_back');

      const decisions = (await rig.decisions(key)).reverse(); // oldest first
      const rollback = decisions.find((d) => d.outcome === 'rolled_back')!;
      expect(rollback).toMatchObject({ stage: 1, percent: 10, action: 'rollback', applied: true });
      console.log(`[canary e2e] P99 rollback: ${rollback.reasons.join('; ')}`);
      // The fast path's P99 check, with what it observed and its threshold, is the only reason.
      expect(rollback.reasons).toHaveLength(1);
      expect(rollback.reasons[0]).toMatch(
        new RegExp(`^fast path: treatment P99 [\\d.]+ ms > ${P99} ms in \\d+ consecutive windows$`),
      );
      const cw = rollback.policy.consecutiveWindows;
      expect(rollback.policy.p99ThresholdMs).toBe(P99);
      const p99 = rollback.checks.find((c) => c.name === 'fast.p99')!;
      expect(p99).toMatchObject({ path: 'fast', threshold: P99, passed: false, unit: 'ms' });
      expect(p99.observed).toBeGreaterThanOrEqual(DELAY * 0.95);
      expect(p99.breachedWindows).toBeGreaterThanOrEqual(cw);
      expect(rollback.checks.find((c) => c.name === 'fast.errorRate')).toMatchObject({ passed: true });

      // Every treatment request that started after the switch is slow, so windows a+1 and a+2
      // (a = the first slow request's window) breach: the rollback came from at most cw + 1 windows
      // counting a — or, if the scheduler first looked at window a+cw later than it ended (a busy
      // machine), from that very evaluation. No earlier evaluation held on the same evidence.
      const a = alignWindow(rig.firstSlowAt[key]!, W);
      const bound = a + cw * W;
      const firstAtBound = decisions.find((d) => (d.latestWindowStartMs ?? -1) >= bound);
      const windowsUsed = (rollback.latestWindowStartMs! - a) / W + 1;
      expect(rollback.latestWindowStartMs! <= bound || firstAtBound?.id === rollback.id).toBe(true);
      const before = decisions.filter((d) => d.id < rollback.id && d.stage === 1);
      expect(before.every((d) => d.action === 'hold')).toBe(true);
      expect(
        before.every((d) => (d.checks.find((c) => c.name === 'fast.p99')?.breachedWindows ?? 0) < cw),
      ).toBe(true);
      console.log(
        `[canary e2e] P99 reaction (first slow request → SDK serves old behaviour): ${reaction} ms at W = ${W} ms; ` +
          `rollback decided on window ${windowsUsed} counting the first slow one (bound ${cw + 1})`,
      );
      const log = (await rig.canaryLogs(key))[0]!;
      expect(log).toMatchObject({
        action: 'rollback',
        automatic: true,
        actor: 'scheduler',
        fromPercent: 10,
        toPercent: 0,
      });
      expect(log.reason).toContain('fast path: treatment P99');
      // After the rollback, the treatment users get the old path again, quickly.
      const t0 = Date.now();
      const res = await fetch(`${rig.base}/checkout?flag=${key}`, { headers: { 'x-user-id': treated } });
      expect(await res.json()).toEqual({ newPath: false });
      expect(Date.now() - t0).toBeLessThan(DELAY);
    } finally {
      await gen.stop();
      rig.delayMs[key] = 0;
    }
  });

  it('a treatment worse than control but under the absolute thresholds is rolled back by the comparative path', async () => {
    const key = 'canary.e2e-worse';
    // A 3% vs 0% difference needs a few hundred requests per cohort to be significant: the stage waits
    // for 600 treatment requests, and windows under 40 treatment requests do not count for the fast
    // path (one error in 20 requests would read as 5%).
    await rig.createCanary(key, { minSampleSize: 600, minRequestsPerWindow: 40 });
    await rig.canaryAction(key, 'resume');
    // 1 in 33 treatment requests fails (≈3%, under the 5% threshold); control never fails.
    rig.failEvery[key] = 33;
    const gen = rig.load(key, 6);
    try {
      await rig.waitForStatus(key, (st) => st === 'rolled_back', 'comparative rollback');
    } finally {
      await gen.stop();
      rig.failEvery[key] = 0;
    }
    const decisions = await rig.decisions(key);
    const rollback = decisions.find((d) => d.outcome === 'rolled_back')!;
    expect(rollback.reasons[0]).toMatch(/^comparative path: treatment error rate/);
    expect(rollback.pValue).toBeLessThan(0.01);
    // The fast path never fired: no window was over 5%.
    expect(decisions.every((d) => !d.reasons.some((r) => r.startsWith('fast path')))).toBe(true);
  });

  it('traffic tracking reports the treatment share of units next to its share of requests (few heavy users)', async () => {
    const key = 'canary.e2e-units';
    await rig.createCanary(key, {}, stagesHeldAt10); // seeded paused at 1%: nothing moves it
    const users = population(key);
    // 3 heavy treatment users × 40 requests; 30 control and 30 other users × 1 request.
    const requests = [
      ...users.treatment.slice(0, 3).flatMap((u) => Array.from({ length: 40 }, () => u)),
      ...users.control,
      ...users.other,
    ];
    for (let i = 0; i < requests.length; i += 10) {
      await Promise.all(
        requests
          .slice(i, i + 10)
          .map((u) =>
            fetch(`${rig.base}/checkout?flag=${key}`, { headers: { 'x-user-id': u } }).then((r) =>
              r.arrayBuffer(),
            ),
          ),
      );
    }
    type Traffic = {
      configuredPercent: number;
      observedPercent: number | null;
      requests: number;
      units: number | null;
      observedUnitPercent: number | null;
      ok: boolean;
    };
    let traffic: Traffic | undefined;
    await waitFor(
      async () => {
        const h = await rig.admin.ok<{ canaries: { key: string; traffic: Traffic }[] }>(
          'GET',
          `/api/admin/deployment/metrics/health?environment=${ENV}`,
        );
        traffic = h.canaries.find((c) => c.key === key)?.traffic;
        return traffic?.requests === requests.length;
      },
      15_000,
      'every request reported',
    );
    // Requests: 120 of 180 are treatment (66.7%); units: 3 of 63 (4.8%) — distinct, not summed.
    expect(traffic!.observedPercent).toBeCloseTo((100 * 120) / 180, 6);
    expect(Math.abs(traffic!.units! - 63)).toBeLessThanOrEqual(1);
    expect(Math.abs(traffic!.observedUnitPercent! - (100 * 3) / 63)).toBeLessThan(0.5);
    // Against the configured 1%, both shares are far off: a health problem.
    expect(traffic).toMatchObject({ configuredPercent: 1, ok: false });
  });

  it('no traffic holds: the canary never advances', async () => {
    const key = 'canary.e2e-idle';
    await rig.createCanary(key);
    await rig.canaryAction(key, 'resume');
    await new Promise((r) => setTimeout(r, 6 * W));
    expect(await rig.canaryOf(key)).toMatchObject({ stage: 0, status: 'progressing' });
    const decisions = await rig.decisions(key);
    expect(decisions.length).toBeGreaterThan(0);
    expect(decisions.every((d) => d.action === 'hold')).toBe(true);
    expect(decisions[0]!.reasons).toContain(
      'no treatment traffic in this stage (no traffic is never healthy)',
    );
  });
});
