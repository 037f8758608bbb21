// Suite `sdk` (issue 5): propagation admin write → client.isEnabled flips (streaming and polling),
// middleware overhead (Fastify and Express hello-world, with and without the plugin, alternated),
// and client memory with 1,000 flags and 10,000 distinct users per minute. Control plane on Postgres
// (PGlite when Postgres is unreachable), in a child process; apps and the memory client too.
import { execFileSync, spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { createClient } from '@rupaya/flags-node';
import autocannon from 'autocannon';
import { perfAvailable, runWorker, runWorkerCounted } from '../lib/child.mjs';
import { bytes, fmt, table } from '../lib/format.mjs';
import { createDatabase, postgresAvailable, psqlScript } from '../lib/pg.mjs';
import { cpuMicros } from '../lib/proc.mjs';
import { adminClient, startControlPlane } from '../lib/server.mjs';
import { meanCi } from '../lib/ci.mjs';
import { median, summarize } from '../lib/stats.mjs';
import { realisticFlags } from '../control-plane/flags.mjs';
import { seedSql } from '../control-plane/seed-sql.mjs';

export const name = 'sdk';
export const title = 'SDKs and middleware (issue 5)';

const WRITES = 200;
const PHASE_BUDGET_MS = 45_000;
const POLL_MS = 250;
const FLAG = 'feature.new-dashboard';
const CANARY = 'canary.new-payment-processor';
const ALTERNATIONS = 9;
const RUN_SECONDS = 2;
/** Requests every app serves before it is measured (and at least one second; see `warmUp`). */
const WARM_UP_REQUESTS = 20_000;
const MEMORY_SECONDS = 45;
const USERS_PER_MINUTE = 10_000;
const appScript = fileURLToPath(new URL('./app.mjs', import.meta.url));
const sdkWorkScript = fileURLToPath(new URL('./sdk-work.mjs', import.meta.url));
const stackWorkScript = fileURLToPath(new URL('./stack-work.mjs', import.meta.url));
const STACK_ALTERNATIONS = 7;
/**
 * KiB of other memory sdk-work.mjs touches before every request in its churned runs: what a
 * server's other work between two requests does to the CPU's caches, roughly (the nearest caches
 * of a core hold from tens of KiB to a few MiB).
 */
const CHURN_KIB = [256, 1024];
/**
 * When stack-work.mjs's client sends the next request: `'later-turn'`, on a later turn of the event
 * loop once the response has arrived, as a client across a network does. Runs recorded before this
 * setting existed wrote it at once, which made every request take the pipelined path.
 */
const STACK_NEXT_REQUEST = 'later-turn';
/**
 * Head-to-head rounds: two apps at once on the app core (see `headToHead`). The pairs: the plain app
 * against the plugin app, against the app doing the plugin's work by hand in its handler (the
 * client's `evaluate` and `recordRequest`: what the plugin's own glue adds), against the app evaluating without recording, against the plugin installed
 * with no flag evaluated, against the SDK client started without the plugin (what the client's
 * presence costs), against the plain app plus a do-nothing middleware or hook (what any
 * integration costs a request), and against another plain app (the control: what the method itself
 * shows when nothing differs).
 */
const H2H_PAIRS = [
  { b: 'plugin', rounds: 16 },
  { b: 'byhand', rounds: 9 },
  { b: 'norecord', rounds: 5 },
  { b: 'registered', rounds: 5 },
  { b: 'client', rounds: 5 },
  { b: 'noop', rounds: 5 },
  { b: 'plain', rounds: 5 },
];
/** How the head-to-head table names the app against the plain one. */
const H2H_LABEL = {
  plugin: 'plugin (recording on)',
  norecord: '`recordRequests: false`',
  registered: 'plugin installed, no flag evaluated',
  client: 'SDK client started, no plugin',
  byhand: "the plugin's work done by hand in the handler (no plugin)",
  plain: 'plain (control)',
};
const h2hLabel = (framework, b) =>
  b === 'noop'
    ? framework === 'express'
      ? 'a do-nothing middleware (no plugin)'
      : 'a do-nothing `onRequest` hook (no plugin)'
    : (H2H_LABEL[b] ?? b);
/** Modes of the in-process runs when instructions can be counted (the breakdown); else plain and plugin. */
const STACK_MODES = ['plain', 'registered', 'norecord', 'plugin'];
/** The breakdown apps, as the tables name them. */
const BREAKDOWN_LABEL = {
  registered: 'installed, no flag evaluated',
  norecord: '`req.evaluateFlag`, `recordRequests: false`',
  plugin: '`req.evaluateFlag`, recording on (the plugin app)',
};
const memoryScript = fileURLToPath(new URL('./memory.mjs', import.meta.url));

/** PUT `enabled` back and forth; time from the PUT until the client's isEnabled has flipped. */
async function propagation(server, admin, sdkKey, streaming) {
  const client = createClient({
    url: server.url,
    sdkKey,
    streaming,
    pollIntervalMs: POLL_MS,
    metrics: { enabled: false },
  });
  try {
    const state = await client.ready({ timeoutMs: 15_000 });
    if (state !== 'READY') throw new Error(`client not ready: ${state}`);
    const ctx = { userId: 'propagation-user' };
    const latencies = [];
    const started = performance.now();
    for (let i = 0; i < WRITES && performance.now() - started < PHASE_BUDGET_MS; i++) {
      const want = !client.isEnabled(FLAG, ctx);
      const flipped = new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no flip within 15 s')), 15_000);
        const check = () => {
          if (client.isEnabled(FLAG, ctx) === want) {
            clearTimeout(timer);
            client.off('change', check);
            resolve(performance.now());
          }
        };
        client.on('change', check);
      });
      const t0 = performance.now();
      await admin.put(`/api/admin/deployment/feature-flags/${FLAG}?environment=dev`, {
        enabled: want,
        reason: 'bench propagation',
      });
      latencies.push((await flipped) - t0);
    }
    return {
      mode: streaming ? 'streaming (SSE)' : `polling every ${POLL_MS} ms`,
      writes: latencies.length,
      ms: summarize(latencies),
    };
  } finally {
    await client.close();
  }
}

