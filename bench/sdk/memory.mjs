// Client memory under traffic, in its own process (`node --expose-gc memory.mjs <url> <sdk key>
// <seconds> <users per minute>`): a streaming client with metrics on, over the 1,000-flag snapshot;
// each new user makes 5 requests evaluating 10 flags each (exposures, cohorts, variants recorded).
// Prints one JSON line with RSS/heap samples.
import { createClient } from '@rupaya/flags-node';

const [url, sdkKey, secondsArg, usersPerMinuteArg] = process.argv.slice(2);
const seconds = Number(secondsArg);
const usersPerMinute = Number(usersPerMinuteArg);
const client = createClient({ url, sdkKey, streaming: true, metrics: { enabled: true } });
const state = await client.ready({ timeoutMs: 15_000 });
if (state !== 'READY') {
  console.log(JSON.stringify({ ok: false, error: `client not ready: ${state}` }));
  process.exit(0);
}
// The flag keys, read once from the snapshot endpoint (the client has no key listing).
const snapshot = await (
  await fetch(`${url}/api/sdk/v1/snapshot`, { headers: { authorization: `Bearer ${sdkKey}` } })
).json();
const keys = snapshot.flags.map((f) => f.key);
const routes = ['/checkout', '/search', '/orders/:id', '/profile'];
let users = 0;
let evaluations = 0;
const tickMs = 100;
function traffic(n) {
  for (let u = 0; u < n; u++) {
    const userId = `user-${users++}`;
    const ctx = { userId, country: users % 3 === 0 ? 'US' : 'DE', plan: users % 5 === 0 ? 'pro' : 'free' };
    for (let r = 0; r < 5; r++) {
      const served = [];
      for (let f = 0; f < 10; f++) {
        const key = keys[(users * 7 + r * 13 + f * 101) % keys.length];
        const result = client.evaluate(key, ctx);
        evaluations++;
        if (result.cohort || result.inExperiment) {
          served.push({ flag: key, cohort: result.cohort, variant: result.variant ?? undefined });
        }
      }
      client.recordRequest({
        route: routes[r % routes.length],
        method: 'GET',
        status: 200,
        durationMs: 5 + r,
        served,
      });
    }
  }
}
const sample = () => {
  globalThis.gc?.();
  const m = process.memoryUsage();
  return { t: Math.round(performance.now() - start), users, rss: m.rss, heapUsed: m.heapUsed };
};
// Warm-up: one minute's users at once, then the baseline.
const start = performance.now();
traffic(Math.round(usersPerMinute / 6));
const samples = [sample()];
const perTick = (usersPerMinute / 60_000) * tickMs;
let carry = 0;
const end = start + seconds * 1000;
await new Promise((resolve) => {
  const timer = setInterval(() => {
    carry += perTick;
    const n = Math.floor(carry);
    carry -= n;
    traffic(n);
    if (samples.length < 200 && performance.now() - start > samples.at(-1).t + 5000) samples.push(sample());
    if (performance.now() >= end) {
      clearInterval(timer);
      resolve();
    }
  }, tickMs);
});
samples.push(sample());
await client.close();
console.log(JSON.stringify({ ok: true, keys: keys.length, users, evaluations, samples }));
process.exit(0);
