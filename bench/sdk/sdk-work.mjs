// The plugin's own work per request, in one process and without HTTP: what @rupaya/flags-fastify and
// @rupaya/flags-express do for a request (RequestFlags, default context from headers, one evaluation
// of a canary, the request recorded into its metrics window). The client has metrics on and a
// bootstrap snapshot; it sends nothing during the run (flush interval of an hour). Prints one JSON line.
import { defaultRequestContext, RequestFlags } from '@rupaya/flags-node';
import { median } from '../lib/stats.mjs';
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
await client.close();
console.log(
  JSON.stringify({
    ok: on > 0 && on < CALLS,
    calls: CALLS,
    batches: BATCHES,
    microsPerRequest: median(samples),
    bytesPerRequest,
  }),
);
process.exit(0);