/**
 * CPU placement of the overhead runs: the app under load alone on the last core, the load generator
 * (this process) and the control plane on the others — as one runs wrk or autocannon against a
 * server. Unpinned on 2 cores, the scheduler moved the app, the load generator and the app's own
 * threads between the cores run by run, which swung identical runs by ±10%. Null (unpinned) when
 * `taskset` is missing or there is one core.
 */
function pinningPlan() {
  const cores = availableParallelism();
  if (cores < 2) return null;
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' });
  } catch {
    return null;
  }
  return { app: String(cores - 1), others: cores > 2 ? `0-${cores - 2}` : '0', all: `0-${cores - 1}` };
}

/** Sets the CPU affinity of every thread of `pid` (`cpus` as taskset's list, e.g. `0` or `0-1`). */
function pin(pid, cpus) {
  execFileSync('taskset', ['-a', '-c', '-p', cpus, String(pid)], { stdio: 'ignore' });
}

function startApp(framework, mode, url, sdkKey, cpus) {
  const args = [appScript, framework, mode, url, sdkKey, CANARY];
  const child = cpus
    ? spawn('taskset', ['-c', cpus, process.execPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => {
    err += d;
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) {
        resolve({
          url: `http://127.0.0.1:${JSON.parse(line).port}/hello`,
          pid: child.pid,
          stop: () =>
            new Promise((r) => {
              child.once('exit', r);
              child.kill('SIGTERM');
            }),
        });
      }
    });
    child.once('exit', (code) => reject(new Error(`app exited (${code}): ${err.slice(-500)}`)));
  });
}

async function loadApp(app) {
  const cpu0 = cpuMicros(app.pid);
  const r = await autocannon({
    url: app.url,
    connections: 10,
    duration: RUN_SECONDS,
    headers: { 'x-user-id': 'bench-user-1' },
  });
  const cpu1 = cpuMicros(app.pid);
  const ok = r.errors === 0 && r.non2xx === 0;
  return { rps: r.requests.total / r.duration, cpuMicrosPerRequest: (cpu1 - cpu0) / r.requests.total, ok };
}

/**
 * Share of one core the plain app used in the alternated runs (median rps × median CPU per request).
 * Below `APP_BOUND_SHARE` something else limited its rate (the load generator, the host), and the
 * plugin app's loss against it measures that, not the plugin.
 */
const busyShare = (r) => (r.plainRps * r.plainCpuMicros) / 1e6;
const APP_BOUND_SHARE = 0.9;
const appBound = (r) => busyShare(r) >= APP_BOUND_SHARE;

/**
 * The alternated runs' answer to the target. None when the plain app was not what limited the rate,
 * and none when the plugin app used less CPU per request than the plain app: a plugin cannot make a
 * request cheaper, so such runs measured the processes' speed states (the process lottery), not the
 * plugin.
 */
function alternatedVerdict(r) {
  if (!appBound(r)) return 'n/a (app not the limit)';
  if (r.pluginCostMicros < 0) return 'n/a (plugin app cheaper per request: process speeds)';
  return r.rpsLostPercent <= 5 ? 'yes' : 'no';
}

/** `mean% ± half-width` of per-round losses (empty without them). */
function ciText(losses) {
  if (!Array.isArray(losses) || losses.length === 0) return '';
  const { mean, halfWidth } = meanCi(losses);
  return Number.isNaN(halfWidth) ? `${fmt(mean)}%` : `${fmt(mean)}% ± ${fmt(halfWidth)}`;
}

/** When a recorded run's in-process client sent its next request (see `STACK_NEXT_REQUEST`). */
function stackNextRequestText(settings) {
  return settings.STACK_NEXT_REQUEST === 'later-turn'
    ? 'the next one sent on a later turn of the event loop after the response arrived, as over a network'
    : 'the next one written as soon as the response arrived, so each request reached the server while the previous response was still finishing: the pipelined path';
}

