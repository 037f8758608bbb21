// The plugin's own work per request, in one process and without HTTP: what @rupaya/flags-fastify and
// @rupaya/flags-express do for a request (RequestFlags, default context from headers, one evaluation
// of a canary, the request recorded into its metrics window). The client has metrics on and a
// bootstrap snapshot; it sends nothing during the run (flush interval of an hour). Prints one JSON line.
// `node sdk-work.mjs [KiB ...]`: also the same work with that many KiB of other memory touched before
// every request (see `churned`).
import { defaultRequestContext, RequestFlags } from '@rupaya/flags-node';
import { median, quantile } from '../lib/stats.mjs';
import { benchClient, FLAG } from './bench-client.mjs';

const client = benchClient();

// 1,000 users cycled (both cohorts), the headers a request carries.
const requests = Array.from({ length: 1000 }, (_, i) => ({
  headers: { host: '127.0.0.1', accept: '*/*', 'x-user-id': `user-${i}` },
}));

function oneRequest(req) {
  const flags = new RequestFlags(client, defaultRequestContext, req);
  const result = flags.evaluate(FLAG);
  flags.record('/hello', 'GET', 200, 0.4);
  return result.enabled;
}

const CALLS = 200_000;
const BATCHES = 9;
let u = 0;
const batch = () => {
  const c0 = process.cpuUsage();
  let on = 0;
  for (let i = 0; i < CALLS; i++) {
    if (oneRequest(requests[u])) on++;
    if (++u === requests.length) u = 0;
  }
  const c = process.cpuUsage(c0);
  return { micros: (c.user + c.system) / CALLS, on };
};
for (let i = 0; i < 3; i++) batch(); // warm-up
const samples = [];
for (let i = 0; i < BATCHES; i++) samples.push(batch().micros);
globalThis.gc?.();
const before = process.memoryUsage().heapUsed;
const { on } = batch();
const bytesPerRequest = Math.max(0, process.memoryUsage().heapUsed - before) / CALLS;

/** Requests per batch and pairs of batches of the churned runs. */
const CHURNED_CALLS = 10_000;
const CHURNED_PAIRS = 20;

/**
 * The same work with `kib` KiB of other memory read (one access per 64-byte line, in order) before
 * every request. A server's other work between two requests (the framework, Node's HTTP code, the
 * kernel's networking, their allocations) does this to the CPU's caches: the plugin's code and
 * long-lived data (the client, the compiled flags, the metrics windows) are no longer where the
 * loop above leaves them. Batches with and without the requests alternate; the cost per request
 * is the median of the pairs' differences (and the spread of the middle half).
 */
function churned(kib) {
  const memory = new Float64Array((kib * 1024) / 8).fill(1);
  let touched = 0;
  const run = (withRequests) => {
    const c0 = process.cpuUsage();
    for (let i = 0; i < CHURNED_CALLS; i++) {
      let read = 0;
      for (let k = 0; k < memory.length; k += 8) read += memory[k];
      touched += read;
      if (withRequests) {
        oneRequest(requests[u]);
        if (++u === requests.length) u = 0;
      }
    }
    const c = process.cpuUsage(c0);
    return (c.user + c.system) / CHURNED_CALLS;
  };
  for (let i = 0; i < 2; i++) {
    run(false);
    run(true);
  }
  const diffs = [];
  for (let i = 0; i < CHURNED_PAIRS; i++) {
    // Alternate which of the pair runs first.
    if (i % 2 === 0) {
      const without = run(false);
      diffs.push(run(true) - without);
    } else {
      const withRequests = run(true);
      diffs.push(withRequests - run(false));
    }
  }
  if (touched === 0) throw new Error('churn loop read nothing');
  return {
    kib,
    calls: CHURNED_CALLS,
    pairs: CHURNED_PAIRS,
    microsPerRequest: median(diffs),
    q1: quantile(diffs, 0.25),
    q3: quantile(diffs, 0.75),
  };
}
const churnSizes = process.argv
  .slice(2)
  .map(Number)
  .filter((k) => k > 0);
const churnedRuns = churnSizes.map(churned);
await client.close();
console.log(
  JSON.stringify({
    ok: on > 0 && on < CALLS,
    calls: CALLS,
    batches: BATCHES,
    microsPerRequest: median(samples),
    bytesPerRequest,
    churned: churnedRuns,
  }),
);
process.exit(0);
