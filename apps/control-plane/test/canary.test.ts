// Manual canary actions over HTTP and the service the scheduler calls, on PGlite and Postgres:
// every transition writes the flag, a canary log, an audit row and a new snapshot revision together.
import type { Flag } from '@rupaya/flags-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyCanaryTransition, storageKinds } from '../src/index';
import { expectError, FLAGS, startTestServer, type TestServer } from './helpers';

interface ActionReply {
  environment: string;
  fromStage: number;
  toStage: number;
  fromPercent: number;
  toPercent: number;
  status: string;
  revision: number;
  version: number;
  flag: Flag;
}

describe.each(storageKinds)('canary actions on %s', (kind) => {
  let s: TestServer;
  const pay = `${FLAGS}/canary.new-payment-processor`;
  const act = (action: string, env = 'staging', body?: unknown) =>
    s.call<ActionReply>(
      'POST',
      `${pay}/${action}-canary?environment=${env}`,
      body === undefined ? {} : { body },
    );

  beforeAll(async () => {
    s = await startTestServer(kind);
  });
  afterAll(async () => {
    await s?.close();
  });

  it('advance from paused keeps it paused and moves 1% → 10%, with log, audit and revision', async () => {
    const rev0 = s.cp.app.snapshots.get('staging')!.revision;
    const r = await act('advance', 'staging', { reason: 'looks good' });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      fromStage: 0,
      toStage: 1,
      fromPercent: 1,
      toPercent: 10,
      status: 'paused',
    });
    expect(r.body.revision).toBe(rev0 + 1);
    expect(s.cp.app.snapshots.get('staging')!.revision).toBe(rev0 + 1);
    const logs = await s.call<{ logs: Record<string, unknown>[] }>(
      'GET',
      `${pay}/canary-logs?environment=staging`,
    );
    expect(logs.body.logs[0]).toMatchObject({
      action: 'advance',
      fromStage: 0,
      toStage: 1,
      fromPercent: 1,
      toPercent: 10,
      automatic: false,
      actor: 'admin-token:admin',
      reason: 'looks good',
      revision: rev0 + 1,
    });
    const audit = await s.call<{ entries: { action: string }[] }>(
      'GET',
      `${pay}/audit?environment=staging&limit=1`,
    );
    expect(audit.body.entries[0]?.action).toBe('canary.advance');
    // Other environments are untouched.
    const prod = await s.call<{ flag: Flag }>('GET', `${pay}?environment=prod`);
    expect(prod.body.flag.canary).toEqual({ stage: 0, status: 'paused', stageStartedAt: null });
  });

  it('resume, pause, and the invalid transitions get 409 INVALID_TRANSITION', async () => {
    // An empty body sent as application/json counts as no body.
    const resumed = await s.call<ActionReply>('POST', `${pay}/resume-canary?environment=staging`, {
      rawBody: '',
    });
    expect(resumed.body.status).toBe('progressing');
    expect((await act('pause')).body.status).toBe('paused');
    expect((await act('resume')).body.status).toBe('progressing');
    expectError(await act('resume'), 409, 'INVALID_TRANSITION');
    expect((await act('pause')).body.status).toBe('paused');
    expectError(await act('pause'), 409, 'INVALID_TRANSITION');
  });

  it('rollback goes to 0% from paused; only restart leaves rolled_back', async () => {
    const r = await act('rollback', 'staging', { reason: 'errors' });
    expect(r.body).toMatchObject({ toPercent: 0, status: 'rolled_back', fromPercent: 10 });
    expectError(await act('advance'), 409, 'INVALID_TRANSITION');
    expectError(await act('resume'), 409, 'INVALID_TRANSITION');
    const again = await act('restart');
    expect(again.body).toMatchObject({ toStage: 0, toPercent: 1, status: 'progressing' });
    expect(again.body.flag.canary?.runId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('advancing past the last stage completes the canary', async () => {
    const n = (
      await s.call<{ flag: Flag }>('GET', `${FLAGS}/canary.new-notification-service?environment=dev`)
    ).body.flag.stages!.length;
    let last: ActionReply | undefined;
    for (let i = 0; i < n; i++) {
      const r = await s.call<ActionReply>(
        'POST',
        `${FLAGS}/canary.new-notification-service/advance-canary?environment=dev`,
      );
      expect(r.status).toBe(200);
      last = r.body;
    }
    expect(last).toMatchObject({ status: 'completed', toPercent: 100 });
  });

  it('non-canary flags get 409 NOT_A_CANARY; unknown flags 404; bad bodies 400', async () => {
    for (const action of ['advance', 'rollback', 'pause', 'resume']) {
      expectError(
        await s.call('POST', `${FLAGS}/feature.new-dashboard/${action}-canary?environment=dev`),
        409,
        'NOT_A_CANARY',
        'key',
      );
    }
    expectError(await s.call('POST', `${FLAGS}/canary.nope/advance-canary`), 404, 'FLAG_NOT_FOUND');
    expectError(await act('advance', 'staging', { reason: 1 }), 400, 'VALIDATION_FAILED');
    expectError(await act('advance', 'staging', { because: 'x' }), 400, 'VALIDATION_FAILED');
  });

  it('applyCanaryTransition (the scheduler path) records automatic transitions with their metrics', async () => {
    const out = await applyCanaryTransition(s.cp.db.db, {
      environment: 'prod',
      key: 'canary.new-payment-processor',
      action: 'rollback',
      actor: 'scheduler',
      reason: 'error rate 9.1% > 5% in 2 windows',
      automatic: true,
      metrics: { errorRate: 9.1, windows: 2 },
    });
    expect(out).toMatchObject({ toStatus: 'rolled_back', toPercent: 0 });
    await s.cp.app.snapshots.refresh('prod');
    const logs = await s.call<{ logs: Record<string, unknown>[] }>(
      'GET',
      `${pay}/canary-logs?environment=prod`,
    );
    expect(logs.body.logs[0]).toMatchObject({
      automatic: true,
      actor: 'scheduler',
      metrics: { errorRate: 9.1, windows: 2 },
    });
    // The new revision reached this replica's prebuilt snapshot.
    const snap = JSON.parse(s.cp.app.snapshots.get('prod')!.identity.toString('utf8')) as { flags: Flag[] };
    const f = snap.flags.find((x) => x.key === 'canary.new-payment-processor');
    expect(f?.canary?.status).toBe('rolled_back');
  });

  it('a PUT that removes the stages makes the flag a plain one; adding stages starts paused at stage 0', async () => {
    const url = `${FLAGS}/feature.ai-budgeting?environment=dev`;
    const r = await s.call<{ flag: Flag }>('PUT', url, {
      body: {
        rolloutPercentage: null,
        stages: [
          { percent: 20, minDurationSec: 60 },
          { percent: 100, minDurationSec: 0 },
        ],
      },
    });
    expect(r.status).toBe(200);
    expect(r.body.flag.canary).toEqual({ stage: 0, status: 'paused', stageStartedAt: null });
    const back = await s.call<{ flag: Flag }>('PUT', url, { body: { stages: null, rolloutPercentage: 100 } });
    expect(back.body.flag.canary).toBeUndefined();
    expect(back.body.flag.stages).toBeUndefined();
  });
});