/** The warm-up of a recorded run, as its method text says it (runs before `WARM_UP_REQUESTS`: one second). */
function warmUpText(settings) {
  return settings.WARM_UP_REQUESTS === undefined
    ? '1 s of warm-up'
    : `a warm-up of at least 1 s and ${settings.WARM_UP_REQUESTS.toLocaleString('en-US')} requests`;
}

/**
 * Warm-up, unmeasured: at least one second and at least `WARM_UP_REQUESTS` requests. V8 optimises a
 * function after it has run often enough, not after a time: one second is 60,000 Fastify requests on
 * a fast host but 4,000–10,000 on a slow one, where the runs then still measured the JIT (on a host
 * serving 15k rps, the first seconds of a fresh app served 4k, 10k, 15k; the head-to-head lost
 * 22.0% ± 2.6 after one second of warm-up and 11.5% ± 3.1 after five).
 */
async function warmUp(app) {
  const headers = { 'x-user-id': 'bench-user-1' };
  const first = await autocannon({ url: app.url, connections: 10, duration: 1, headers });
  const rest = WARM_UP_REQUESTS - first.requests.total;
  if (rest > 0) await autocannon({ url: app.url, connections: 10, amount: rest, headers });
}

async function overhead(framework, server, sdkKey, plan) {
  // Fresh processes every round: two processes running the same code can differ by up to ~25% in
  // CPU per request for as long as they live (four identical plugin processes side by side), so a
  // single process per mode biased the whole comparison by whatever it drew. Each round: start
  // them, warm each up, then one run each.
  // The outbound control is the plain app after one outgoing HTTP request at start (see app.mjs): it
  // separates what any process with an HTTP client pays from what the plugin costs.
  // registered and norecord break the plugin's cost down (see app.mjs).
  const modes = ['plain', 'outbound', 'plugin', 'inline', 'registered', 'norecord'];
  const runs = Object.fromEntries(modes.map((mode) => [mode, []]));
  for (let i = 0; i < ALTERNATIONS; i++) {
    const apps = await Promise.all(
      modes.map((mode) => startApp(framework, mode, server.url, sdkKey, plan?.app)),
    );
    try {
      for (const app of apps) await warmUp(app);
      // Rotate the order every round.
      for (let k = 0; k < modes.length; k++) {
        const m = (i + k) % modes.length;
        runs[modes[m]].push(await loadApp(apps[m]));
      }
    } finally {
      for (const app of apps) await app.stop();
    }
  }
  const med = (xs, k) => median(xs.map((x) => x[k]));
  // Paired per round (the runs of a round are seconds apart): robust to the machine's drift.
  const pairedLoss = median(runs.plain.map((p, i) => (1 - runs.plugin[i].rps / p.rps) * 100));
  const pairedLossVsOutbound = median(runs.outbound.map((p, i) => (1 - runs.plugin[i].rps / p.rps) * 100));
  const pairedLossInline = median(runs.plain.map((p, i) => (1 - runs.inline[i].rps / p.rps) * 100));
  const breakdown = ['registered', 'norecord', 'plugin'].map((mode) => ({
    mode,
    rps: med(runs[mode], 'rps'),
    cpuMicros: med(runs[mode], 'cpuMicrosPerRequest'),
    pairedLossPercent: median(runs.plain.map((p, i) => (1 - runs[mode][i].rps / p.rps) * 100)),
  }));
  const plainRps = med(runs.plain, 'rps');
  const pluginRps = med(runs.plugin, 'rps');
  const plainCpu = med(runs.plain, 'cpuMicrosPerRequest');
  const pluginCpu = med(runs.plugin, 'cpuMicrosPerRequest');
  const outboundCpu = med(runs.outbound, 'cpuMicrosPerRequest');
  return {
    framework,
    plainRps,
    pluginRps,
    outboundRps: med(runs.outbound, 'rps'),
    inlineRps: med(runs.inline, 'rps'),
    inlineCpuMicros: med(runs.inline, 'cpuMicrosPerRequest'),
    pairedLossInlinePercent: pairedLossInline,
    rpsLostPercent: (1 - pluginRps / plainRps) * 100,
    pairedLossPercent: pairedLoss,
    pairedLossVsOutboundPercent: pairedLossVsOutbound,
    plainCpuMicros: plainCpu,
    outboundCpuMicros: outboundCpu,
    pluginCpuMicros: pluginCpu,
    pluginCostMicros: pluginCpu - plainCpu,
    pluginCostVsOutboundMicros: pluginCpu - outboundCpu,
    breakdown,
    allOk: modes.every((mode) => runs[mode].every((r) => r.ok)),
    runs,
  };
}

/**
 * Head-to-head: the plain app and app `b` run at the same time, both pinned to the app core, each
 * loaded by its own autocannon (10 connections) from this process. Both stay busy, so the kernel
 * gives each half the core, and each serves requests in inverse proportion to its CPU per request.
 * Whatever the host does meanwhile (its speed swung rounds of the alternated runs by ±20%) happens
 * to both at once. Fresh processes every round; per round, rps lost = 1 − rps(b) / rps(plain).
 */
