// Suite `canary` (issue 6): reaction time of the automatic rollback — from the first failing request
// of the treatment cohort to the SDK serving the old behaviour — at 1-s and 10-s windows, and the
// server's ingest cost per metric post. Control plane on Postgres in a child process; the SDK client (the
// product's @rupaya/flags-node, metrics on) runs in the bench process and records simulated traffic.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { createClient } from '@rupaya/flags-node';
import { fmt, table } from '../lib/format.mjs';
import { createDatabase, postgresAvailable } from '../lib/pg.mjs';
import { cpuMicros } from '../lib/proc.mjs';
import { adminClient, startControlPlane } from '../lib/server.mjs';
import { summarize } from '../lib/stats.mjs';

export const name = 'canary';
export const title = 'Canary rollback and metrics ingest (issue 6)';

// The budget is a ceiling on a config's trials. A 10-s trial takes ≈ 10 s (setup, ≤ 2 s healthy,
// then ≤ consecutiveWindows + 1 windows to react): 20 of them need ≈ 200–250 s, so the 10-s case gets
// 20 × 35 s (every trial even at the 30-s target), and all 20 trials run for p50/p95 (issue 6).
const CONFIGS = [
  { windowMs: 1000, trials: 20, budgetMs: 60_000 },
  { windowMs: 10_000, trials: 20, budgetMs: 20 * 35_000 },
];
const REQUESTS_PER_SECOND = 400;
const INGEST_POSTS = 200;
/** Posts before the measured ones (one window of every instance): JIT, pools and caches warm. */
const INGEST_WARMUP_POSTS = 100;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** One trial: a fresh canary at 50%, healthy traffic for a moment, then every treatment request fails. */
async function trial(admin, client, index, windowMs) {
  const key = `canary.bench-reaction-${index}-${randomUUID().slice(0, 8)}`;
  await admin.post('/api/admin/deployment/feature-flags?environment=dev', {
    key,
    type: 'boolean',
    enabled: true,
    stages: [
      { percent: 50, minDurationSec: 3600 },
      { percent: 100, minDurationSec: 0 },
    ],
  });
  await admin.post(`/api/admin/deployment/feature-flags/${key}/resume-canary?environment=dev`, {
    reason: 'bench',
  });
  // Wait until the client holds the running canary.
  const probe = Array.from({ length: 200 }, (_, i) => ({ userId: `probe-${index}-${i}` }));
  const deadline = Date.now() + 20_000;
  while (!probe.some((ctx) => client.evaluate(key, ctx).cohort === 'treatment')) {
    if (Date.now() > deadline) throw new Error(`client never saw ${key} running`);
    await sleep(20);
  }
  const tick = 50;
  const perTick = Math.round((REQUESTS_PER_SECOND * tick) / 1000);
  let user = 0;
  let failingSince = null;
  const healthyUntil = performance.now() + Math.min(windowMs, 2000);
  return new Promise((resolve, reject) => {
    const stopAt = performance.now() + Math.max(20 * windowMs, 30_000);
    const timer = setInterval(() => {
      const now = performance.now();
      for (let i = 0; i < perTick; i++) {
        const ctx = { userId: `u-${index}-${user++}` };
        const result = client.evaluate(key, ctx);
        const treatment = result.cohort === 'treatment' && result.enabled;
        const failing = treatment && now >= healthyUntil;
        if (failing && failingSince === null) failingSince = now;
        client.recordRequest({
          route: '/checkout',
          method: 'POST',
          status: failing ? 500 : 200,
          durationMs: 20 + (i % 7),
          served: result.cohort ? [{ flag: key, cohort: result.cohort }] : [],
        });
      }
      if (failingSince !== null && !probe.some((ctx) => client.isEnabled(key, ctx))) {
        clearInterval(timer);
        resolve({ key, reactionMs: performance.now() - failingSince });
      } else if (now > stopAt) {
        clearInterval(timer);
        reject(new Error(`no rollback of ${key} within ${Math.round((stopAt - failingSince) / 1000)} s`));
      }
    }, tick);
  });
}

