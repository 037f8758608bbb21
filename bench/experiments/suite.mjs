// Suite `experiments` (issue 7): analysis of one experiment with 1,000,000 units, 4 variants and 3
// metrics on Postgres — statistical-significance from the maintained statistics, and a cold rebuild
// from the per-unit rows. The units are written by SQL (generate_series) into the per-unit tables the
// ingest fills; the rebuild route then derives the statistics from them. Server in a child process.
// Then ingest: real @rupaya/flags-node clients in child processes (ingest-worker.mjs) send exposures
// and tracked events at a fixed total rate to a fresh control plane on Postgres; every record is
// accounted for in the database afterwards.
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { runWorker } from '../lib/child.mjs';
import { fmt, table } from '../lib/format.mjs';
import { createDatabase, postgresAvailable, psqlQuery, psqlScript } from '../lib/pg.mjs';
import { cpuMicros } from '../lib/proc.mjs';
import { adminClient, startControlPlane } from '../lib/server.mjs';
import { summarize } from '../lib/stats.mjs';

export const name = 'experiments';
export const title = 'Experiment analysis (issue 7)';

const UNITS = 1_000_000;
const KEY = 'experiment.bench-analysis';
const ENV = 'dev';
const VARIANTS = ['control', 'variant_a', 'variant_b', 'variant_c'];
const ANALYSES = 20;

// Ingest run: total records (exposures + tracked events) per second, for how long, over how many
// client processes. RUPAYA_BENCH_INGEST_RATE / _SECONDS / _CLIENTS override (e.g. to find the limit).
const INGEST_RATE = Number(process.env.RUPAYA_BENCH_INGEST_RATE ?? 10_000);
const INGEST_SECONDS = Number(process.env.RUPAYA_BENCH_INGEST_SECONDS ?? 30);
const INGEST_CLIENTS = Number(process.env.RUPAYA_BENCH_INGEST_CLIENTS ?? 4);
const INGEST_KEY = 'experiment.bench-ingest';
const ingestWorker = fileURLToPath(new URL('./ingest-worker.mjs', import.meta.url));

function seedScript() {
  const variants = `(ARRAY[${VARIANTS.map((v) => `'${v}'`).join(',')}])[1 + (g % 4)]`;
  return `
BEGIN;
INSERT INTO experiment_results (environment, experiment_key, unit_key, variant, first_exposure_at, last_exposure_at, exposures)
  SELECT '${ENV}', '${KEY}', 'unit-' || g, ${variants}, now() - interval '3 days', now(), 1 + (g % 3)
  FROM generate_series(1::bigint, ${UNITS}::bigint) AS g;
-- purchase (conversion): ~10% of units, a little more in variant_b; revenue (mean): the buyers' values;
-- clicks (count): a third of the units. Each per-unit metric row carries its unit's variant, as ingest
-- writes it.
INSERT INTO experiment_unit_metrics (environment, experiment_key, unit_key, variant, event, count, sum)
  SELECT '${ENV}', '${KEY}', 'unit-' || g, ${variants}, 'purchase', 1, 0
  FROM generate_series(1::bigint, ${UNITS}::bigint) AS g WHERE (g * 7919) % 100 < CASE WHEN g % 4 = 2 THEN 11 ELSE 10 END;
INSERT INTO experiment_unit_metrics (environment, experiment_key, unit_key, variant, event, count, sum)
  SELECT '${ENV}', '${KEY}', 'unit-' || g, ${variants}, 'revenue', 1, 20 + ((g * 104729) % 8000) / 100.0
  FROM generate_series(1::bigint, ${UNITS}::bigint) AS g WHERE (g * 7919) % 100 < CASE WHEN g % 4 = 2 THEN 11 ELSE 10 END;
INSERT INTO experiment_unit_metrics (environment, experiment_key, unit_key, variant, event, count, sum)
  SELECT '${ENV}', '${KEY}', 'unit-' || g, ${variants}, 'clicks', 1 + (g % 5), 1 + (g % 5)
  FROM generate_series(1::bigint, ${UNITS}::bigint) AS g WHERE g % 3 = 0;
COMMIT;
ANALYZE experiment_results;
ANALYZE experiment_unit_metrics;
`;
}