async function headToHead(framework, server, sdkKey, plan) {
  const pairs = [];
  for (const { b, rounds } of H2H_PAIRS) {
    const losses = [];
    const plainCpu = [];
    const otherCpu = [];
    let ok = true;
    for (let i = 0; i < rounds; i++) {
      const apps = await Promise.all(
        ['plain', b].map((mode) => startApp(framework, mode, server.url, sdkKey, plan?.app)),
      );
      try {
        await Promise.all(apps.map((app) => warmUp(app)));
        const [a, other] = await Promise.all(apps.map((app) => loadApp(app)));
        ok &&= a.ok && other.ok;
        losses.push((1 - other.rps / a.rps) * 100);
        plainCpu.push(a.cpuMicrosPerRequest);
        otherCpu.push(other.cpuMicrosPerRequest);
      } finally {
        for (const app of apps) await app.stop();
      }
    }
    pairs.push({
      b,
      rounds,
      lossPercent: median(losses),
      minLossPercent: Math.min(...losses),
      maxLossPercent: Math.max(...losses),
      plainCpuMicros: median(plainCpu),
      otherCpuMicros: median(otherCpu),
      ok,
      losses,
    });
  }
  return { framework, pairs };
}

/**
 * The plugin's CPU per request through the framework's real HTTP stack without the network
 * (stack-work.mjs): plain and plugin processes alternated, fresh each time; medians and the median
 * of the per-pair differences. Where Linux perf can count, also the instructions per request (user
 * space, every thread, timed batches only): unlike CPU time they hardly move between identical
 * processes on this VM.
 */
async function stackCost(framework) {
  const counted = perfAvailable();
  const modes = counted ? STACK_MODES : ['plain', 'plugin'];
  const runs = Object.fromEntries(modes.map((m) => [m, []]));
  const instructions = Object.fromEntries(modes.map((m) => [m, []]));
  for (let i = 0; i < STACK_ALTERNATIONS; i++) {
    // Rotated order: each mode runs first, second, … as often as the others.
    const order = modes.map((_, k) => modes[(k + i) % modes.length]);
    for (const mode of order) {
      const args = [framework, mode];
      const r = counted
        ? await runWorkerCounted(stackWorkScript, args, { timeoutMs: 120_000 })
        : await runWorker(stackWorkScript, args, { timeoutMs: 120_000 });
      if (!r.ok) return { framework, error: r.error ?? 'worker failed' };
      runs[mode].push(r.microsPerRequest);
      if (r.instructions !== undefined) instructions[mode].push(r.instructions / r.requests);
    }
  }
  const plain = median(runs.plain);
  const plugin = median(runs.plugin);
  const result = {
    framework,
    plainMicros: plain,
    pluginMicros: plugin,
    costMicros: median(runs.plugin.map((x, i) => x - runs.plain[i])),
    costPercent: (1 - plain / plugin) * 100,
    runs,
  };
  if (modes.every((m) => instructions[m].length === STACK_ALTERNATIONS)) {
    // What each part adds over plain (paired medians): the plugin installed with no flag evaluated,
    // req.evaluateFlag without recording, the full plugin (the last is the table's plugin column).
    const instructionsBreakdown = modes
      .filter((m) => m !== 'plain')
      .map((mode) => ({
        mode,
        instructions: median(instructions[mode]),
        overPlain: median(instructions[mode].map((x, i) => x - instructions.plain[i])),
      }));
    const plugin = instructionsBreakdown.find((b) => b.mode === 'plugin');
    const plainInstructions = median(instructions.plain);
    Object.assign(result, {
      plainInstructions,
      pluginInstructions: plugin.instructions,
      costInstructions: plugin.overPlain,
      costInstructionsPercent: (1 - plainInstructions / plugin.instructions) * 100,
      instructionsBreakdown,
      instructions,
    });
  }
  return result;
}

async function seedThousand(server, db) {
  const admin = adminClient(server.url, server.adminToken);
  const list = (await admin.get('/api/admin/deployment/feature-flags?environment=prod')).body;
  const count = Array.isArray(list) ? list.length : (list?.flags ?? list?.items ?? []).length;
  const flags = realisticFlags(1000 - count);
  psqlScript(db.name, await seedSql(flags, 'prod'));
  const trigger = flags.find((f) => f.key.includes('-rollout-'));
  await admin.put(`/api/admin/deployment/feature-flags/${trigger.key}?environment=prod`, {
    rolloutPercentage: 12.5,
  });
}

