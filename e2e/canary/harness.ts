// Shared by the canary end-to-end tests: a real control plane (PGlite in memory, windows shortened
// by configuration), a real Fastify service using @rupaya/flags-node + @rupaya/flags-fastify with
// switches that make the treatment cohort fail or answer slowly, and a bounded load generator on
// loopback. No fake timers, no mocks.
import type { AddressInfo } from 'node:net';
import { bucketOf } from '@rupaya/flags-core';
import { flagsPlugin } from '@rupaya/flags-fastify';
import { createClient, type FlagsClient } from '@rupaya/flags-node';
import Fastify, { type FastifyInstance } from 'fastify';
import { AdminApi, type Plane, silent, startPlane, waitFor } from '../sdk/plane';

/** Window length (METRICS_AGGREGATION_INTERVAL) of every canary e2e plane. */
export const W = 1000;
export const ENV = 'prod';
export const FLAGS = '/api/admin/deployment/feature-flags';

/**
 * Per-flag policy: smaller samples so the short test sees enough traffic, and resource gauges out
 * of the way (a loaded CI machine has event-loop delays that are not the canary's fault).
 */
export const policy = {
  minRequestsPerWindow: 5,
  minSampleSize: 100,
  gauges: { eventLoopDelayP99Ms: 600_000, cpuPercent: 100_000, heapUsedPercent: 100 },
};

export const stages = [
  { percent: 1, minDurationSec: 1 },
  { percent: 10, minDurationSec: 1 },
  { percent: 25, minDurationSec: 1 },
  { percent: 50, minDurationSec: 1 },
  { percent: 100, minDurationSec: 0 },
];

/** Stages whose 10% stage lasts 10 minutes: a canary advanced to it stays there for the whole test. */
export const stagesHeldAt10 = [
  { percent: 1, minDurationSec: 1 },
  { percent: 10, minDurationSec: 600 },
  { percent: 100, minDurationSec: 0 },
];

export interface Check {
  name: string;
  path: string;
  observed: number | null;
  threshold: number;
  passed: boolean;
  unit: string;
  breachedWindows?: number;
}

export interface Decision {
  id: number;
  stage: number;
  percent: number;
  action: string;
  outcome: string;
  applied: boolean;
  reasons: string[];
  checks: Check[];
  policy: { consecutiveWindows: number; p99ThresholdMs: number; windowMs: number };
  latestWindowStartMs: number | null;
  z: number | null;
  pValue: number | null;
}

/**
 * Users whose rollout bucket is in [0, 1000) (treatment at every stage) or [50000, 51000) (control
 * at every stage ≤ 50%), so both cohorts get traffic even at 1%; plus users outside both.
 */
export function population(key: string): { treatment: string[]; control: string[]; other: string[] } {
  const out = { treatment: [] as string[], control: [] as string[], other: [] as string[] };
  for (let i = 0; out.treatment.length < 30 || out.control.length < 30 || out.other.length < 30; i++) {
    const u = `user-${i}`;
    const b = bucketOf(key, u);
    if (b < 1000) out.treatment.length < 30 && out.treatment.push(u);
    else if (b >= 50_000 && b < 51_000) out.control.length < 30 && out.control.push(u);
    else if (out.other.length < 30) out.other.push(u);
  }
  return out;
}

export class CanaryRig {
  /** Every `failEvery[flag]`-th treatment request of a flag answers 500 (0 or missing: never). */
  readonly failEvery: Record<string, number> = {};
  /** Treatment requests of a flag wait this many ms before answering (0 or missing: no delay). */
  readonly delayMs: Record<string, number> = {};
  /** When the service received the first delayed treatment request of a flag. */
  readonly firstSlowAt: Record<string, number> = {};
  private readonly treatmentCount: Record<string, number> = {};

  private constructor(
    readonly plane: Plane,
    readonly admin: AdminApi,
    readonly client: FlagsClient,
    readonly service: FastifyInstance,
    readonly base: string,
  ) {}