async function reaction({ windowMs, trials, budgetMs }, log) {
  const db = createDatabase();
  let server;
  let client;
  try {
    server = await startControlPlane({
      storage: 'postgres',
      databaseUrl: db.url,
      env: {
        METRICS_AGGREGATION_INTERVAL: String(windowMs),
        METRICS_FLUSH_INTERVAL: String(Math.min(windowMs, 1000)),
      },
    });
    const admin = adminClient(server.url, server.adminToken);
    const sdkKey = await admin.sdkKey('dev');
    client = createClient({ url: server.url, sdkKey, streaming: true, metrics: { enabled: true } });
    if ((await client.ready({ timeoutMs: 15_000 })) !== 'READY') throw new Error('client not ready');
    const reactions = [];
    const failures = [];
    const started = performance.now();
    for (let i = 0; i < trials && performance.now() - started < budgetMs; i++) {
      try {
        const r = await trial(admin, client, i, windowMs);
        reactions.push(r.reactionMs);
      } catch (error) {
        failures.push(String(error.message ?? error));
        if (failures.length >= 2) break;
      }
    }
    log(
      `  ${windowMs / 1000}-s windows: ${reactions.length} trials, p50 ${fmt(summarize(reactions).p50 / 1000, 2)} s, p95 ${fmt(summarize(reactions).p95 / 1000, 2)} s${failures.length ? `; failures: ${failures.join('; ')}` : ''}`,
    );
    return { windowMs, planned: trials, trials: reactions.length, ms: summarize(reactions), failures };
  } catch (error) {
    return { windowMs, planned: trials, trials: 0, error: String(error?.stack ?? error) };
  } finally {
    await client?.close();
    await server?.stop();
    db.drop();
  }
}

function metricsBatch(instance, flags, windowStart) {
  const sketch = {
    alpha: 0.01,
    zeroCount: 0,
    offset: 340,
    counts: [3, 10, 40, 25, 12, 6, 3, 1],
    count: 100,
    sum: 2400,
    min: 18,
    max: 60,
  };
  return {
    instanceId: `bench-instance-${instance}`,
    batchKey: randomUUID(),
    sdk: { name: 'bench', version: '0.0.0' },
    windows: flags.flatMap((flag) =>
      ['treatment', 'control'].map((cohort) => ({
        windowStart,
        durationMs: 10_000,
        flag,
        cohort,
        endpoint: 'GET /checkout',
        requests: 100,
        errors: 1,
        topErrors: [{ endpoint: 'GET /checkout', status: 500, count: 1 }],
        latency: sketch,
      })),
    ),
    evaluations: flags.map((flag) => ({ flag, variant: 'on', count: 100 })),
  };
}