export async function run({ log }) {
  if (!postgresAvailable())
    return { error: 'Postgres not reachable at 127.0.0.1:5432 (this suite seeds it with psql)' };
  const db = createDatabase();
  let server;
  try {
    server = await startControlPlane({ storage: 'postgres', databaseUrl: db.url });
    const admin = adminClient(server.url, server.adminToken);
    const devKey = await admin.sdkKey('dev');
    const prodKey = await admin.sdkKey('prod');
    const prop = [];
    for (const streaming of [true, false]) {
      const r = await propagation(server, admin, devKey, streaming);
      log(
        `  propagation ${r.mode}: p50 ${fmt(r.ms.p50)} ms, p99 ${fmt(r.ms.p99)} ms over ${r.writes} writes`,
      );
      prop.push(r);
    }
    const mw = [];
    const plan = pinningPlan();
    if (plan) {
      pin(process.pid, plan.others);
      pin(server.pid, plan.others);
      log(
        `  overhead runs pinned: apps on CPU ${plan.app}, load generator and control plane on ${plan.others}`,
      );
    } else log('  overhead runs unpinned (taskset missing or one core)');
    for (const framework of ['fastify', 'express']) {
      const r = await overhead(framework, server, devKey, plan);
      if (!appBound(r))
        log(
          `  ${framework}: the plain app used ${fmt(busyShare(r) * 100, 0)}% of its core: not what limited the rate, so its loss says nothing about the plugin`,
        );
      log(
        `  ${framework}: ${fmt(r.plainRps, 0)} → ${fmt(r.pluginRps, 0)} rps (${fmt(r.rpsLostPercent)}% lost, paired ${fmt(r.pairedLossPercent)}%; vs outbound control ${fmt(r.outboundRps, 0)} rps, paired ${fmt(r.pairedLossVsOutboundPercent)}%), plugin ${fmt(r.pluginCostMicros)} µs CPU/request (${fmt(r.pluginCostVsOutboundMicros)} vs control); SDK HTTP inline ${fmt(r.inlineRps, 0)} rps, paired ${fmt(r.pairedLossInlinePercent)}%`,
      );
      log(
        `  ${framework} breakdown (rps lost, paired): ${r.breakdown.map((b) => `${b.mode} ${fmt(b.pairedLossPercent)}%`).join(', ')}`,
      );
      mw.push(r);
    }
    const h2h = [];
    for (const framework of ['fastify', 'express']) {
      const r = await headToHead(framework, server, devKey, plan);
      log(
        `  ${framework} head-to-head (rps lost, median of rounds): ${r.pairs.map((p) => `${p.b} ${fmt(p.lossPercent)}% [${fmt(p.minLossPercent)}, ${fmt(p.maxLossPercent)}] (mean ${ciText(p.losses)})`).join(', ')}`,
      );
      h2h.push(r);
    }
    // Alone on the machine but for the idle control plane (pinned or not, the same for both modes).
    const stack = [];
    for (const framework of ['fastify', 'express']) {
      const r = await stackCost(framework);
      if (r.error) log(`  ${framework} through its HTTP stack: ${r.error}`);
      else
        log(
          `  ${framework} through its HTTP stack, no network: ${fmt(r.plainMicros, 2)} → ${fmt(r.pluginMicros, 2)} µs CPU/request (plugin ${fmt(r.costMicros, 2)} µs, paired median)${
            r.plainInstructions === undefined
              ? ''
              : `; ${fmt(r.plainInstructions, 0)} → ${fmt(r.pluginInstructions, 0)} instructions/request (plugin ${fmt(r.costInstructions, 0)}, ${fmt(r.costInstructionsPercent)}%)`
          }`,
        );
      stack.push(r);
    }
    if (plan) {
      pin(process.pid, plan.all);
      pin(server.pid, plan.all);
    }
    const sdkWork = await runWorker(sdkWorkScript, CHURN_KIB.map(String), { timeoutMs: 180_000 });
    if (sdkWork.ok)
      log(
        `  SDK work per request (in process): ${fmt(sdkWork.microsPerRequest, 2)} µs${sdkWork.churned
          .map((c) => `; ${fmt(c.microsPerRequest, 2)} µs with ${c.kib} KiB churned between requests`)
          .join('')}`,
      );
    else log(`  SDK work per request: ${sdkWork.error}`);
    await seedThousand(server, db);
    const memory = await runWorker(
      memoryScript,
      [server.url, prodKey, String(MEMORY_SECONDS), String(USERS_PER_MINUTE)],
      {
        timeoutMs: (MEMORY_SECONDS + 60) * 1000,
      },
    );
    if (memory.ok) {
      const first = memory.samples[0];
      const last = memory.samples.at(-1);
      log(
        `  memory: RSS ${bytes(first.rss)} → ${bytes(last.rss)}, heap ${bytes(first.heapUsed)} → ${bytes(last.heapUsed)} over ${last.users - first.users} new users`,
      );
    } else log(`  memory: ${memory.error}`);
    return {
      propagation: prop,
      middleware: mw,
      headToHead: h2h,
      stack,
      sdkWork,
      memory,
      settings: {
        WRITES,
        POLL_MS,
        ALTERNATIONS,
        RUN_SECONDS,
        WARM_UP_REQUESTS,
        STACK_NEXT_REQUEST,
        CHURN_KIB,
        MEMORY_SECONDS,
        USERS_PER_MINUTE,
        pinning: plan,
      },
    };
  } finally {
    await server?.stop();
    db.drop();
  }
}

