// Suite `experiments` (issue 7): analysis of one experiment with 1,000,000 units, 4 variants and 3
// metrics on Postgres — statistical-significance from the maintained statistics, and a cold rebuild
// from the per-unit rows. The units are written by SQL (generate_series) into the per-unit tables the
// ingest fills; the rebuild route then derives the statistics from them. Server in a child process.
import { performance } from 'node:perf_hooks';
import { fmt, table } from '../lib/format.mjs';
import { createDatabase, postgresAvailable, psqlScript } from '../lib/pg.mjs';
import { adminClient, startControlPlane } from '../lib/server.mjs';
import { summarize } from '../lib/stats.mjs';

export const name = 'experiments';
export const title = 'Experiment analysis (issue 7)';

const UNITS = 1_000_000;
const KEY = 'experiment.bench-analysis';
const ENV = 'dev';
const VARIANTS = ['control', 'variant_a', 'variant_b', 'variant_c'];
const ANALYSES = 20;

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

export async function run({ log }) {
  if (!postgresAvailable()) return { error: 'Postgres not reachable at 127.0.0.1:5432' };
  const db = createDatabase();
  let server;
  try {
    server = await startControlPlane({ storage: 'postgres', databaseUrl: db.url });
    const admin = adminClient(server.url, server.adminToken);
    await admin.post(`/api/admin/deployment/feature-flags?environment=${ENV}`, {
      key: KEY,
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
    return {
      units: UNITS,
      variants: VARIANTS.length,
      metrics: 3,
      seedSeconds: seed.ms / 1000,
      rebuildMs: rebuild.ms,
      rebuildResponse: JSON.stringify(rebuild.value.body).slice(0, 300),
      analysisMs: analysis,
      sample: JSON.stringify(body).slice(0, 600),
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
        ['Ingest of 10,000 events/s sustained', 'not measured in this session', 'no loss', 'n/a'],
      ],
    ),
  );
  return out.join('\n');
}