/** Server CPU per 1,000 metric posts (100 instances × 20 flags per window), and rows written. */
async function ingest(log) {
  const db = createDatabase();
  let server;
  try {
    server = await startControlPlane({ storage: 'postgres', databaseUrl: db.url });
    const admin = adminClient(server.url, server.adminToken);
    const sdkKey = await admin.sdkKey('dev');
    const flags = Array.from({ length: 20 }, (_, i) => `canary.bench-ingest-${i}`);
    const windowStart = Math.floor(Date.now() / 10_000) * 10_000 - 10_000;
    const post = async (body) => {
      const res = await fetch(`${server.url}/api/sdk/v1/metrics`, {
        method: 'POST',
        headers: { authorization: `Bearer ${sdkKey}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      await res.arrayBuffer();
      if (res.status !== 202) throw new Error(`metrics post → ${res.status}`);
    };
    // Warm-up, not measured: one earlier window of every instance.
    let warm = 0;
    const warmer = async () => {
      while (warm < INGEST_WARMUP_POSTS) {
        const i = warm++;
        await post(metricsBatch(i % 100, flags, windowStart - 20_000));
      }
    };
    await Promise.all([warmer(), warmer(), warmer(), warmer()]);
    const cpu0 = cpuMicros(server.pid);
    const t0 = performance.now();
    let next = 0;
    const worker = async () => {
      while (next < INGEST_POSTS) {
        const i = next++;
        // 100 instances, each posting one window of 20 flags × 2 cohorts per window.
        await post(metricsBatch(i % 100, flags, windowStart - Math.floor(i / 100) * 10_000));
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    const seconds = (performance.now() - t0) / 1000;
    const cpu = cpuMicros(server.pid) - cpu0;
    const { execFileSync } = await import('node:child_process');
    const count = (table) =>
      Number(
        execFileSync(
          'psql',
          ['-h', '127.0.0.1', '-U', 'postgres', '-d', db.name, '-tAc', `SELECT count(*) FROM ${table}`],
          {
            encoding: 'utf8',
          },
        ).trim(),
      );
    let rows = null;
    try {
      rows = { deployment_metrics: count('deployment_metrics'), metric_batches: count('metric_batches') };
    } catch (error) {
      rows = { error: String(error.message).split('\n')[0] };
    }
    log(`  ingest: ${INGEST_POSTS} posts in ${seconds.toFixed(1)} s, server CPU ${fmt(cpu / 1e6, 2)} s`);
    return {
      posts: INGEST_POSTS,
      // Window starts written, the warm-up's included (rows are counted after the run).
      windows: (INGEST_POSTS + INGEST_WARMUP_POSTS) / 100,
      warmupPosts: INGEST_WARMUP_POSTS,
      seconds,
      cpuSecondsPer1000: (cpu / 1e6) * (1000 / INGEST_POSTS),
      rows,
      windowsPerPost: 40,
    };
  } catch (error) {
    return { error: String(error?.stack ?? error) };
  } finally {
    await server?.stop();
    db.drop();
  }
}

export async function run({ log }) {
  if (!postgresAvailable()) return { error: 'Postgres not reachable at 127.0.0.1:5432' };
  const reactions = [];
  for (const config of CONFIGS) reactions.push(await reaction(config, log));
  return { reactions, ingest: await ingest(log), requestsPerSecond: REQUESTS_PER_SECOND };
}

export function markdown({ reactions, ingest: ing, requestsPerSecond }) {
  const out = [];
  out.push(
    `Reaction time: a fresh canary at 50% with the default policy (error rate 5%, 2 consecutive windows, ≥ 50 treatment requests per window); the bench's @rupaya/flags-node client serves ${requestsPerSecond} requests/s, records them (metrics on), and from a moment on every treatment request fails (500). Measured from the first failing request until the client serves the old behaviour to every probe user. Target ≤ consecutiveWindows + 1 windows + propagation (≤ 30 s at 10-s windows). Trials stop early past a time budget (the row says how many ran).`,
  );
  out.push('');
  out.push(
    table(
      ['Window', 'Trials', 'p50 s', 'p95 s', 'max s', 'Target', 'Met?', 'Notes'],
      reactions.map((r) => {
        if (r.error)
          return [
            `${r.windowMs / 1000} s`,
            '0',
            'n/a',
            'n/a',
            'n/a',
            '',
            'not measured',
            r.error.split('\n')[0],
          ];
        const target = (3 * r.windowMs) / 1000 + 1;
        return [
          `${r.windowMs / 1000} s`,
          `${r.trials} of ${r.planned}`,
          fmt(r.ms.p50 / 1000, 2),
          fmt(r.ms.p95 / 1000, 2),
          fmt(r.ms.max / 1000, 2),
          `≤ ${target} s (3 windows + 1 s)`,
          r.trials > 0 ? (r.ms.p95 / 1000 <= target ? 'yes' : 'no') : 'n/a',
          r.failures?.length ? r.failures.join('; ') : '',
        ];
      }),
    ),
  );
  out.push('');
  if (ing.error) out.push(`Ingest cost: not measured — \`${ing.error.split('\n')[0]}\``);
  else {
    out.push(
      `Ingest cost (server CPU extrapolated to 1,000 posts): ${ing.posts} POST /api/sdk/v1/metrics (4 concurrent${ing.warmupPosts ? `, after ${ing.warmupPosts} unmeasured warm-up posts` : ''}), each one 10-s window of 20 flags × 2 cohorts (${ing.windowsPerPost} series) from one of 100 instances: server CPU ${fmt(ing.cpuSecondsPer1000, 2)} s per 1,000 posts (${fmt((ing.cpuSecondsPer1000 * 1000) / 1000, 2)} ms each), ${fmt(ing.seconds, 1)} s wall. Rows after the run: ${JSON.stringify(ing.rows)}.${
        ing.rows?.deployment_metrics
          ? ` For 100 instances × 20 flags that is ${fmt(ing.rows.deployment_metrics / (ing.windows ?? ing.posts / 100), 0)} raw rows per 10-s window, so ${fmt((ing.rows.deployment_metrics / (ing.windows ?? ing.posts / 100)) * 360, 0)} rows per hour before the retention roll-up.`
          : ''
      }`,
    );
  }
  return out.join('\n');
}