export function markdown(data) {
  const { propagation: prop, middleware: mw, memory, settings, sdkWork, stack, headToHead: h2h } = data;
  const out = [];
  out.push(
    `Propagation: PUT \`enabled\` of \`${FLAG}\` (dev, the default seed) until \`client.isEnabled\` returns the new value in a @rupaya/flags-node client in the bench process; ${settings.WRITES} sequential writes planned per mode (stopped after ${PHASE_BUDGET_MS / 1000} s if slower); target p99 < 100 ms streaming. Control plane on Postgres, in a child process.`,
  );
  out.push('');
  out.push(
    table(
      ['Mode', 'Writes', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'Target'],
      prop.map((r) => [
        r.mode,
        String(r.writes),
        fmt(r.ms.p50),
        fmt(r.ms.p95),
        fmt(r.ms.p99),
        fmt(r.ms.max),
        r.mode.startsWith('streaming')
          ? r.ms.p99 < 100
            ? 'p99 < 100 ms: yes'
            : 'p99 < 100 ms: no'
          : 'report (≈ interval / 2 + fetch)',
      ]),
    ),
  );
  out.push('');
  out.push(
    `Middleware overhead: hello-world app in its own process, plain vs. with the Rupaya plugin (request recording on, metrics sent to the control plane; the handler calls \`req.evaluateFlag('${CANARY}')\`), autocannon 10 connections, ${settings.RUN_SECONDS} s runs alternated ${settings.ALTERNATIONS}× each, fresh app processes every round (after ${warmUpText(settings)} each; identical processes can differ by up to ~25% in CPU per request for their whole life), medians; CPU from /proc of the app process. ${settings.pinning ? `Pinned with taskset: the app under load alone on CPU ${settings.pinning.app}, the load generator and the control plane on CPU ${settings.pinning.others} (unpinned, the scheduler moved them between the two cores run by run).` : 'Unpinned (taskset missing or one core).'} Target ≤ 5% fewer requests per second than the plain app. *Plain app busy* is its requests per second times its CPU per request: the share of its core it used. Below 90% the app was not what limited the rate (the load generator on the other core was, or the host), so its loss says nothing about the plugin and the target column says so. It says so too when the plugin app used less CPU per request than the plain app: a plugin cannot make a request cheaper, so those runs measured how fast each process happened to be, not the plugin (the head-to-head below is the measurement that holds up then). The plugin app's SDK client runs its HTTP on a worker thread (the default \`transport: 'worker'\`); the last columns are two controls: the plain app after one outgoing HTTP request on its main thread (GET of the control plane's /health with node:http), and the plugin app with \`transport: 'inline'\` (undici on the main thread, as before the worker). A main thread that has made an outgoing request often serves slower for the rest of its life — with undici consistently, 14–17% on Fastify in single-variable runs — which is why the SDK's HTTP moved off it.`,
  );
  out.push('');
  out.push(
    table(
      [
        'Framework',
        'Plain rps',
        'With plugin rps',
        'rps lost (medians)',
        'rps lost (paired, median)',
        '≤ 5%?',
        'Plain app busy',
        'CPU µs/req plain',
        'CPU µs/req plugin',
        'Plugin cost µs/req',
        'CPU µs/req outbound control',
        'rps lost vs outbound control (paired)',
        'Plugin cost vs control µs/req',
        'rps SDK HTTP inline',
        'rps lost, inline (paired)',
        'Runs ok',
      ],
      mw.map((r) => [
        r.framework,
        fmt(r.plainRps, 0),
        fmt(r.pluginRps, 0),
        `${fmt(r.rpsLostPercent)}%`,
        r.pairedLossPercent === undefined ? 'n/a' : `${fmt(r.pairedLossPercent)}%`,
        alternatedVerdict(r),
        `${fmt(busyShare(r) * 100, 0)}%`,
        fmt(r.plainCpuMicros),
        fmt(r.pluginCpuMicros),
        fmt(r.pluginCostMicros),
        r.outboundCpuMicros === undefined ? 'n/a' : fmt(r.outboundCpuMicros),
        r.pairedLossVsOutboundPercent === undefined ? 'n/a' : `${fmt(r.pairedLossVsOutboundPercent)}%`,
        r.pluginCostVsOutboundMicros === undefined ? 'n/a' : fmt(r.pluginCostVsOutboundMicros),
        r.inlineRps === undefined ? 'n/a' : fmt(r.inlineRps, 0),
        r.pairedLossInlinePercent === undefined ? 'n/a' : `${fmt(r.pairedLossInlinePercent)}%`,
        r.allOk ? 'ok' : 'errors',
      ]),
    ),
  );
  out.push('');
  const withBreakdown = mw.filter((r) => Array.isArray(r.breakdown));
  if (withBreakdown.length > 0) {
    out.push(
      "Where the plugin's cost goes, same runs (each app a fresh process every round, like the others): the client started and the plugin installed but no flag evaluated (so nothing to record); the handler's evaluation with `recordRequests: false`; and the full plugin app above (evaluation and recording). rps lost against the plain app of the same round, median of the rounds:",
    );
    out.push('');
    const rows = [];
    for (const r of withBreakdown) {
      for (const b of r.breakdown) {
        rows.push([
          r.framework,
          BREAKDOWN_LABEL[b.mode] ?? b.mode,
          fmt(b.rps, 0),
          fmt(b.cpuMicros),
          fmt(b.cpuMicros - r.plainCpuMicros),
          `${fmt(b.pairedLossPercent)}%`,
        ]);
      }
    }
    out.push(
      table(
        ['Framework', 'App', 'rps', 'CPU µs/req', 'CPU µs/req over plain', 'rps lost (paired, median)'],
        rows,
      ),
    );
    out.push('');
  }
  if (Array.isArray(h2h) && h2h.length > 0) {
    out.push(
      `Head-to-head, same control plane and apps: the plain app and another app at the same time, both pinned to CPU ${settings.pinning?.app ?? '(unpinned)'}, each loaded by its own autocannon (10 connections, ${settings.RUN_SECONDS} s after ${warmUpText(settings)}) from the bench process. Both stay busy, so the kernel gives each half the core and each serves requests in inverse proportion to its CPU per request, and whatever the host does meanwhile happens to both. Fresh processes every round; rps lost = 1 − rps(app) / rps(plain app) of the same round; median and range of the rounds, and their mean with its 95% confidence interval (Student's t), which tells a difference from the round-to-round noise. The do-nothing middleware (Express) or \`onRequest\` hook (Fastify) is not the plugin: it shows what the framework charges for the smallest conventional integration.${h2h.some((r) => r.pairs.some((p) => p.b === 'client')) ? " The SDK client started with no plugin (streaming, metrics on, the plain handler) is what the client's presence in the process costs, apart from any per-request work." : ''}${h2h.some((r) => r.pairs.some((p) => p.b === 'byhand')) ? " The plugin's work done by hand is an app without the plugin whose handler evaluates the flag with `client.evaluate` (the default context) and, after sending, records the request with `client.recordRequest` (latency timed from the handler's start): against it, the plugin's own glue shows; against the plain app, what evaluating and recording cost at the least." : ''} The last pair is the control: two plain apps, where the method should show 0%.`,
    );
    out.push('');
    const rows = [];
    for (const r of h2h) {
      for (const p of r.pairs) {
        rows.push([
          r.framework,
          h2hLabel(r.framework, p.b),
          String(p.rounds),
          `${fmt(p.lossPercent)}%`,
          `${fmt(p.minLossPercent)}% … ${fmt(p.maxLossPercent)}%`,
          ciText(p.losses),
          `${fmt(p.plainCpuMicros)} → ${fmt(p.otherCpuMicros)}`,
          p.b === 'plugin' ? (p.lossPercent <= 5 ? 'yes' : 'no') : '',
          p.ok ? 'ok' : 'errors',
        ]);
      }
    }
    out.push(
      table(
        [
          'Framework',
          'Against the plain app',
          'Rounds',
          'rps lost (median)',
          'Range',
          'Mean ± 95% CI',
          'CPU µs/req plain → app',
          '≤ 5%?',
          'Runs',
        ],
        rows,
      ),
    );
    out.push('');
  }
  if (Array.isArray(stack) && stack.length > 0) {
    out.push(
      `The plugin's CPU per request through each framework's real HTTP stack, without the network: the same hello-world apps in one process each, their server given a Duplex stream as its connection (Node's HTTP parser, real \`IncomingMessage\`/\`ServerResponse\`, the framework's routing; no kernel networking, no load generator sharing the core), one request in flight on a keep-alive connection (${stackNextRequestText(settings)}), 1,000 users cycled, bootstrap snapshot; plain and plugin processes (and, where instructions are counted, the breakdown apps) alternated ${STACK_ALTERNATIONS}× each, fresh each time, medians:`,
    );
    out.push('');
    const counted = stack.some((r) => r.plainInstructions !== undefined);
    out.push(
      table(
        [
          'Framework',
          'CPU µs/req plain',
          'CPU µs/req plugin',
          'Plugin µs/req (paired median)',
          'Share of the plugin app’s CPU',
          ...(counted
            ? [
                'Instructions/req plain',
                'Instructions/req plugin',
                'Plugin instructions/req (paired median)',
                'Share of the plugin app’s instructions',
              ]
            : []),
        ],
        stack.map((r) =>
          r.error
            ? [r.framework, 'n/a', 'n/a', r.error, 'n/a', ...(counted ? ['n/a', 'n/a', 'n/a', 'n/a'] : [])]
            : [
                r.framework,
                fmt(r.plainMicros, 2),
                fmt(r.pluginMicros, 2),
                fmt(r.costMicros, 2),
                `${fmt(r.costPercent)}%`,
                ...(counted
                  ? r.plainInstructions === undefined
                    ? ['n/a', 'n/a', 'n/a', 'n/a']
                    : [
                        fmt(r.plainInstructions, 0),
                        fmt(r.pluginInstructions, 0),
                        fmt(r.costInstructions, 0),
                        `${fmt(r.costInstructionsPercent)}%`,
                      ]
                  : []),
              ],
        ),
      ),
    );
    if (counted) {
      out.push('');
      out.push(
        "Instructions are counted by Linux perf (`perf stat -e instructions:u`, user space, every thread of the process) over the timed batches only: unlike CPU time, they hardly move between identical processes or with the VM's load, so they show most reliably what the plugin adds to a request. They are not cycles (cache misses and mispredicted branches cost time they do not count), but their share estimates what a CPU-bound server loses in requests per second; the HTTP runs above, with the load generator on the same two cores, lose less. Where the added instructions go (the breakdown apps of the HTTP runs, in the same alternation; paired medians over plain):",
      );
      out.push('');
      const rows = [];
      for (const r of stack) {
        for (const b of r.instructionsBreakdown ?? []) {
          rows.push([
            r.framework,
            BREAKDOWN_LABEL[b.mode] ?? b.mode,
            fmt(b.instructions, 0),
            fmt(b.overPlain, 0),
            `${fmt((b.overPlain / r.plainInstructions) * 100)}%`,
          ]);
        }
      }
      out.push(
        table(
          [
            'Framework',
            'App',
            'Instructions/req',
            'Over plain (paired median)',
            'Over plain, share of plain',
          ],
          rows,
        ),
      );
    }
    out.push('');
  }
  if (sdkWork?.ok) {
    out.push(
      `What the plugin itself does per request, measured in one process without HTTP (so without the load generator sharing the 2 cores): create the request's \`RequestFlags\`, build the default context from the headers, \`evaluate\` the canary (cohort marked, evaluation counted), \`record\` the request into its window — ${fmt(sdkWork.calls, 0)} requests, median of ${sdkWork.batches} batches: **${fmt(sdkWork.microsPerRequest, 2)} µs of CPU per request**. The HTTP runs above swing by tens of percent between identical runs on this machine; this is the part of their difference the plugin's code accounts for.`,
    );
    out.push('');
    if (Array.isArray(sdkWork.churned) && sdkWork.churned.length > 0) {
      out.push(
        `The same work when the CPU's caches do not hold the plugin's code and long-lived data (the client, the compiled flags, the metrics windows), as in a server, where the framework's, Node's and the kernel's work between two requests evicts them: before every request the loop reads other memory, one access per 64-byte line, in order; batches with and without the requests alternate, and the cost per request is the median of the pairs' differences (the middle half of the pairs in brackets). This, not the figure above, is the scale of the plugin's cost through a real HTTP stack:`,
      );
      out.push('');
      out.push(
        table(
          [
            'Other memory touched between requests',
            'Requests × pairs',
            'Plugin work µs/request',
            'Middle half',
          ],
          [
            [
              'none (the loop above)',
              `${fmt(sdkWork.calls, 0)} × ${sdkWork.batches} batches`,
              fmt(sdkWork.microsPerRequest, 2),
              '',
            ],
            ...sdkWork.churned.map((c) => [
              `${c.kib} KiB`,
              `${fmt(c.calls, 0)} × ${c.pairs}`,
              fmt(c.microsPerRequest, 2),
              `${fmt(c.q1, 2)} … ${fmt(c.q3, 2)}`,
            ]),
          ],
        ),
      );
      out.push('');
    }
  }
  if (memory?.ok) {
    const first = memory.samples[0];
    const last = memory.samples.at(-1);
    const newUsers = last.users - first.users;
    out.push(
      `Client memory: a streaming client with metrics on over the ${memory.keys}-flag snapshot, ${fmt(settings.USERS_PER_MINUTE, 0)} new distinct users per minute for ${settings.MEMORY_SECONDS} s (each 5 requests × 10 evaluations, recorded), separate process, \`gc()\` before each sample:`,
    );
    out.push('');
    out.push(
      table(
        ['t (s)', 'Users so far', 'RSS', 'Heap used'],
        memory.samples.map((s) => [fmt(s.t / 1000), fmt(s.users, 0), bytes(s.rss), bytes(s.heapUsed)]),
      ),
    );
    out.push('');
    out.push(
      `Growth over ${fmt(newUsers, 0)} new users: RSS ${bytes(last.rss - first.rss)}, heap ${bytes(last.heapUsed - first.heapUsed)} (${fmt((((last.heapUsed - first.heapUsed) / Math.max(newUsers, 1)) * 10_000) / 1024 / 1024, 2)} MB of heap per 10,000 users).`,
    );
  } else {
    out.push(`Client memory: not measured — ${memory?.error ?? 'no result'}`);
  }
  return out.join('\n');
}