  /** A control plane with `env` on top of the 1-s windows, its service and SDK client. */
  static async start(env: Record<string, string> = {}): Promise<CanaryRig> {
    const plane = await startPlane({
      memory: true,
      env: {
        METRICS_AGGREGATION_INTERVAL: String(W),
        METRICS_WINDOW_SIZE: '30',
        SSE_HEARTBEAT_MS: '500',
        ...env,
      },
    });
    try {
      const admin = new AdminApi(plane.url);
      const sdkKey = await admin.sdkKey(ENV);
      const client = createClient({
        url: plane.url,
        sdkKey,
        metrics: { flushIntervalMs: 100 },
        logger: silent,
      });
      if ((await client.ready({ timeoutMs: 20_000 })) !== 'READY') throw new Error('SDK not ready');
      const service = Fastify();
      let rig: CanaryRig | undefined;
      await service.register(flagsPlugin, { client });
      service.get('/checkout', async (request, reply) => {
        const key = (request.query as { flag: string }).flag;
        const on = request.flags.isEnabled(key);
        if (on && rig) {
          const delay = rig.delayMs[key];
          if (delay) {
            rig.firstSlowAt[key] ??= Date.now();
            await new Promise((r) => setTimeout(r, delay));
          }
          const every = rig.failEvery[key];
          if (every) {
            rig.treatmentCount[key] = (rig.treatmentCount[key] ?? 0) + 1;
            if (rig.treatmentCount[key] % every === 0)
              return reply.code(500).send({ error: 'new path failed' });
          }
        }
        return { newPath: on };
      });
      await service.listen({ port: 0, host: '127.0.0.1' });
      const base = `http://127.0.0.1:${(service.server.address() as AddressInfo).port}`;
      rig = new CanaryRig(plane, admin, client, service, base);
      return rig;
    } catch (err) {
      await plane.close();
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.service.close();
    await this.client.close();
    await this.plane.close();
  }

  /** A bounded load generator: `concurrency` loops sending requests until `stop()`. */
  load(key: string, concurrency = 8) {
    const users = population(key);
    // Cohorts interleaved, so concurrent requests mix them (as real traffic does).
    const all: string[] = [];
    for (let i = 0; i < 30; i++) {
      all.push(users.treatment[i]!, users.control[i]!);
      if (i % 5 === 0) all.push(users.other[i]!);
    }
    let running = true;
    let sent = 0;
    const loops = Array.from({ length: concurrency }, async (_, j) => {
      for (let i = j; running; i += concurrency) {
        const u = all[i % all.length]!;
        await fetch(`${this.base}/checkout?flag=${key}`, { headers: { 'x-user-id': u } })
          .then((r) => r.arrayBuffer())
          .catch(() => undefined);
        sent++;
      }
    });
    return {
      users,
      get sent() {
        return sent;
      },
      async stop() {
        running = false;
        await Promise.all(loops);
      },
    };
  }

  async createCanary(
    key: string,
    overrides: Record<string, unknown> = {},
    flagStages: readonly { percent: number; minDurationSec: number }[] = stages,
  ): Promise<void> {
    await this.admin.createFlag(
      { key, type: 'boolean', enabled: true, stages: flagStages, policy: { ...policy, ...overrides } },
      ENV,
    );
    // The service's SDK learns of the flag over SSE a moment later; requests sent before that are
    // served NOT_FOUND and recorded nowhere.
    await waitFor(
      () => this.client.evaluate(key, { userId: 'probe' }).reason !== 'NOT_FOUND',
      10_000,
      `${key} in the SDK`,
    );
  }

  /** A manual canary action through the admin API (what an operator does). */
  canaryAction(
    key: string,
    action: 'advance' | 'resume' | 'pause' | 'rollback' | 'restart',
    reason?: string,
  ) {
    return this.admin.ok<{ status: string; toPercent: number }>(
      'POST',
      `${FLAGS}/${key}/${action}-canary?environment=${ENV}`,
      reason ? { reason } : {},
    );
  }

  async canaryOf(key: string): Promise<{ stage: number; status: string; runId?: string }> {
    return (
      await this.admin.ok<{ flag: { canary: { stage: number; status: string; runId?: string } } }>(
        'GET',
        `${FLAGS}/${key}?environment=${ENV}`,
      )
    ).flag.canary;
  }

  /** The flag's decisions, newest first (the route's order). */
  async decisions(key: string, limit = 1000): Promise<Decision[]> {
    const { decisions } = await this.admin.ok<{ decisions: Decision[] }>(
      'GET',
      `${FLAGS}/${key}/rollback-decisions?environment=${ENV}&limit=${limit}`,
    );
    return decisions;
  }

  async canaryLogs(key: string) {
    const { logs } = await this.admin.ok<{
      logs: {
        action: string;
        automatic: boolean;
        actor: string;
        fromPercent: number;
        toPercent: number;
        reason: string | null;
      }[];
    }>('GET', `${FLAGS}/${key}/canary-logs?environment=${ENV}`);
    return logs;
  }

  /** Waits for the canary's status; on timeout the error carries the last decision's reasons. */
  async waitForStatus(key: string, pred: (status: string) => boolean, what: string, timeoutMs = 100_000) {
    try {
      await waitFor(async () => pred((await this.canaryOf(key)).status), timeoutMs, what);
    } catch (err) {
      const [last] = await this.decisions(key, 1);
      throw new Error(
        `${(err as Error).message}; last decision: ${JSON.stringify(last ? { action: last.action, reasons: last.reasons } : null)}`,
      );
    }
  }

  /**
   * Waits until the scheduler has judged the treatment healthy on the fast path at `stage`: a
   * decision whose error-rate and P99 checks both passed on measured values.
   */
  async waitForHealthyDecision(key: string, stage: number, timeoutMs = 60_000): Promise<void> {
    await waitFor(
      async () =>
        (await this.decisions(key, 20)).some(
          (d) =>
            d.stage === stage &&
            ['fast.errorRate', 'fast.p99'].every((name) =>
              d.checks.some((c) => c.name === name && c.passed && c.observed !== null),
            ),
        ),
      timeoutMs,
      `a healthy fast-path decision at stage ${stage}`,
    );
  }
}
