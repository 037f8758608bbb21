// Shared by the canary/metrics tests: metric windows built with core's aggregates (what an SDK
// instance sends), and small helpers over the admin API.
import { type MetricsBatch, type SerializedWindow, WindowAggregate } from '@rupaya/flags-core';
import { FLAGS, type TestServer } from './helpers';

export interface WindowSpec {
  flag: string;
  cohort: 'treatment' | 'control' | 'none';
  start: number;
  durationMs: number;
  requests: number;
  errors?: number;
  stage?: number;
  endpoint?: string;
  /** Latency of request i, ms (default 20–80 ms spread). */
  latency?: (i: number) => number;
}

export function buildWindow(spec: WindowSpec): SerializedWindow {
  const w = new WindowAggregate({
    flag: spec.flag,
    cohort: spec.cohort,
    endpoint: spec.endpoint ?? 'GET /checkout',
    windowStart: spec.start,
    durationMs: spec.durationMs,
    ...(spec.stage !== undefined ? { stage: spec.stage } : {}),
  });
  const errors = spec.errors ?? 0;
  for (let i = 0; i < spec.requests; i++) {
    const isError = Math.floor(((i + 1) * errors) / spec.requests) > Math.floor((i * errors) / spec.requests);
    w.record(
      spec.latency ? spec.latency(i) : 20 + ((i * 37) % 61),
      isError ? { error: true, status: 503 } : {},
    );
  }
  return w.toSerialized();
}

let batchCounter = 0;
export function batch(windows: SerializedWindow[], extra: Partial<MetricsBatch> = {}): MetricsBatch {
  batchCounter++;
  return { instanceId: 'instance-a', batchKey: `b-${process.pid}-${batchCounter}`, windows, ...extra };
}

/** Windows of both cohorts for every window starting in [from, to). */
export function cohortSeries(
  flag: string,
  from: number,
  to: number,
  durationMs: number,
  treatment: { requests: number; errors?: number; latency?: (i: number) => number },
  control: { requests: number; errors?: number; latency?: (i: number) => number },
  stage?: number,
): SerializedWindow[] {
  const out: SerializedWindow[] = [];
  for (let start = from; start < to; start += durationMs) {
    out.push(buildWindow({ flag, cohort: 'treatment', start, durationMs, stage, ...treatment }));
    out.push(buildWindow({ flag, cohort: 'control', start, durationMs, stage, ...control }));
  }
  return out;
}

export async function postMetrics(s: TestServer, sdkKey: string, body: unknown) {
  return s.call<{ accepted: number; duplicate: boolean }>('POST', '/api/sdk/v1/metrics', {
    body,
    token: sdkKey,
  });
}

export async function createCanary(
  s: TestServer,
  key: string,
  extra: Record<string, unknown> = {},
  stages = [
    { percent: 1, minDurationSec: 30 },
    { percent: 10, minDurationSec: 30 },
    { percent: 100, minDurationSec: 0 },
  ],
) {
  const r = await s.call('POST', `${FLAGS}?environment=dev`, {
    body: { key, type: 'boolean', enabled: true, stages, ...extra },
  });
  if (r.status !== 201) throw new Error(`create ${key}: ${r.status} ${r.text}`);
  return r;
}

export async function canaryAction(s: TestServer, key: string, action: string, env = 'dev') {
  const r = await s.call<{
    canary: { stage: number; status: string; stageStartedAt: string; runId?: string };
  }>('POST', `${FLAGS}/${key}/${action}-canary?environment=${env}`, {});
  if (r.status !== 200) throw new Error(`${action} ${key}: ${r.status} ${r.text}`);
  return r.body.canary;
}

export async function getFlagJson(s: TestServer, key: string, env = 'dev') {
  const r = await s.call<{
    flag: { canary?: { stage: number; status: string; runId?: string }; rolloutPercentage?: number };
  }>('GET', `${FLAGS}/${key}?environment=${env}`);
  return r.body.flag;
}
