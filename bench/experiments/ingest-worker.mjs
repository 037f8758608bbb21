// One load-generating process of the experiments ingest run: a real @rupaya/flags-node client (its
// own reporter batches exposures and events and posts them to the SDK ingest endpoints), driven at a
// fixed rate of records per second. Each simulated visit is a new unit: `client.variant` on the
// experiment flag (→ one exposure), 1–3 `clicks`, and for ~10% of units a `purchase` plus a `revenue`
// value; ~30% of visits also track one `clicks` for a unit seen 1–3 s earlier (an update of an
// existing per-unit row). Latency of every ingest POST is taken from undici's diagnostics channels
// (request created → response headers), so the SDK runs unmodified.
//
// `node ingest-worker.mjs <url> <sdkKey> <flagKey> <index> <records/s> <seconds> <start epoch ms>`
// (every worker starts generating at the same wall-clock time); prints one JSON line: units, records
// and values generated, the SDK's own counters and the latencies.
import diagnostics from 'node:diagnostics_channel';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { createClient } from '@rupaya/flags-node';
import { prng } from '../lib/stats.mjs';

const [url, sdkKey, flagKey, indexArg, rateArg, secondsArg, startArg] = process.argv.slice(2);
const index = Number(indexArg);
const rate = Number(rateArg);
const seconds = Number(secondsArg);
const INGEST_PATHS = ['/api/sdk/v1/exposures', '/api/sdk/v1/events'];

// Ingest POST latencies (ms) and statuses, from undici's diagnostics channels.
const started = new WeakMap();
const latencies = [];
const statuses = {};
diagnostics.subscribe('undici:request:create', ({ request }) => {
  if (INGEST_PATHS.includes(request.path)) started.set(request, performance.now());
});
diagnostics.subscribe('undici:request:headers', ({ request, response }) => {
  const t0 = started.get(request);
  if (t0 === undefined) return;
  started.delete(request);
  latencies.push(performance.now() - t0);
  statuses[response.statusCode] = (statuses[response.statusCode] ?? 0) + 1;
});

let warnings = 0;
const warningSamples = [];
const warn = (message) => {
  warnings++;
  if (warningSamples.length < 5) warningSamples.push(String(message).slice(0, 300));
};
const logger = { debug() {}, info() {}, warn, error: warn };
const client = createClient({
  url,
  sdkKey,
  instanceId: `bench-ingest-${index}`,
  logger,
  // A service producing thousands of records per second flushes every second (the default is the
  // snapshot's metricsFlushMs, 10 s); the buffer bound stays the default 10,000 records, so a
  // control plane that falls behind shows up as dropped records.
  metrics: { flushIntervalMs: 1000 },
});
client.on('error', () => {});
const state = await client.ready({ timeoutMs: 30_000 });
if (state !== 'READY') {
  console.log(JSON.stringify({ ok: false, error: `client not ready: ${state}` }));
  process.exit(1);
}

const random = prng(1000 + index);
const counts = { units: 0, exposures: 0, clicks: 0, purchase: 0, revenue: 0, revenueSum: 0, returning: 0 };
const byVariant = {};
const recent = []; // [unitKey, at] of the last ~3 s
let records = 0;
let maxBacklog = 0;

function visit(now) {
  const unit = `w${index}-u${counts.units++}`;
  const variant = client.variant(flagKey, { userId: unit });
  byVariant[variant] = (byVariant[variant] ?? 0) + 1;
  counts.exposures++;
  records++;
  const clicks = 1 + Math.floor(random() * 3);
  for (let c = 0; c < clicks; c++) client.track('clicks', { userId: unit });
  counts.clicks += clicks;
  records += clicks;
  if (random() < 0.1) {
    const value = 20 + Math.floor(random() * 80); // whole amounts: sums compare exactly
    client.track('purchase', { userId: unit });
    client.track('revenue', { userId: unit }, value);
    counts.purchase++;
    counts.revenue++;
    counts.revenueSum += value;
    records += 2;
  }
  if (random() < 0.3 && recent.length > 0 && now - recent[0][1] >= 1000) {
    client.track('clicks', { userId: recent[0][0] });
    counts.clicks++;
    counts.returning++;
    records++;
  }
  recent.push([unit, now]);
  while (recent.length > 0 && now - recent[0][1] > 3000) recent.shift();
}

// This process's own event-loop delay: a stalled load generator would make its requests look slow.
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();
const lateMs = Date.now() - Number(startArg);
if (lateMs < 0) await new Promise((r) => setTimeout(r, -lateMs));
const t0 = performance.now();
const end = t0 + seconds * 1000;
const reporter = client.metrics;
await new Promise((resolve) => {
  const tick = () => {
    const now = performance.now();
    const due = Math.min(now, end) - t0;
    while (records < (due / 1000) * rate) visit(now);
    maxBacklog = Math.max(maxBacklog, reporter?.buffered ?? 0);
    if (now >= end) resolve();
    else setTimeout(tick, 5);
  };
  tick();
});
const generatedMs = performance.now() - t0;
const backlogAtEnd = reporter?.buffered ?? 0;
// Send what is left (the current partial second), then report.
const drainStart = performance.now();
await client.close();
const drainMs = performance.now() - drainStart;
console.log(
  JSON.stringify({
    ok: true,
    index,
    generatedMs,
    records,
    lateMs: Math.max(0, lateMs),
    ...counts,
    byVariant,
    maxBacklog,
    backlogAtEnd,
    drainMs,
    sdk: {
      batchesSent: reporter?.sent ?? null,
      rejected: reporter?.rejected ?? null,
      dropped: reporter?.dropped ?? null,
    },
    warnings,
    warningSamples,
    loopDelayMs: { p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 },
    statuses,
    latencies,
  }),
);