async function timed(fn) {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

/** The 4-variant, 3-metric experiment both parts of the suite create (key and environment aside). */
const EXPERIMENT_DEFINITION = {
  type: 'string',
  enabled: true,
  variants: VARIANTS.map((v) => ({ key: v, value: v, weight: 25_000 })),
  defaultVariant: 'control',
  offVariant: 'control',
  experiment: {
    primaryMetric: { event: 'purchase', kind: 'conversion', direction: 'increase' },
    secondaryMetrics: [
      { event: 'revenue', kind: 'mean', direction: 'increase' },
      { event: 'clicks', kind: 'count', direction: 'increase' },
    ],
    minimumDetectableEffect: 0.05,
  },
};

/** User + system CPU of the database's Postgres backends (those alive now), by pid. */
function backendCpu(database) {
  const pids = psqlQuery(
    database,
    'SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
  ).map((r) => Number(r[0]));
  return new Map(pids.map((pid) => [pid, cpuMicros(pid) ?? 0]));
}

/**
 * Ingest at INGEST_RATE records/s for INGEST_SECONDS through INGEST_CLIENTS real SDK clients, against
 * a fresh control plane on Postgres; then every record is looked for in the database.
 */
export async function measureIngest(log) {
  const db = createDatabase();
  let server;
  try {
    server = await startControlPlane({ storage: 'postgres', databaseUrl: db.url });
    const admin = adminClient(server.url, server.adminToken);
    await admin.post(`/api/admin/deployment/feature-flags?environment=${ENV}`, {
      key: INGEST_KEY,
      ...EXPERIMENT_DEFINITION,
    });
    const sdkKey = await admin.sdkKey(ENV);
    const pgBefore = backendCpu(db.name);
    const cpu0 = cpuMicros(server.pid);
    const t0 = performance.now();
    const perClient = INGEST_RATE / INGEST_CLIENTS;
    // Every client process starts generating at the same time, once all are ready.
    const startAt = String(Date.now() + 5000);
    const workers = await Promise.all(
      Array.from({ length: INGEST_CLIENTS }, (_, i) =>
        runWorker(
          ingestWorker,
          [server.url, sdkKey, INGEST_KEY, String(i), String(perClient), String(INGEST_SECONDS), startAt],
          { timeoutMs: (INGEST_SECONDS + 120) * 1000, nodeArgs: [] },
        ),
      ),
    );
    const wallSec = (performance.now() - t0) / 1000;
    const serverCpu = cpuMicros(server.pid) - cpu0;
    const pgAfter = backendCpu(db.name);
    let pgCpu = 0;
    for (const [pid, us] of pgAfter) pgCpu += us - (pgBefore.get(pid) ?? 0);
    const failed = workers.find((w) => !w.ok);
    if (failed) throw new Error(failed.error);

    const sum = (k) => workers.reduce((s, w) => s + w[k], 0);
    const sent = {
      records: sum('records'),
      units: sum('units'),
      exposures: sum('exposures'),
      clicks: sum('clicks'),
      purchase: sum('purchase'),
      revenue: sum('revenue'),
      revenueSum: sum('revenueSum'),
    };
    const events = sent.clicks + sent.purchase + sent.revenue;
    const byVariant = {};
    for (const w of workers)
      for (const [v, n] of Object.entries(w.byVariant)) byVariant[v] = (byVariant[v] ?? 0) + n;
    const generatedSec = Math.max(...workers.map((w) => w.generatedMs)) / 1000;
    const drainMs = Math.max(...workers.map((w) => w.drainMs));
    const latency = summarize(workers.flatMap((w) => w.latencies));
    const statuses = {};
    for (const w of workers)
      for (const [code, n] of Object.entries(w.statuses)) statuses[code] = (statuses[code] ?? 0) + n;

    // What the database holds.
    const q = (text) => psqlQuery(db.name, text);
    const one = (text) => Number(q(text)[0]?.[0] ?? 0);
    const where = `environment = '${ENV}' AND experiment_key = '${INGEST_KEY}'`;
    const db_ = {
      unitRows: one(`SELECT count(*) FROM experiment_results WHERE ${where}`),
      exposures: one(`SELECT coalesce(sum(exposures), 0) FROM experiment_results WHERE ${where}`),
      conflicting: one(`SELECT count(*) FROM experiment_results WHERE ${where} AND conflicting`),
      metricRows: one(`SELECT count(*) FROM experiment_unit_metrics WHERE ${where}`),
      pending: one('SELECT count(*) FROM experiment_pending_events'),
      batches: one('SELECT count(*) FROM experiment_batches'),
      acceptedExposures: one(
        "SELECT coalesce(sum(accepted), 0) FROM experiment_batches WHERE kind = 'exposures'",
      ),
      acceptedEvents: one("SELECT coalesce(sum(accepted), 0) FROM experiment_batches WHERE kind = 'events'"),
    };
    const perEvent = Object.fromEntries(
      q(
        `SELECT event, sum(count), sum(sum), count(*) FROM experiment_unit_metrics WHERE ${where} GROUP BY event`,
      ).map((r) => [r[0], { count: Number(r[1]), sum: Number(r[2]), units: Number(r[3]) }]),
    );
    const maintainedUnits = Object.fromEntries(
      q(`SELECT variant, units, exposures FROM experiment_variant_units WHERE ${where}`).map((r) => [
        r[0],
        { units: Number(r[1]), exposures: Number(r[2]) },
      ]),
    );
    const statsQuery = `SELECT event, sum(converted), sum(sum_count), sum(sum_value), sum(sum_count_squares), sum(sum_value_squares)
      FROM experiment_metric_stats WHERE ${where} GROUP BY event ORDER BY event`;
    const readStats = () =>
      Object.fromEntries(
        q(statsQuery).map((r) => [
          r[0],
          {
            converted: Number(r[1]),
            count: Number(r[2]),
            sum: Number(r[3]),
            countSq: Number(r[4]),
            sumSq: Number(r[5]),
          },
        ]),
      );
    const maintained = readStats();
    // Committed records per second (batch transactions' start time), over the generation window.
    const perSecond = q(
      `SELECT extract(epoch FROM date_trunc('second', received_at))::bigint, sum(accepted)
       FROM experiment_batches GROUP BY 1 ORDER BY 1`,
    ).map((r) => Number(r[1]));
    // Rows written, from the table statistics (inserts and in-place updates).
    await new Promise((r) => setTimeout(r, 1500));
    const written = Object.fromEntries(
      q(`SELECT relname, n_tup_ins, n_tup_upd FROM pg_stat_user_tables
         WHERE relname IN ('experiment_results', 'experiment_unit_metrics', 'experiment_metric_stats',
           'experiment_variant_units', 'experiment_batches', 'experiment_pending_events') ORDER BY relname`).map(
        (r) => [r[0], { inserted: Number(r[1]), updated: Number(r[2]) }],
      ),
    );
    // The maintained statistics equal a cold rebuild from the per-unit rows.
    await admin.post(`/api/admin/deployment/experiments/${INGEST_KEY}/rebuild?environment=${ENV}`, {});
    const rebuilt = readStats();

    const checks = [
      ['SDK dropped no record', workers.every((w) => w.sdk.dropped === 0)],
      [
        'no batch rejected, every ingest POST answered 202',
        workers.every((w) => w.sdk.rejected === 0) && Object.keys(statuses).every((c) => c === '202'),
      ],
      ['one unit row per unit', db_.unitRows === sent.units],
      [
        'every exposure counted',
        db_.exposures === sent.exposures && db_.acceptedExposures === sent.exposures,
      ],
      ['every event accepted once', db_.acceptedEvents === events],
      ['clicks per unit sum to the clicks sent', perEvent.clicks?.count === sent.clicks],
      ['purchases per unit sum to the purchases sent', perEvent.purchase?.count === sent.purchase],
      [
        'revenue per unit sums to the values sent',
        perEvent.revenue?.count === sent.revenue && perEvent.revenue?.sum === sent.revenueSum,
      ],
      ['no event left pending, no unit excluded', db_.pending === 0 && db_.conflicting === 0],
      [
        'maintained units per variant = units sent per variant',
        VARIANTS.every((v) => (maintainedUnits[v]?.units ?? 0) === (byVariant[v] ?? 0)),
      ],
      [
        'maintained statistics count every event and buyer',
        maintained.clicks?.count === sent.clicks &&
          maintained.purchase?.converted === sent.purchase &&
          maintained.revenue?.sum === sent.revenueSum,
      ],
      ['maintained statistics = cold rebuild', JSON.stringify(maintained) === JSON.stringify(rebuilt)],
    ];
    const lossless = checks.every(([, ok]) => ok);
    const result = {
      targetRate: INGEST_RATE,
      seconds: INGEST_SECONDS,
      clients: INGEST_CLIENTS,
      generatedSec,
      drainMs,
      wallSec,
      sent: { ...sent, events },
      offeredRate: sent.records / generatedSec,
      achievedRate: sent.records / (generatedSec + drainMs / 1000),
      perSecond: { n: perSecond.length, min: Math.min(...perSecond.slice(2, -2)), series: perSecond },
      maxBacklog: Math.max(...workers.map((w) => w.maxBacklog)),
      lateStartMs: Math.max(...workers.map((w) => w.lateMs)),
      serverCpuMsPer1000: serverCpu / 1000 / (sent.records / 1000),
      postgresCpuMsPer1000: pgCpu / 1000 / (sent.records / 1000),
      // Cores busy on average while records flowed (generation + drain).
      serverCores: serverCpu / 1e6 / (generatedSec + drainMs / 1000),
      postgresCores: pgCpu / 1e6 / (generatedSec + drainMs / 1000),
      latencyMs: latency,
      posts: latency.n,
      statuses,
      sdk: workers.map((w) => w.sdk),
      warnings: sum('warnings'),
      warningSamples: workers.flatMap((w) => w.warningSamples).slice(0, 5),
      clientLoopDelayMaxMs: Math.max(...workers.map((w) => w.loopDelayMs.max)),
      db: db_,
      written,
      lossless,
      failedChecks: checks.filter(([, ok]) => !ok).map(([what]) => what),
    };
    log(
      `  ingest: ${fmt(result.achievedRate, 0)} records/s (offered ${fmt(result.offeredRate, 0)}) for ${fmt(generatedSec, 1)} s + ${fmt(drainMs, 0)} ms drain, ` +
        `server CPU ${fmt(result.serverCpuMsPer1000, 2)} ms / 1,000, Postgres ${fmt(result.postgresCpuMsPer1000, 2)} ms / 1,000, ` +
        `p99 ${fmt(latency.p99)} ms, ${lossless ? 'no loss' : `LOSS: ${result.failedChecks.join('; ')}`}`,
    );
    return result;
  } catch (error) {
    return { error: String(error?.stack ?? error), serverOutput: server?.output().slice(-800) };
  } finally {
    await server?.stop();
    db.drop();
  }
}

export async function run({ log }) {
  if (!postgresAvailable()) return { error: 'Postgres not reachable at 127.0.0.1:5432' };
  const db = createDatabase();
  let server;
  try {
    server = await startControlPlane({ storage: 'postgres', databaseUrl: db.url });
    const admin = adminClient(server.url, server.adminToken);
    await admin.post(`/api/admin/deployment/feature-flags?environment=${ENV}`, {
      key: KEY,
      ...EXPERIMENT_DEFINITION,
    });
    const seed = await timed(async () => psqlScript(db.name, seedScript()));
    log(`  seeded ${UNITS.toLocaleString('en-US')} units (SQL) in ${(seed.ms / 1000).toFixed(1)} s`);
    const base = `/api/admin/deployment/experiments/${KEY}`;
    const rebuild = await timed(() => admin.post(`${base}/rebuild?environment=${ENV}`, {}));
    log(`  cold rebuild: ${fmt(rebuild.ms)} ms`);
    // Warm once, then time the analysis from the maintained statistics.
    const first = await admin.get(`${base}/statistical-significance?environment=${ENV}`);
    const times = [];
    for (let i = 0; i < ANALYSES; i++) {
      times.push((await timed(() => admin.get(`${base}/statistical-significance?environment=${ENV}`))).ms);
    }
    const analysis = summarize(times);
    log(`  statistical-significance: p50 ${fmt(analysis.p50)} ms, p95 ${fmt(analysis.p95)} ms`);
    const body = first.body;
    await server.stop();
    server = undefined;
    db.drop();
    log(
      `  ingest: ${fmt(INGEST_RATE, 0)} records/s for ${INGEST_SECONDS} s from ${INGEST_CLIENTS} SDK client processes…`,
    );
    const ingest = await measureIngest(log);
    return {
      units: UNITS,
      variants: VARIANTS.length,
      metrics: 3,
      seedSeconds: seed.ms / 1000,
      rebuildMs: rebuild.ms,
      rebuildResponse: JSON.stringify(rebuild.value.body).slice(0, 300),
      analysisMs: analysis,
      sample: JSON.stringify(body).slice(0, 600),
      ingest,
    };
  } catch (error) {
    return { error: String(error?.stack ?? error), serverOutput: server?.output().slice(-800) };
  } finally {
    await server?.stop();
    db.drop();
  }
}

export function markdown(d) {
  if (d.error) return `Not measured: \`${d.error.split('\n')[0]}\``;
  const out = [];
  out.push(
    `One experiment with ${fmt(d.units, 0)} units, ${d.variants} variants and ${d.metrics} metrics (purchase conversion, revenue mean, clicks count) on Postgres; units written by SQL into the per-unit tables (${fmt(d.seedSeconds, 1)} s), statistics derived by the rebuild route, analysis timed over HTTP on loopback (${ANALYSES} calls after one warm-up).`,
  );
  out.push('');
  out.push(
    table(
      ['Measure', 'Result', 'Target', 'Met?'],
      [
        [
          '`statistical-significance` from the maintained statistics',
          `p50 ${fmt(d.analysisMs.p50)} ms, p95 ${fmt(d.analysisMs.p95)} ms`,
          '< 50 ms',
          d.analysisMs.p50 < 50 ? 'yes' : 'no',
        ],
        [
          'Cold rebuild from the per-unit rows (`POST …/rebuild`)',
          `${fmt(d.rebuildMs)} ms`,
          '< 2 s',
          d.rebuildMs < 2000 ? 'yes' : 'no',
        ],
        ingestRow(d.ingest),
      ],
    ),
  );
  if (d.ingest && !d.ingest.error) out.push('', ...ingestDetails(d.ingest));
  return out.join('\n');
}

/**
 * Kept up: the offered rate reached, every record stored, and the clients' backlog gone within 3 s
 * (3 flush intervals) of the end. A control plane slower than the offered rate by more than ~1,300
 * records/s would also overflow the clients' 10,000-record buffers within the 30 s (→ loss).
 */
function ingestMet(i) {
  return i.lossless && i.offeredRate >= 0.99 * i.targetRate && i.drainMs < 3000;
}

function ingestRow(i) {
  const what = `Ingest of ${fmt(i?.targetRate ?? INGEST_RATE, 0)} events/s sustained (exposures + tracked events through the SDK ingest endpoints)`;
  if (!i) return [what, 'not measured', 'no loss', 'n/a'];
  if (i.error) return [what, `not measured: \`${i.error.split('\n')[0]}\``, 'no loss', 'n/a'];
  return [
    what,
    `${fmt(i.offeredRate, 0)}/s offered for ${fmt(i.generatedSec, 0)} s; ${i.lossless ? 'all' : 'NOT all'} ${fmt(i.sent.records, 0)} records stored ${fmt(i.drainMs, 0)} ms after the last was generated (${fmt(i.achievedRate, 0)}/s end to end); ingest POST p99 ${fmt(i.latencyMs.p99)} ms; server CPU ${fmt(i.serverCpuMsPer1000, 1)} ms and Postgres ${fmt(i.postgresCpuMsPer1000, 1)} ms per 1,000 events`,
    `${fmt(i.targetRate, 0)}/s, no loss`,
    ingestMet(i) ? 'yes' : 'no',
  ];
}

function ingestDetails(i) {
  const w = i.written;
  const rows = (t) => (w[t] ? `${fmt(w[t].inserted, 0)} inserted, ${fmt(w[t].updated, 0)} updated` : 'n/a');
  const perSecond = [...i.perSecond.series].slice(2, -2).sort((a, b) => a - b);
  return [
    `Ingest: ${i.clients} real @rupaya/flags-node clients in child processes (\`flushIntervalMs\` 1000, default 10,000-record buffer), ${fmt(i.targetRate / i.clients, 0)} records/s each for ${i.seconds} s, against a fresh control plane on Postgres (child process). Each simulated visit is a new unit: \`client.variant\` on a 4-variant experiment (one exposure), 1–3 \`clicks\`, for ~10% a \`purchase\` and a \`revenue\` value; ~30% of visits add a \`clicks\` for a unit seen 1–3 s earlier. POST latency is request → response headers, from undici's diagnostics channels in the clients; CPU from /proc of the server process and of the database's Postgres backends. Met: the offered rate reached, every record found in the database, the clients' backlog gone within 3 s of the end.`,
    '',
    table(
      ['Ingest measure', 'Result'],
      [
        [
          'Records sent',
          `${fmt(i.sent.records, 0)}: ${fmt(i.sent.exposures, 0)} exposures (${fmt(i.sent.units, 0)} units), ${fmt(i.sent.events, 0)} events (${fmt(i.sent.clicks, 0)} clicks, ${fmt(i.sent.purchase, 0)} purchases, ${fmt(i.sent.revenue, 0)} revenue)`,
        ],
        [
          'Stored per second (batches by transaction start)',
          `median ${fmt(perSecond[Math.floor(perSecond.length / 2)], 0)}, min ${fmt(perSecond[0], 0)}, max ${fmt(perSecond[perSecond.length - 1], 0)} (first and last 2 s left out)`,
        ],
        [
          'Ingest POSTs',
          `${fmt(i.posts, 0)}; p50 ${fmt(i.latencyMs.p50)} ms, p95 ${fmt(i.latencyMs.p95)} ms, p99 ${fmt(i.latencyMs.p99)} ms, max ${fmt(i.latencyMs.max)} ms`,
        ],
        ['Largest client backlog (records buffered)', fmt(i.maxBacklog, 0)],
        [
          'CPU per 1,000 events',
          `server ${fmt(i.serverCpuMsPer1000, 1)} ms (${fmt(i.serverCores, 2)} cores busy), Postgres backends ${fmt(i.postgresCpuMsPer1000, 1)} ms (${fmt(i.postgresCores, 2)} cores)`,
        ],
        ['Rows: experiment_results (one per unit)', rows('experiment_results')],
        ['Rows: experiment_unit_metrics (one per unit and event)', rows('experiment_unit_metrics')],
        [
          'Rows: experiment_metric_stats / experiment_variant_units',
          `${rows('experiment_metric_stats')} / ${rows('experiment_variant_units')}`,
        ],
        ['Rows: experiment_batches (idempotency)', rows('experiment_batches')],
        [
          'Loss checks',
          i.lossless
            ? 'none failed: every unit, exposure and event in the per-unit rows, maintained statistics count every unit, event and buyer, equal a cold rebuild; SDK dropped 0, every POST 202'
            : `FAILED: ${i.failedChecks.join('; ')}`,
        ],
      ],
    ),
  ];
}
